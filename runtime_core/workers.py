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
from runtime_core.shutdown import exit_now, install_sigterm_blocking, registered_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["THREADS_ENV", "serve", "wants_threads"]

THREADS_ENV = "LAMBDABOOT_SYNC_THREADS"


def wants_threads(environ: Any) -> bool:
    """True when the user asked for sync handlers on threads instead of processes."""
    return environ.get(THREADS_ENV, "").strip().lower() in ("1", "true", "yes")


def serve(address: str, handler: Callable[..., Any], concurrency: int) -> None:
    """Fork ``concurrency`` workers serving ``handler``; return only by exiting."""
    children: list[int] = []
    for _ in range(concurrency):
        pid = os.fork()
        if pid == 0:  # a worker: the blocking engine, with a connection of its own
            if registered_hooks():
                install_sigterm_blocking()
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
            blocking.serve(RuntimeClient(address), handler)
            exit_now(0)  # not reached: serve returns only by raising
        children.append(pid)
    _supervise(children)


def _supervise(children: list[int]) -> None:
    """Wait for the workers. SIGTERM (the shutdown phase) is passed on and all of them are
    waited for; any other end of a worker stops the rest and exits with its status."""
    terminating = []

    def forward(signum: int, frame: object) -> None:
        terminating.append(signum)
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
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
