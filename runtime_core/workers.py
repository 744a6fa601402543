"""Process per slot: sync handlers under ``AWS_LAMBDA_MAX_CONCURRENCY=N`` (Managed Instances).

A sync handler was written for one invocation per process: module globals, the
``_X_AMZN_TRACE_ID`` variable and libraries that keep per-process state assume it. So,
as AWS's own Python runtime does there, N processes each serve one invocation at a time
on the blocking engine. Threads on the async engine are the opt-in
(``LAMBDABOOT_SYNC_THREADS=1``) for handlers known to be thread-safe.

Unlike awslambdaric (which spawns N fresh interpreters, each importing the function), the
workers are forked after the handler is loaded: init runs once, and its memory is shared
copy-on-write until a worker writes to it. The parent only supervises: if a worker ends,
the others are stopped and the parent exits with its status, so Lambda resets the
environment as it would for a crashed runtime.
"""

from __future__ import annotations

import contextlib
import os
import signal

from runtime_core.engine import blocking
from runtime_core.engine.client import RuntimeClient
from runtime_core.shutdown import exit_now, install_sigterm_blocking

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["THREADS_ENV", "serve", "wants_threads"]

THREADS_ENV = "LAMBDABOOT_SYNC_THREADS"


def wants_threads(environ: Any) -> bool:
    """True when the user asked for sync handlers on threads instead of processes;
    ``ValueError`` naming the accepted values for anything else."""
    value = environ.get(THREADS_ENV, "")
    answer = value.strip().lower()
    if answer in ("1", "true", "yes"):
        return True
    if answer in ("", "0", "false", "no"):
        return False
    raise ValueError(
        f"{THREADS_ENV} must be 1, true or yes (threads), or 0, false or no, got {value!r}"
    )


def serve(
    address: str, handler: Callable[..., Any], concurrency: int, margin: float | None = None
) -> None:
    """Fork ``concurrency`` workers serving ``handler``; return only by exiting.

    SIGTERM is forwarded from before the first fork: one that arrives in the middle of
    forking stops it and reaches every worker already started, instead of ending the parent
    and leaving those workers serving on, never told. It is blocked on this thread while
    forking so that a worker, until it has its own handling, cannot run the parent's.
    """
    children: list[int] = []
    told: set[int] = set()
    terminating: list[int] = []

    def forward(signum: int, frame: object) -> None:
        terminating.append(signum)
        for pid in children:
            if pid not in told:
                told.add(pid)
                _signal(pid, signal.SIGTERM)

    held = {signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    signal.signal(signal.SIGTERM, forward)
    for _ in range(concurrency):
        if terminating:  # (run on this thread even while blocked here, if another took it)
            break
        pid = os.fork()
        if pid == 0:  # a worker: the blocking engine, with a connection of its own
            install_sigterm_blocking()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
            blocking.serve(RuntimeClient(address), handler, margin)
            exit_now(0)  # not reached: serve returns only by raising
        children.append(pid)
        if terminating:  # it came between the fork and the line above
            forward(signal.SIGTERM, None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)  # one held back is forwarded now
    _supervise(children, terminating)


def _supervise(children: list[int], terminating: list[int]) -> None:
    """Wait for the workers. SIGTERM (the shutdown phase) is passed on and all of them are
    waited for; any other end of a worker stops the rest and exits with its status."""
    if not children:  # SIGTERM came before the first fork
        exit_now(0)
    pid, status = os.wait()
    if terminating:
        with contextlib.suppress(ChildProcessError):
            while True:
                os.wait()
        exit_now(0)
    for other in children:
        if other != pid:
            _signal(other, signal.SIGKILL)
    code = os.waitstatus_to_exitcode(status)
    exit_now(code if code > 0 else 1)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
