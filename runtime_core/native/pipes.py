"""Moving bytes to and from a child's stdin, stdout and stderr, against a deadline.

Both ways of running a program (once per invocation, or as a co-process) need the same
thing: write a request while reading the reply (a large event can fill the stdin pipe
before the program has read it), turn stderr into log records as lines arrive (a program
that fills the stderr pipe would otherwise block), notice the program's exit, and stop at
the deadline or once the reply grows past the response limit. One ``selectors`` loop over
the pipes does all of it on the calling thread: no helper threads to leak.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections import deque

from runtime_core.logs import min_level, render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Exchange", "Pipes"]

_READ_SIZE = 65536
#: How many of the program's last stderr lines an error message quotes.
TAIL_LINES = 20
_INFO = render.LEVELS["INFO"]

# Why an exchange ended.
COMPLETE = "complete"  # the reply is complete (the co-process wrote its line)
EOF = "eof"  # the program closed stdout and stderr (or exited and was reaped)
TIMEOUT = "timeout"
TOO_LARGE = "too_large"


class Exchange:
    """The result of one exchange: why it ended, and the program's stdout bytes."""

    __slots__ = ("output", "reason")

    def __init__(self, reason: str, output: bytearray) -> None:
        self.reason = reason
        self.output = output


class Pipes:
    """A running child's three pipes, and where its stderr lines go.

    ``logger`` names the program in log records; each stderr line is logged with the
    request id given to ``exchange``. The last ``TAIL_LINES`` lines are kept for error
    messages (``tail``).
    """

    def __init__(
        self, stdin: int, stdout: int, stderr: int, logger: str, exit_fd: int | None
    ) -> None:
        for fd in (stdin, stdout, stderr):
            os.set_blocking(fd, False)
        self.stdin: int | None = stdin
        self.stdout: int | None = stdout
        self.stderr: int | None = stderr
        #: A pidfd: readable once the program has exited (None where the kernel has none).
        self.exit_fd = exit_fd
        self.logger = logger
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = bytearray()
        self._selector = selectors.DefaultSelector()
        # Input not yet written: an exchange that ends early (a streamed chunk is ready)
        # leaves the rest for the next exchange.
        self._pending = memoryview(b"")
        self._close_when_written = False

    def exchange(
        self,
        data: bytes,
        deadline: float | None,
        limit: int,
        ids: tuple[str, str | None],
        *,
        close_stdin: bool,
        complete: Callable[[bytearray], bool] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> Exchange:
        """Write ``data`` and read the reply until it is ``complete``, both output pipes
        close, ``deadline`` (a ``time.monotonic()`` value) passes, or the reply exceeds
        ``limit``. With empty ``data``, input an earlier exchange left unwritten goes on.

        ``on_exit`` is called once when the pidfd reports the program's exit (to end what
        it left behind, which would keep the pipes open).
        """
        output = bytearray()
        if data:
            self._pending = memoryview(data)
        self._close_when_written = close_stdin
        selector = self._selector
        if self.stdin is not None:
            if self._pending:
                selector.register(self.stdin, selectors.EVENT_WRITE)
            elif close_stdin:
                self._close_stdin()
        for fd in (self.stdout, self.stderr, self.exit_fd):
            if fd is not None:
                selector.register(fd, selectors.EVENT_READ)
        try:
            while True:
                if complete is not None and complete(output):
                    return Exchange(COMPLETE, output)
                if len(output) > limit:
                    return Exchange(TOO_LARGE, output)
                if self.stdout is None and (complete is not None or self.stderr is None):
                    return Exchange(EOF, output)
                timeout = None
                if deadline is not None:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        return Exchange(TIMEOUT, output)
                for key, _events in selector.select(timeout):
                    fd = key.fd
                    if fd == self.stdin:
                        self._write()
                    elif fd == self.stdout:
                        chunk = self._read(fd)
                        if chunk:
                            output += chunk
                        elif chunk is not None:
                            self.stdout = None
                    elif fd == self.stderr:
                        chunk = self._read(fd)
                        if chunk:
                            self._stderr_bytes(chunk, ids)
                        elif chunk is not None:
                            self.stderr = None
                            self.flush_stderr(ids)
                    elif fd == self.exit_fd:
                        selector.unregister(fd)
                        os.close(fd)
                        self.exit_fd = None
                        if on_exit is not None:
                            on_exit()
        finally:
            for key in list(selector.get_map().values()):
                selector.unregister(key.fileobj)

    def flush_stderr(self, ids: tuple[str, str | None]) -> None:
        """Log a last stderr line that had no newline."""
        if self._partial:
            self._log_line(self._partial, ids)
            self._partial.clear()

    def close(self) -> None:
        """Close whatever pipes are still open (after the program has ended)."""
        self._close_stdin()
        for fd in (self.stdout, self.stderr, self.exit_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdout = self.stderr = self.exit_fd = None
        self._selector.close()

    def _write(self) -> None:
        assert self.stdin is not None
        try:
            written = os.write(self.stdin, self._pending[:_READ_SIZE])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):  # it stopped reading; its exit tells why
            self._selector.unregister(self.stdin)
            self._close_stdin()
            self._pending = memoryview(b"")
            return
        self._pending = self._pending[written:]
        if not self._pending:
            self._selector.unregister(self.stdin)
            if self._close_when_written:
                self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            with contextlib.suppress(OSError):
                os.close(self.stdin)
            self.stdin = None

    def _read(self, fd: int) -> bytes | None:
        """The bytes available, ``b""`` at end of file (the pipe is then closed), None if none
        yet."""
        try:
            chunk = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return None
        if not chunk:
            self._selector.unregister(fd)
            os.close(fd)
        return chunk

    def _stderr_bytes(self, chunk: bytes, ids: tuple[str, str | None]) -> None:
        self._partial += chunk
        if b"\n" not in chunk:
            return
        *lines, rest = self._partial.split(b"\n")
        self._partial = bytearray(rest)
        for line in lines:
            self._log_line(line, ids)

    def _log_line(self, raw: bytes | bytearray, ids: tuple[str, str | None]) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.tail.append(line)
        if min_level() <= _INFO:
            request_id, tenant_id = ids
            render.write(
                render.render_record("INFO", time.time(), line, self.logger, request_id, tenant_id),
                _INFO,
            )
