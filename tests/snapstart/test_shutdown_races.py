"""Races between the shutdown phase's SIGTERM and the threads of a SnapStart environment.

In the first environment the runtime process the local Lambda started is the copy's
stand-in: it gets the SIGTERM and passes it on to the copy. A signal sent to a process
(``kill``) goes to whichever of its threads can take it first, and Linux skips a thread
that the freezer has just thawed but that has not run yet. Python runs a signal's handler
on the main thread only, and only once that thread is back in the interpreter: when the
kernel gives the signal to another thread while the main thread sleeps in a system call
the signal does not interrupt, the handler runs late or never, and the environment is
SIGKILLed at the end of its shutdown budget with its hooks not run.

On a loaded machine a thaw can take longer than the local Lambda's wait for it. The tests
below make the bad interleaving happen every time:

- the stand-in has a second thread of its own (runtime_core's shutdown-extension poller,
  started during init); a fork hook blocks SIGTERM in the stand-in's main thread, so the
  kernel gives the signal to the poller, as it does while that main thread is just thawed;
- the copy has a second thread (started in an after-restore hook, where AWS says to start
  threads); its main thread alone is kept frozen in a freezer group of its own until the
  signal is pending for it, as a thaw that comes late would keep it;
- the same in a later environment, whose copy the local Lambda signals itself: its main
  thread is kept frozen for longer than the SIGTERM's budget.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, write_function

PYTHONS = pytest.mark.parametrize("python", ["3.12", "3.13"], ids=lambda v: f"py{v}")
FREEZER = Path("/sys/fs/cgroup/freezer")
#: The shutdown budget for these tests: generous for a delivery that works, and shorter
#: than the time a held thread waits for a signal that is not coming (``RELEASE_S``).
BUDGET_MS = 2000
RELEASE_S = 4.0

#: on_shutdown writes the pid it ran in; ``PRELUDE`` is the test's own init code.
APP = """
import os, signal, threading, time
from runtime_core import on_shutdown
from snapshot_restore_py import register_after_restore

{prelude}

@on_shutdown
def bye():
    with open(os.environ["DONE_FILE"], "w") as out:
        out.write(str(os.getpid()))

def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    return os.getpid()
"""

#: In the process that forks (the stand-in, and the holder), SIGTERM is blocked in the main
#: thread after each fork; each child (the holder, a copy) unblocks it at once.
STAND_IN_POLLER_TAKES_IT = """
os.register_at_fork(
    after_in_parent=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}),
    after_in_child=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM}),
)
"""

#: The copy has a second thread, as a function with a background flusher has.
COPY_HAS_A_THREAD = """
@register_after_restore
def start_a_thread():
    threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
"""


def _lambda(
    function_dir: Path, tmp_path: Path, python: str, prelude: str, budget_ms: int = BUDGET_MS
) -> LocalLambda:
    write_function(function_dir, {"app.py": APP.format(prelude=prelude)})
    env = {**bootstrap_env(RUNTIME_PYTHONS[python]), "DONE_FILE": os.fspath(tmp_path / "done")}
    config = FunctionConfig(
        command=[os.fspath(BOOTSTRAP)],
        task_root=function_dir,
        snap_start=True,
        shutdown_internal_ms=budget_ms,
        env=env,
    )
    return LocalLambda(config)


@PYTHONS
def test_a_sigterm_taken_by_another_thread_of_the_stand_in_still_reaches_the_copy(
    function_dir: Path, tmp_path: Path, python: str
) -> None:
    with _lambda(function_dir, tmp_path, python, STAND_IN_POLLER_TAKES_IT) as lam:
        pid = lam.invoke({}).json()
        ended = lam.shutdown()
    assert ended.signals == ["SIGTERM"], lam.output
    assert ended.exit_status == 0
    assert (tmp_path / "done").read_text() == str(pid)


class HeldMainThread:
    """The main thread of ``pid`` alone in a frozen freezer group under its environment's,
    until :meth:`release_once_pending` moves it back (and so thaws it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        (line,) = [
            line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
            if line.split(":")[1] == "freezer"
        ]  # fmt: skip
        self.group = FREEZER / line.split(":", 2)[2].lstrip("/")
        assert self.group != FREEZER, "the environment has no freezer group"
        self.held = self.group / "held-main-thread"
        self.held.mkdir()
        (self.held / "freezer.state").write_text("FROZEN")
        (self.held / "tasks").write_text(str(pid))  # a thread id: the main thread only

    def pending(self, signum: int) -> bool:
        """Whether ``signum`` waits for the main thread itself (a thread-directed signal)."""
        status = Path(f"/proc/{self.pid}/task/{self.pid}/status").read_text()
        (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigPnd:")]
        return bool(int(mask, 16) & (1 << (signum - 1)))

    def release_once_pending(self, signum: int, timeout_s: float) -> bool:
        """Wait until ``signum`` is pending for the held thread (at most ``timeout_s``), then
        release it; True if it was pending."""
        until = time.monotonic() + timeout_s
        seen = False
        while time.monotonic() < until and not seen:
            seen = self.pending(signum)
            time.sleep(0.002)
        self.release()
        return seen

    def release(self) -> None:
        (self.group / "tasks").write_text(str(self.pid))
        self.held.rmdir()


@PYTHONS
def test_a_sigterm_reaches_the_main_thread_of_a_copy_thawed_late(
    function_dir: Path, tmp_path: Path, python: str
) -> None:
    if not os.access(FREEZER, os.W_OK):
        pytest.skip("needs the cgroup v1 freezer (root), which holds one thread frozen")
    with _lambda(function_dir, tmp_path, python, COPY_HAS_A_THREAD) as lam:
        pid = lam.invoke({}).json()
        assert len(os.listdir(f"/proc/{pid}/task")) == 2  # the copy has its second thread
        held = HeldMainThread(pid)
        seen: list[bool] = []
        release = threading.Thread(
            target=lambda: seen.append(held.release_once_pending(signal.SIGTERM, RELEASE_S))
        )
        release.start()
        try:
            ended = lam.shutdown()
        finally:
            release.join()
    assert ended.signals == ["SIGTERM"], (lam.output, "pending for the main thread:", seen)
    assert ended.exit_status == 0
    assert (tmp_path / "done").read_text() == str(pid)
    assert seen == [True]  # (released by the signal, not after RELEASE_S)


@PYTHONS
def test_the_local_lambda_signals_a_restored_runtime_once_its_main_thread_has_run(
    function_dir: Path, tmp_path: Path, python: str
) -> None:
    """A later environment's runtime is a copy the holder forked, and the local Lambda
    signals it itself: after the thaw it waits until the main thread has run (released
    here ``HOLD_S`` into the shutdown, later than the SIGKILL would come after a SIGTERM
    sent at once)."""
    if not os.access(FREEZER, os.W_OK):
        pytest.skip("needs the cgroup v1 freezer (root), which holds one thread frozen")
    hold_s, budget_ms = 1.0, 600  # (the local Lambda waits up to 2 s)
    with _lambda(function_dir, tmp_path, python, COPY_HAS_A_THREAD, budget_ms) as lam:
        lam.invoke({"crash": True})  # the first environment ends: the next is a copy
        pid = lam.invoke({}).json()
        assert len(os.listdir(f"/proc/{pid}/task")) == 2
        held = HeldMainThread(pid)
        release = threading.Timer(hold_s, held.release)
        release.start()
        try:
            ended = lam.shutdown()
        finally:
            release.join()
    assert ended.signals == ["SIGTERM"], lam.output
    assert ended.exit_status == 0
    assert (tmp_path / "done").read_text() == str(pid)
