"""One snapshot per function, as one per published version on Lambda: init (and the
before-snapshot hooks) runs once, and every execution environment of the function after
it (each cold start, each reset after a crash or a timeout) is a copy of that snapshot
that only runs the restore path. The snapshot ends with the function: no process and no
temporary folder is left behind, also when ``lambdaboot serve`` is stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, LAMBDABOOT, RUNTIME_PYTHONS, bootstrap_env, write_function
from tests.local_lambda.test_extensions_kit import TelemetryListener, extension, make_layer
from tests.local_lambda.test_telemetry import SHIPPER

#: Init appends its pid to INIT_FILE; the handler crashes, overstays or answers.
APP = """
import os, time

INIT_PID = os.getpid()
with open(os.environ["INIT_FILE"], "a") as out:
    out.write(f"{INIT_PID}\\n")

def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    if event.get("sleep"):
        time.sleep(60)
    return {"pid": os.getpid(), "init_pid": INIT_PID, "parent": os.getppid()}
"""


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaps counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _snapshots(folder: Path) -> list[Path]:
    return list(folder.glob("lambdaboot-snapshot-*"))


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the local Lambda makes its temporary folders during the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", os.fspath(folder))
    yield folder


@pytest.mark.parametrize("kind", ["lambdaboot", "awslambdaric"])
def test_init_runs_once_for_every_environment_of_the_function(
    function_dir: Path, tmp_path: Path, temp_folder: Path, kind: str
) -> None:
    write_function(function_dir, {"app.py": APP})
    python = RUNTIME_PYTHONS["3.12"]
    if kind == "awslambdaric":  # AWS's own runtime client, the reference
        command, env = [os.fspath(python), "-m", "awslambdaric", "app.handler"], {}
    else:
        command, env = [os.fspath(BOOTSTRAP)], bootstrap_env(python)
    env["INIT_FILE"] = os.fspath(tmp_path / "inits")
    # (a timeout the answering invocations cannot reach on a loaded machine either)
    config = FunctionConfig(
        command=command, task_root=function_dir, snap_start=True, timeout=3.0, env=env
    )
    with LocalLambda(config) as lam:
        first = lam.invoke({})
        assert first.function_error is None, lam.output
        warm = lam.invoke({})
        crashed = lam.invoke({"crash": True})  # the environment ends: a reset
        second = lam.invoke({})
        overstayed = lam.invoke({"sleep": True})  # a timeout: a reset
        third = lam.invoke({})
        assert len(_snapshots(temp_folder)) == 1  # the snapshot is there while it serves
        holder = second.json()["parent"]  # the process that forks the copies
        assert third.json()["parent"] == holder and not _gone(holder)
        output = lam.output
    assert crashed.error_type == "Runtime.ExitError", output
    assert overstayed.error_type == "Sandbox.Timedout", output
    init_pid = first.json()["init_pid"]
    assert (tmp_path / "inits").read_text().split() == [str(init_pid)]  # init ran once
    pids = [result.json()["pid"] for result in (first, second, third)]
    assert len(set(pids)) == 3 and init_pid not in pids  # three environments, three copies
    assert warm.json()["pid"] == pids[0]
    assert all(result.json()["init_pid"] == init_pid for result in (second, third))
    reports = {
        line.split("\t", 1)[0].split()[-1]: line
        for line in output.splitlines()
        if line.startswith("REPORT RequestId: ")
    }
    for cold in (first, second, third):  # each environment's first REPORT: the restore
        assert "\tRestore Duration: " in reports[cold.request_id], reports[cold.request_id]
    assert not [line for line in reports.values() if "Init Duration" in line]
    lines = output.splitlines()
    assert sum(line.startswith("INIT_START") for line in lines) == 1
    assert sum(line.startswith("RESTORE_START") for line in lines) >= 3
    # The function is closed: the snapshot (init's process), the copies, the folder are gone.
    assert all(_gone(pid) for pid in (init_pid, holder, *pids))
    assert _snapshots(temp_folder) == []


def test_an_environment_made_from_the_snapshot_has_its_own_extensions(
    function_dir: Path, tmp_path: Path
) -> None:
    """Extensions are not in the fork: a restored environment starts its own, which
    subscribe to the Telemetry API and see that environment's restore."""
    listener = TelemetryListener()
    try:
        write_function(function_dir, {"app.py": APP})
        layer = make_layer(tmp_path / "layer.zip", {"extensions/shipper": extension(SHIPPER)})
        env = {**bootstrap_env(RUNTIME_PYTHONS["3.12"]), "PORT": str(listener.port)}
        env |= {"RECORD": os.fspath(tmp_path / "record.jsonl"), "INIT_FILE": "/dev/null"}
        config = FunctionConfig(
            command=[os.fspath(BOOTSTRAP)],
            task_root=function_dir,
            layers=[layer],
            env=env,
            snap_start=True,
        )
        with LocalLambda(config) as lam:
            lam.invoke({})
            lam.invoke({"crash": True})
            restored = lam.invoke({})
            assert restored.function_error is None, lam.output
            listener.wait_for("platform.report", requestId=restored.request_id)
        types = [item["type"] for item in listener.records if item["type"] != "extension"]
        second = types[types.index("platform.report") + 1 :]  # after the first environment's
        second = second[second.index("platform.restoreStart") :]
        assert second[:4] == [
            "platform.restoreStart",
            "platform.telemetrySubscription",  # its own shipper, started in its restore
            "platform.restoreRuntimeDone",
            "platform.restoreReport",
        ], types
        assert types.count("platform.initStart") == 1
    finally:
        listener.close()


def test_serve_ends_the_snapshot_on_sigterm(function_dir: Path, tmp_path: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    folder = tmp_path / "tmp"
    folder.mkdir()
    ric = f"{RUNTIME_PYTHONS['3.12']} -m awslambdaric app.handler"
    env = {**os.environ, "TMPDIR": os.fspath(folder)}
    proc = subprocess.Popen(
        [os.fspath(LAMBDABOOT), "serve", os.fspath(function_dir), "--snap-start",
         "--runtime-cmd", ric, "--env", f"INIT_FILE={tmp_path / 'inits'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("Invoke API: ", 1)[1].strip()

        def invoke(event: object) -> dict[str, int]:
            ask = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
            with urllib.request.urlopen(ask, timeout=60) as answer:
                return dict(json.loads(answer.read()))

        first = invoke({})
        invoke({"crash": True})  # that environment ends; the next is another copy
        second = invoke({})
        assert len(_snapshots(folder)) == 1 and not _gone(second["parent"])
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert first["init_pid"] == second["init_pid"] and first["pid"] != second["pid"]
    assert (tmp_path / "inits").read_text().split() == [str(first["init_pid"])]
    ended = (first["init_pid"], first["pid"], second["pid"], second["parent"])
    assert all(_gone(pid) for pid in ended)
    assert _snapshots(folder) == []
