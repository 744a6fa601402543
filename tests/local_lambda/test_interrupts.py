"""Ctrl-C and SIGTERM during ``invoke`` and ``serve``: real processes, real signals. The
environment ends at once (the handler is in a 600 s sleep), no process and no temporary
folder is left behind, and the exit status is 128 + the signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

LAMBDABOOT = str(Path(sys.executable).parent / "lambdaboot")
SLEEPER = """
import os, time

def handler(event, context):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> int:
    for _ in range(6000):  # 60 s at most, then the test fails
        if path.exists() and path.read_text():
            return int(path.read_text())
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    pytest.fail("the handler never started")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    fn = tmp_path / "fn"
    fn.mkdir()
    (fn / "app.py").write_text(SLEEPER)
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "data.txt").write_text("x")
    temp = tmp_path / "temp"
    temp.mkdir()
    return fn, layer, {**os.environ, "TMPDIR": str(temp)}


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_invoke_ends_the_environment_at_once(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path, signum: int, status: int
) -> None:
    fn, layer, env = setup
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [LAMBDABOOT, "invoke", str(fn), "--layer", str(layer), "--timeout", "900",
         "--event", json.dumps({"pidfile": str(pidfile)})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        runtime = _wait_for(pidfile, proc)
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)  # far less than the handler's 600 s
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert not _alive(runtime)
    assert list(Path(env["TMPDIR"]).iterdir()) == []  # the merged /opt and the rest removed


def test_a_second_ctrl_c_forces_it(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    fn, layer, env = setup
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [LAMBDABOOT, "invoke", str(fn), "--layer", str(layer), "--timeout", "900",
         "--event", json.dumps({"pidfile": str(pidfile)})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        runtime = _wait_for(pidfile, proc)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not _alive(runtime)


def test_sigterm_during_a_served_invocation_ends_it_and_serve(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    fn, layer, env = setup
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [LAMBDABOOT, "serve", str(fn), "--layer", str(layer), "--timeout", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("Invoke API: ", 1)[1].strip()
        body = json.dumps({"pidfile": str(pidfile)}).encode()
        client = threading.Thread(target=lambda: _post_quietly(url, body), daemon=True)
        client.start()
        runtime = _wait_for(pidfile, proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not _alive(runtime)
    assert list(Path(env["TMPDIR"]).iterdir()) == []


def _post_quietly(url: str, body: bytes) -> None:
    with contextlib.suppress(OSError):  # the server goes away mid-invocation: the point
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=120)


COUNTER = """
import os

with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w"):
    pass

def handler(event, context):
    return {}
"""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_bench_ends_it_and_leaves_no_runtime(
    tmp_path: Path, signum: int, status: int
) -> None:
    fn = tmp_path / "fn"
    fn.mkdir()
    (fn / "app.py").write_text(COUNTER)
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = subprocess.Popen(
        [LAMBDABOOT, "bench", str(fn), "--cold", "10000", "--warm", "1", "--no-profile",
         "--env", f"PID_DIR={pids}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(6000):  # until a few cold starts have run (60 s at most)
            if len(list(pids.iterdir())) >= 3:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    started = [int(p.name) for p in pids.iterdir()]
    assert started and not [pid for pid in started if _alive(pid)]


@pytest.mark.parametrize("gap_s", [0.0, 0.05, 0.2])
def test_a_second_ctrl_c_during_bench_forces_it_and_leaves_no_runtime(
    tmp_path: Path, gap_s: float
) -> None:
    """The second Ctrl-C lands while the first is ending the environment: nothing is left
    half closed (a frozen runtime), nothing hangs, nothing is printed but the exit."""
    fn = tmp_path / "fn"
    fn.mkdir()
    (fn / "app.py").write_text(COUNTER)
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = subprocess.Popen(
        [LAMBDABOOT, "bench", str(fn), "--cold", "10000", "--warm", "1", "--no-profile",
         "--quiet", "--env", f"PID_DIR={pids}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(6000):  # until some cold starts have run (60 s at most)
            if len(list(pids.iterdir())) >= 10:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap_s)  # the second lands at some moment of the first one's ending
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode in (130, -signal.SIGINT), err  # -2: once everything was ended
    assert err == ""
    started = [int(p.name) for p in pids.iterdir()]
    for _ in range(1000):  # a SIGKILLed process is gone within moments (10 s at most)
        if not [pid for pid in started if _alive(pid)]:
            break
        time.sleep(0.01)
    assert started and not [pid for pid in started if _alive(pid)]
