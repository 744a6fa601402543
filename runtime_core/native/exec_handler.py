"""Per-invocation exec: run a program once per invocation, the event on its stdin.

For each invocation the program is started in a new process group with the event as
JSON on stdin (or, if an argument is ``{event_file}``, in a file named by that argument),
``AWS_LAMBDA_REQUEST_ID`` and ``AWS_LAMBDA_DEADLINE_MS`` in its environment. Its stdout
is the result; each stderr line becomes a log record carrying the request id. At the
deadline (less ``DEADLINE_MARGIN_MS``), or once stdout passes the response limit, the
whole group is killed and a clear error is reported before Lambda's own timeout.
"""

from __future__ import annotations

import os

from runtime_core.invocation import current_invocation
from runtime_core.native.failures import exit_failure, timeout_failure, too_large_failure
from runtime_core.native.output import result_from
from runtime_core.native.pipes import COMPLETE, EOF, TIMEOUT, TOO_LARGE
from runtime_core.native.program import Program
from runtime_core.native.spawn import monotonic_deadline, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from runtime_core.invocation import Invocation

__all__ = ["EVENT_FILE", "ExecHandler"]

#: An argument equal to this is replaced by the path of a file holding the event; the
#: program's stdin is then empty.
EVENT_FILE = "{event_file}"


class ExecHandler(Program):
    """A Lambda handler that runs ``argv`` once per invocation.

    Use it as the handler itself (``handler = ExecHandler(["/opt/bin/tool"])``) or call it
    from a Python handler with an event of your own.
    """

    def __call__(self, event: Any, context: Any = None) -> Any:
        """Run the program on ``event`` (written as JSON; ``bytes`` are written as they are)."""
        return self.run(self.encode(event), current_invocation())

    def run(self, payload: bytes, invocation: Invocation | None) -> Any:
        """Run the program on ``payload`` within ``invocation``'s deadline; return its result."""
        return result_from(self.program, self.run_raw(payload, invocation), self.output)

    def run_raw(self, payload: bytes, invocation: Invocation | None) -> bytes:
        """Run the program and return its stdout bytes, or raise the ``NativeError`` for how it
        failed."""
        return b"".join(self._output(payload, invocation, self.limit, streaming=False))

    def stream(self, payload: bytes, invocation: Invocation | None) -> Iterator[bytes]:
        """Run the program and yield its stdout as it comes, for the streaming response path.

        Past the 6 MB of a buffered response, up to Lambda's 200 MB streamed limit. A failure
        is raised from the iterator: before the first chunk the invoker gets an ordinary
        error, after it the error travels in the stream's trailers.
        """
        from runtime_core.streaming import MAX_STREAM_BYTES

        return self._output(payload, invocation, MAX_STREAM_BYTES, streaming=True)

    def _output(
        self, payload: bytes, invocation: Invocation | None, limit: int, *, streaming: bool
    ) -> Iterator[bytes]:
        """Start the program, then yield its output: in chunks as they come when ``streaming``,
        else once, whole. Whatever happens, its process group is gone at the end."""
        env = dict(os.environ if self.env is None else self.env)
        ids: tuple[str, str | None] = ("", None)
        if invocation is not None:
            ids = (invocation.request_id, invocation.tenant_id)
            env["AWS_LAMBDA_REQUEST_ID"] = invocation.request_id
            env["AWS_LAMBDA_DEADLINE_MS"] = str(invocation.deadline_ms)
        argv, event_path = self._arguments(payload)
        deadline = monotonic_deadline(invocation)
        data = b"" if event_path else payload
        left = limit
        try:
            child = spawn(argv, env, self.logger)
            try:
                while True:
                    exchange = child.pipes.exchange(
                        data,
                        deadline,
                        left,
                        ids,
                        close_stdin=True,
                        complete=bool if streaming else None,
                        on_exit=child.kill_group,  # what it left running would hold the pipes open
                    )
                    data = b""
                    if exchange.output and exchange.reason in (COMPLETE, EOF):
                        left -= len(exchange.output)
                        yield bytes(exchange.output)
                    if exchange.reason != COMPLETE:
                        break
                if exchange.reason == EOF and child.pipes.stderr is not None:
                    # A streamed exchange stops at stdout's end: read stderr to its end too.
                    exchange = child.pipes.exchange(
                        b"", deadline, 0, ids, close_stdin=True, on_exit=child.kill_group
                    )
            finally:
                status = child.end()
                child.pipes.flush_stderr(ids)
        finally:
            if event_path:
                os.unlink(event_path)
        if exchange.reason == TIMEOUT:
            raise timeout_failure(self.program, "")
        if exchange.reason == TOO_LARGE:
            raise too_large_failure(self.program, limit, "")
        if status != 0:
            raise exit_failure(self.program, status, list(child.pipes.tail))

    def _arguments(self, payload: bytes) -> tuple[list[str], str | None]:
        if EVENT_FILE not in self.argv:
            return self.argv, None
        import tempfile

        fd, path = tempfile.mkstemp(prefix="event-", suffix=".json")
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
        return [path if arg == EVENT_FILE else arg for arg in self.argv], path
