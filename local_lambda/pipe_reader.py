"""Reading a process's pipe on the event loop without blocking it.

Every pipe an environment reads (the runtime's stdout and stderr, each extension's, the
telemetry log descriptor) is read the same way: non-blocking, whatever is there when the
loop says it is readable (or when the environment asks, before a REPORT), until the end of
the file. Only what the bytes mean differs, so that part is a sans-IO decoder (``feed``
bytes, get whole items; ``close`` for what is left at the end): :class:`LineDecoder` here,
``log_frames.FrameDecoder`` for the telemetry frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["Decoder", "LineDecoder", "LineReader", "PipeReader"]

Item = TypeVar("Item")
_CHUNK = 65536


class Decoder(Protocol[Item]):
    def feed(self, data: bytes) -> list[Item]:
        """The whole items ``data`` completes (a partial one is kept for the next call)."""
        ...

    def close(self) -> list[Item]:
        """What is left once the writer is gone."""
        ...


class PipeReader(Generic[Item]):
    """Reads ``fd`` (a pipe's read end, owned from now on) on the running event loop and
    passes each item ``decoder`` makes of it to ``on_item``, until the end of the file."""

    def __init__(self, fd: int, decoder: Decoder[Item], on_item: Callable[[Item], None]) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self._decoder = decoder
        self._on_item = on_item
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self.drain)

    def drain(self) -> None:
        """Read what is already in the pipe: items written so far are passed on now."""
        while self.fd >= 0:
            try:
                data = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self._pass_on(self._decoder.feed(data))

    def close(self) -> None:
        """Stop reading and pass on what the decoder still holds (idempotent)."""
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)
        self._pass_on(self._decoder.close())

    def _pass_on(self, items: list[Item]) -> None:
        for item in items:
            self._on_item(item)


class LineDecoder:
    """Bytes in, text lines out (without their newline); an unterminated last line is
    passed on at the end rather than lost. Undecodable bytes are replaced, not fatal."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return [line.decode("utf-8", "replace") for line in lines]

    def close(self) -> list[str]:
        rest, self._partial = self._partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


class LineReader(PipeReader[str]):
    """A pipe read line by line: what a process writes to stdout and stderr."""

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        super().__init__(fd, LineDecoder(), on_line)
