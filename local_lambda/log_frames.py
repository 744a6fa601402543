"""The telemetry log descriptor: Lambda's side of ``_LAMBDA_TELEMETRY_LOG_FD``.

On its managed ``python3.x`` runtimes Lambda starts the runtime with a descriptor in
``_LAMBDA_TELEMETRY_LOG_FD`` and reads log records from it in frames, so that a record
with newlines in it (a traceback) is one CloudWatch event. Each frame, big-endian:

    4 bytes type | 4 bytes message length | 8 bytes timestamp (µs since the epoch) | message

The type's high half is ``0xA55A``; its low half says the format and the level, as
awslambdaric 4.2.2 (AWS's Python runtime client) writes them: ``0x0003`` Text and
``0x0002`` JSON without a level, then DEBUG/INFO/WARNING/ERROR/CRITICAL at ``0x000B``/
``0x000F``/``0x0013``/``0x0017``/``0x001B`` (Text) and one less (JSON).

:class:`FrameDecoder` is the sans-IO part; :class:`TelemetryLogPipe` is the pipe a local
environment gets, read on the event loop (``pipe_reader``), each frame passed on as one event.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from .log_level import INFO, line_level, rank
from .pipe_reader import PipeReader

__all__ = ["ENV", "Frame", "FrameDecoder", "TelemetryLogPipe", "wanted"]

ENV = "_LAMBDA_TELEMETRY_LOG_FD"
_MAGIC = 0xA55A
_HEADER = 16
# Low half of a frame type -> (JSON?, level name or None when the frame has no level).
_TYPES: dict[int, tuple[bool, str | None]] = {
    0x03: (False, None),
    0x0B: (False, "DEBUG"),
    0x0F: (False, "INFO"),
    0x13: (False, "WARN"),
    0x17: (False, "ERROR"),
    0x1B: (False, "FATAL"),
    0x02: (True, None),
    0x0A: (True, "DEBUG"),
    0x0E: (True, "INFO"),
    0x12: (True, "WARN"),
    0x16: (True, "ERROR"),
    0x1A: (True, "FATAL"),
}


def wanted(runtime: str | None) -> bool:
    """Lambda gives the descriptor to its managed python3.x runtimes, not to ``provided.*``."""
    return bool(runtime and runtime.startswith("python3."))


@dataclass(frozen=True)
class Frame:
    """One record: its frame type, timestamp (µs), message and level rank (log_level)."""

    frame_type: int
    timestamp_us: int
    message: str

    @property
    def is_json(self) -> bool:
        return _TYPES.get(self.frame_type & 0xFFFF, (False, None))[0]

    @property
    def level(self) -> int:
        """The frame type's level; without one, a JSON record's ``level``, else INFO."""
        _, name = _TYPES.get(self.frame_type & 0xFFFF, (False, None))
        if name is not None:
            return rank(name)
        return line_level(self.message) if self.is_json else INFO

    @property
    def event(self) -> str:
        """The record as one log event: the message without its final newline."""
        return self.message[:-1] if self.message.endswith("\n") else self.message


class FrameDecoder:
    """Bytes in, whole frames out. Bytes that are not a frame (a writer that does not
    frame) are passed on as text lines rather than lost."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._framed = True

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        buffer = self._buffer
        while self._framed and len(buffer) >= _HEADER:
            frame_type = int.from_bytes(buffer[0:4], "big")
            if frame_type >> 16 != _MAGIC:
                self._framed = False
                break
            length = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < _HEADER + length:
                break
            timestamp = int.from_bytes(buffer[8:16], "big")
            message = bytes(buffer[_HEADER : _HEADER + length]).decode("utf-8", "replace")
            del buffer[: _HEADER + length]
            frames.append(Frame(frame_type, timestamp, message))
        if not self._framed:
            *lines, rest = bytes(buffer).split(b"\n")
            self._buffer = bytearray(rest)
            frames += [Frame(0, 0, line.decode("utf-8", "replace")) for line in lines]
        return frames

    def close(self) -> list[Frame]:
        """What is left at the end: an unframed tail as a last event; a cut frame is dropped."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if rest and not self._framed:
            return [Frame(0, 0, rest.decode("utf-8", "replace"))]
        return []


class TelemetryLogPipe:
    """A pipe standing for the descriptor: the runtime writes frames to ``child_fd``, the
    local Lambda reads them on its event loop and passes each record on as one event."""

    def __init__(self) -> None:
        self._read_fd, self.child_fd = os.pipe()
        self._reader: PipeReader[Frame] | None = None

    def environment(self) -> dict[str, str]:
        return {ENV: str(self.child_fd)}

    def start(self, on_frame: Callable[[Frame], None]) -> None:
        """Call once the runtime has been started with ``child_fd``: read from now on."""
        os.close(self.child_fd)
        self.child_fd = -1
        self._reader = PipeReader(self._read_fd, FrameDecoder(), on_frame)

    def drain(self) -> None:
        """Pass on every whole frame already written."""
        if self._reader is not None:
            self._reader.drain()

    def close(self) -> None:
        """Stop reading (an unframed tail is passed on); both ends closed if never started."""
        if self.child_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.child_fd)
            self.child_fd = -1
        if self._reader is not None:
            self._reader.close()
        elif self._read_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._read_fd)
        self._read_fd = -1
