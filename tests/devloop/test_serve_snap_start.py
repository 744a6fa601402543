"""``lambdaboot serve --snap-start`` (or a template's ``SnapStart``) scaling out: every
environment restores from one snapshot.

On Lambda all execution environments of a published SnapStart version resume one
snapshot: init and the before-snapshot hooks run once per version, and each environment
runs the after-restore hooks in its own copy. The dev loop serves concurrent invocations
in environments of their own; here three requests are held in their handlers at the same
time (so three environments exist for sure, whatever the machine's speed), and the hooks
append their pid to files. Then SIGTERM (or Ctrl-C): no process, temporary folder or cgroup of the
function is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOOTSTRAP, LAMBDABOOT, RUNTIME_PYTHONS, write_function
from tests.snapstart.test_one_snapshot import _gone, _snapshots

APP = """
import os, pathlib, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT_PID = os.getpid()

def _append(variable):
    with open(os.environ[variable], "a") as out:
        out.write(f"{os.getpid()}\\n")

@register_before_snapshot
def before():
    _append("BEFORE_FILE")

@register_after_restore
def after():
    _append("AFTER_FILE")

def handler(event, context):
    gate = pathlib.Path(os.environ["GATE"])
    (gate / f"in-{os.getpid()}").touch()
    while not (gate / "release").exists():  # held until every request is in a handler
        time.sleep(0.01)
    return {"pid": os.getpid(), "init_pid": INIT_PID, "parent": os.getppid()}
"""
ENVIRONMENTS = 3
TEMPLATE = """
Resources:
  Snap:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python3.12
      Timeout: 120
      SnapStart: {ApplyOn: PublishedVersions}
"""


def _cgroups(pid: int) -> list[Path]:
    """The lambdaboot cgroups (freezer, memory) ``pid`` is in."""
    found = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        name = path.rsplit("/", 1)[-1]
        for controller in controllers.split(","):
            if controller in ("freezer", "memory") and name.startswith("lambdaboot-"):
                found.append(Path("/sys/fs/cgroup", controller, name))
    return found


def _wait_for(condition: Any, what: str, proc: subprocess.Popen[str], console: Path) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"{what} never happened; console:\n{console.read_text()}")
        time.sleep(0.02)


def _invoke_url(proc: subprocess.Popen[str], console: Path) -> str:
    """The function's Invoke API URL, from the first line ``serve`` prints."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "Invoke API: " in line, console.read_text()
    return line.split()[2] + "/2015-03-31/functions/Snap/invocations"


def _serve(function_dir: Path, tmp_path: Path, kind: str, source: str) -> subprocess.Popen[str]:
    """``lambdaboot serve`` of APP, its gate, hook files and console under ``tmp_path``."""
    write_function(function_dir, {"app.py": APP, "template.yaml": TEMPLATE})
    gate, folder = tmp_path / "gate", tmp_path / "tmp"
    gate.mkdir()
    folder.mkdir()
    before, after = tmp_path / "before", tmp_path / "after"
    python = RUNTIME_PYTHONS["3.12"]
    if kind == "awslambdaric":
        runtime = ["--runtime-cmd", f"{python} -m awslambdaric app.handler"]
    else:
        runtime = ["--runtime-cmd", os.fspath(BOOTSTRAP), "--env", f"LAMBDABOOT_PYTHON={python}"]
    if source == "--template":
        function = ["--template", os.fspath(function_dir / "template.yaml")]
    else:
        function = [os.fspath(function_dir), "--snap-start", "--name", "Snap", "--timeout", "120"]
    with (tmp_path / "console.txt").open("w") as err:
        return subprocess.Popen(
            [os.fspath(LAMBDABOOT), "serve", *function,
             "--max-environments", str(ENVIRONMENTS), *runtime,
             "--env", f"GATE={gate}", "--env", f"BEFORE_FILE={before}",
             "--env", f"AFTER_FILE={after}"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "TMPDIR": os.fspath(folder)},
        )  # fmt: skip


def _held(
    invoke: Any, gate: Path, proc: subprocess.Popen[str], console: Path
) -> list[threading.Thread]:
    """ENVIRONMENTS invocations started at once, returned once each is in its handler."""
    callers = [threading.Thread(target=invoke) for _ in range(ENVIRONMENTS)]
    for caller in callers:
        caller.start()
    _wait_for(
        lambda: len(list(gate.glob("in-*"))) == ENVIRONMENTS,
        f"{ENVIRONMENTS} invocations in their handlers at once",
        proc,
        console,
    )
    return callers


@pytest.mark.parametrize(
    ("kind", "stop", "source"),
    [
        ("lambdaboot", signal.SIGTERM, "--snap-start"),
        ("awslambdaric", signal.SIGTERM, "--snap-start"),  # AWS's own client, the reference
        ("lambdaboot", signal.SIGINT, "--snap-start"),  # Ctrl-C
        ("lambdaboot", signal.SIGTERM, "--template"),  # the template's SnapStart property
    ],
)
def test_concurrent_environments_restore_from_one_snapshot(
    function_dir: Path, tmp_path: Path, kind: str, stop: signal.Signals, source: str
) -> None:
    gate, folder, console = tmp_path / "gate", tmp_path / "tmp", tmp_path / "console.txt"
    before, after = tmp_path / "before", tmp_path / "after"
    proc = _serve(function_dir, tmp_path, kind, source)
    answers: list[tuple[str, dict[str, int]]] = []
    versions: list[str] = []  # X-Amz-Executed-Version: a SnapStart function runs as version 1
    try:
        url = _invoke_url(proc, console)

        def invoke() -> None:
            ask = urllib.request.Request(url, data=b"{}", method="POST")
            with urllib.request.urlopen(ask, timeout=120) as answer:
                label = answer.headers["X-Lambdaboot-Environment"]
                versions.append(answer.headers["X-Amz-Executed-Version"])
                answers.append((label, json.loads(answer.read())))

        callers = _held(invoke, gate, proc, console)
        (gate / "release").touch()
        for caller in callers:
            caller.join(timeout=120)
        assert len(answers) == ENVIRONMENTS, console.read_text()
        _wait_for(  # every invocation over (its REPORT), as a user sees before Ctrl-C
            lambda: console.read_text().count(" REPORT RequestId: ") == ENVIRONMENTS,
            f"{ENVIRONMENTS} REPORT lines",
            proc,
            console,
        )
        results = [result for _, result in answers]
        pids = [result["pid"] for result in results]
        # What must be gone once serve has stopped: taken while it serves.
        assert len(_snapshots(folder)) == 1
        groups = [group for pid in pids for group in _cgroups(pid)]
        assert all(group.exists() for group in groups)
        holders = {result["parent"] for result in results} - {results[0]["init_pid"]}
        proc.send_signal(stop)
        status = proc.wait(timeout=60)
    finally:
        (gate / "release").touch()
        proc.kill()
        proc.wait()
    log = console.read_text()
    assert status == 128 + stop, log
    assert sorted(label for label, _ in answers) == [f"Snap#{n}" for n in range(1, 4)], log
    init_pid = results[0]["init_pid"]
    assert all(result["init_pid"] == init_pid for result in results)  # one init...
    assert before.read_text().split() == [str(init_pid)], log  # ...and its hooks, once
    assert len(set(pids)) == ENVIRONMENTS and init_pid not in pids  # a copy each
    assert sorted(after.read_text().split()) == sorted(map(str, pids)), log  # restored each
    assert len(holders) == 1  # the later copies are the one holder's forks
    lines = log.splitlines()
    assert not [line for line in lines if line.count("[Snap#") > 1], log  # one line each
    assert sum(" INIT_START " in line for line in lines) == 1, log
    assert versions == ["1"] * ENVIRONMENTS
    starts = [line for line in lines if " START RequestId: " in line]
    assert len(starts) == ENVIRONMENTS and all(line.endswith(" Version: 1") for line in starts)
    reports = [line for line in lines if " REPORT RequestId: " in line]
    assert len(reports) == ENVIRONMENTS, log
    for report in reports:  # each environment's cold start: a restore, no init
        assert "\tRestore Duration: " in report and "Init Duration" not in report, report
    assert sum(" RESTORE_START " in line for line in lines) == ENVIRONMENTS, log
    # Nothing of the function is left: processes, the snapshot's folder, the cgroups.
    assert all(_gone(pid) for pid in (init_pid, *holders, *pids))
    assert _snapshots(folder) == []
    assert groups and not [group for group in groups if group.exists()]


def test_ctrl_c_while_the_copies_run_leaves_nothing_behind(
    function_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-C while every environment is in the middle of an invocation: the invocations
    end, and so do the copies, the snapshot's holder and init's process, the folder and
    the cgroups."""
    gate, folder, console = tmp_path / "gate", tmp_path / "tmp", tmp_path / "console.txt"
    proc = _serve(function_dir, tmp_path, "lambdaboot", "--snap-start")
    try:
        url = _invoke_url(proc, console)

        def invoke() -> None:
            ask = urllib.request.Request(url, data=b"{}", method="POST")
            with contextlib.suppress(OSError):  # ended by the Ctrl-C, one way or another
                urllib.request.urlopen(ask, timeout=120).read()

        callers = _held(invoke, gate, proc, console)
        pids = [int(path.name.split("-")[1]) for path in gate.glob("in-*")]
        parents = {int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                   for pid in pids}  # fmt: skip
        groups = [group for pid in pids for group in _cgroups(pid)]
        assert len(_snapshots(folder)) == 1 and all(group.exists() for group in groups)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=60)
        for caller in callers:
            caller.join(timeout=60)
    finally:
        (gate / "release").touch()
        proc.kill()
        proc.wait()
    log = console.read_text()
    assert status == 128 + signal.SIGINT, log
    init_pid = int((tmp_path / "before").read_text())
    assert init_pid in parents and len(parents) == 2  # the first copy's, the holder
    assert all(_gone(pid) for pid in (init_pid, *parents, *pids)), log
    assert _snapshots(folder) == []
    assert groups and not [group for group in groups if group.exists()]
