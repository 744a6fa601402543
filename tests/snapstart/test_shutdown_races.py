"""Races between the shutdown phase's SIGTERM and the threads of a SnapStart environment.

In the first environment the runtime process the local Lambda started is the copy's
stand-in: it gets the SIGTERM and passes it on to the copy. A signal sent to a process
(``kill``) goes to whichever of its threads can take it first, and Linux skips a thread
that the freezer has just thawed but that has not run yet. Python runs a signal's handler
on the main thread only, and only once that thread is back in the interpreter: when the
kernel gives the signal to another thread while the main thread sleeps in a system call
the signal does not interrupt, the handler runs late or never, and the environment is
SIGKILLed at the end of its shutdown budget with its hooks not run.

On a loaded machine a thaw can take longer than the local Lambda's wait for it. The test
below makes the bad interleaving happen every time: the stand-in has a second thread of
its own (runtime_core's shutdown-extension poller, started during init); a fork hook
blocks SIGTERM in the stand-in's main thread, so the kernel gives the signal to the
poller, as it does while that main thread is just thawed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, write_function

PYTHONS = pytest.mark.parametrize("python", ["3.12", "3.13"], ids=lambda v: f"py{v}")
#: The shutdown budget for these tests: generous, as what they check is the delivery.
BUDGET_MS = 5000

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


def _lambda(function_dir: Path, tmp_path: Path, python: str, prelude: str) -> LocalLambda:
    write_function(function_dir, {"app.py": APP.format(prelude=prelude)})
    env = {**bootstrap_env(RUNTIME_PYTHONS[python]), "DONE_FILE": os.fspath(tmp_path / "done")}
    config = FunctionConfig(
        command=[os.fspath(BOOTSTRAP)],
        task_root=function_dir,
        snap_start=True,
        shutdown_internal_ms=BUDGET_MS,
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
