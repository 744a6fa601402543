"""Persistent co-process: one long-running program serves every invocation, one at a time.

The framing is one JSON line each way (documented in ``docs/native.md``):

- lambdaboot writes the event as one line of compact JSON (UTF-8, no newline inside,
  ``\\n`` at the end) on the program's stdin;
- the program answers with one line on stdout: the result as JSON (or, with
  ``output="bytes"``, any bytes without a newline), ended by ``\\n``, and flushes.

stderr lines become log records carrying the request id, as for per-invocation exec. The
program is started at init (``start()``), and again before the next request whenever it
has died or been killed (at the deadline, after output past the response limit, or after
a reply that broke the framing). It should exit when its stdin closes: that is how it
learns the runtime has gone.
"""

from __future__ import annotations

import os
import threading

from runtime_core.invocation import current_invocation
from runtime_core.logs import runtime_log
from runtime_core.native.failures import (
    NativeBadOutput,
    exit_failure,
    timeout_failure,
    too_large_failure,
)
from runtime_core.native.output import result_from
from runtime_core.native.pipes import COMPLETE, TIMEOUT, TOO_LARGE
from runtime_core.native.program import Program
from runtime_core.native.spawn import monotonic_deadline, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from runtime_core.invocation import Invocation
    from runtime_core.native.spawn import Child

__all__ = ["CoProcess"]

#: How long a program that closed stdout gets to finish writing stderr before it is killed.
_DRAIN_SECONDS = 1.0


def _has_line(output: bytearray) -> bool:
    return b"\n" in output


class CoProcess(Program):
    """A Lambda handler served by one persistent program speaking one JSON line each way.

    Create it at module level (init) and call ``start()`` there, so that a program that
    cannot start fails the init; use it as the handler, or call it from a Python handler.
    """

    def __init__(self, argv: Sequence[str], **options: Any) -> None:
        """``options`` are ``Program``'s: ``output``, ``env``, ``limit``."""
        super().__init__(argv, **options)
        #: How many times the program has been started (1 after ``start()``).
        self.starts = 0
        self._child: Child | None = None
        # One request at a time, also when the event-loop engine runs sync handlers on threads.
        self._lock = threading.Lock()
        # The process whose program this is: a worker forked after init (one process per
        # slot under AWS_LAMBDA_MAX_CONCURRENCY) must not share the parent's pipes.
        self._owner = os.getpid()

    @property
    def pid(self) -> int | None:
        """The running program's process id, or None when none is running."""
        return self._child.popen.pid if self._child is not None else None

    def start(self) -> None:
        """Start the program now (it is otherwise started by the first request)."""
        with self._lock:
            self._ensure_started()

    def close(self) -> None:
        """Stop the program (and everything it started)."""
        with self._lock:
            self._stop()

    def __call__(self, event: Any, context: Any = None) -> Any:
        """Send ``event`` (as one JSON line) and return the program's answer."""
        return self.run(self.encode(event), current_invocation())

    def run(self, payload: bytes, invocation: Invocation | None) -> Any:
        """Send ``payload`` (JSON) within ``invocation``'s deadline and return the parsed answer."""
        answer = self.run_raw(payload, invocation)
        try:
            return result_from(self.program, answer, self.output)
        except NativeBadOutput:
            # It may be out of step with the framing (a stray line): start afresh.
            self.close()
            raise

    def run_raw(self, payload: bytes, invocation: Invocation | None) -> bytes:
        """One request: the answer line's bytes (without ``\\n``), or the ``NativeError`` for
        the failure."""
        # A newline in valid JSON can only be whitespace between tokens (inside strings it
        # is escaped), so replacing it keeps the value and makes the request one line.
        line = payload.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"
        ids: tuple[str, str | None] = ("", None)
        if invocation is not None:
            ids = (invocation.request_id, invocation.tenant_id)
        deadline = monotonic_deadline(invocation)
        with self._lock:
            child = self._ensure_started()
            exchange = child.pipes.exchange(
                line,
                deadline,
                self.limit + 1,
                ids,
                close_stdin=False,
                complete=_has_line,
            )
            if exchange.reason == COMPLETE:
                answer, _newline, extra = bytes(exchange.output).partition(b"\n")
                if not extra:
                    return answer
                self._stop()
                raise NativeBadOutput(
                    self.program,
                    f"{self.program} wrote more than one line for one request; the framing is one "
                    "line per request, so it was restarted",
                )
            if exchange.reason in (TIMEOUT, TOO_LARGE):
                self._stop()
                what_next = "; it will be started again for the next request"
                if exchange.reason == TIMEOUT:
                    raise timeout_failure(self.program, what_next)
                raise too_large_failure(self.program, self.limit, what_next)
            # EOF: it closed stdout, which in practice means it died.
            status = self._stop(ids, drain=True, deadline=deadline)
            raise exit_failure(self.program, status, list(child.pipes.tail))

    def _ensure_started(self) -> Child:
        if self._owner != os.getpid():
            self._leave_to_parent()
        child = self._child
        if child is not None and child.popen.poll() is not None:
            runtime_log(
                "WARN",
                f"{self.program} had exited (status {child.popen.returncode}); starting it again",
            )
            self._stop()
            child = None
        if child is None:
            child = spawn(self.argv, self.env, self.logger)
            self._child = child
            self.starts += 1
        return child

    def _leave_to_parent(self) -> None:
        """In a forked worker: drop the copies of the parent's pipes (the parent's program is
        its own to end) so that this worker starts a program of its own."""
        self._owner = os.getpid()
        child, self._child = self._child, None
        if child is not None:
            child.pipes.close()
            child.popen.returncode = 0  # not this process's child: never wait for it here
        self.starts = 0

    def _stop(
        self,
        ids: tuple[str, str | None] = ("", None),
        *,
        drain: bool = False,
        deadline: float | None = None,
    ) -> int:
        """Kill the program's group and reap it. With ``drain``, first read its last stderr
        lines (it has closed stdout and is ending) for the error message: for at most
        ``_DRAIN_SECONDS``, and not past the invocation's ``deadline``."""
        child, self._child = self._child, None
        if child is None:
            return 0
        if drain:
            import time

            until = time.monotonic() + _DRAIN_SECONDS
            if deadline is not None:
                until = min(until, deadline)
            child.pipes.exchange(b"", until, 0, ids, close_stdin=True, on_exit=child.kill_group)
        status = child.end()
        child.pipes.flush_stderr(ids)
        return status
