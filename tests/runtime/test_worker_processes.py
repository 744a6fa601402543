"""Process-per-slot workers (a sync handler under ``AWS_LAMBDA_MAX_CONCURRENCY``): the
shutdown signal reaches every worker however early it comes (one during the forking
stops it, and each worker already started runs its hooks), and workers do not hold on
to the parent's internal-extension connection."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

HOOKED = """
    import os, time
    from runtime_core import on_shutdown

    MARKS = os.environ["MARK_DIR"]

    @on_shutdown
    def note_shutdown():
        open(os.path.join(MARKS, f"hook-{os.getpid()}"), "w").close()

    def _slow_fork():  # forking that takes a while, as with a large heap
        open(os.path.join(MARKS, "forking"), "a").close()
        time.sleep(0.3)

    def _started():
        open(os.path.join(MARKS, f"worker-{os.getpid()}"), "w").close()

    os.register_at_fork(before=_slow_fork, after_in_child=_started)

    def _link(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the directory listing's own descriptor, closed since
            return ""

    def handler(event, context):
        sockets = [fd for fd in os.listdir("/proc/self/fd") if _link(fd).startswith("socket:")]
        return {"pid": os.getpid(), "sockets": len(sockets)}
"""


def test_sigterm_while_forking_reaches_every_worker(
    api: FakeRuntimeApi, start_runtime: Start, tmp_path: Path
) -> None:
    n = 3
    runtime = start_runtime(
        {"app.py": HOOKED}, env={"AWS_LAMBDA_MAX_CONCURRENCY": str(n), "MARK_DIR": str(tmp_path)}
    )
    for _ in range(500):  # the first fork has begun; n of them take ~n x 0.3 s
        if (tmp_path / "forking").exists():
            break
        time.sleep(0.01)
    os.kill(runtime.process.pid, signal.SIGTERM)
    assert runtime.wait(timeout=20) == 0  # the parent waited for its workers, then exited 0
    workers = {path.name.split("-")[1] for path in tmp_path.glob("worker-*")}
    hooked = {path.name.split("-")[1] for path in tmp_path.glob("hook-*")}
    assert workers and hooked == workers, runtime.output()  # every worker started was told


def test_workers_do_not_inherit_the_extension_connection(
    api: FakeRuntimeApi, start_runtime: Start, tmp_path: Path
) -> None:
    start_runtime(
        {"app.py": HOOKED}, env={"AWS_LAMBDA_MAX_CONCURRENCY": "2", "MARK_DIR": str(tmp_path)}
    )
    api.wait_for("/event/next")  # the parent's internal extension is registered and polling
    api.invoke({})
    [response] = api.wait_for("/response")
    assert response.json()["sockets"] == 1  # the worker's own Runtime API connection only
