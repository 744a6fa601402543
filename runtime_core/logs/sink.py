"""Where a rendered record goes: Lambda's telemetry log descriptor as one frame, else stdout.

On the managed ``python3.x`` runtimes Lambda starts the runtime with
``_LAMBDA_TELEMETRY_LOG_FD``, a descriptor that takes log records in frames, so that a
record with newlines in it (a traceback) is still one CloudWatch event. The frame format
is the one awslambdaric 4.2.2 writes (``FramedTelemetryLogSink``), all big-endian:

    4 bytes frame type | 4 bytes length | 8 bytes timestamp (µs since the epoch) | message

The type says the format and the level: ``0xA55A0003`` (Text) / ``0xA55A0002`` (JSON) for
a record without one, then one type per level (DEBUG ... CRITICAL). awslambdaric types
its frames by level only in JSON format or when ``AWS_LAMBDA_LOG_LEVEL`` is set, and the
error report of a failed invocation always as ERROR; so do we.

Without the descriptor (custom runtimes, ``provided.*``), records go to stdout, one line
each: CloudWatch makes an event of every line, so newlines inside a Text record are
written as ``\\r`` there.

On the start-up path: only ``os``, ``sys``, ``time`` and ``_thread`` (all built in).
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock

__all__ = [
    "FRAME_TYPES",
    "PROVIDER_SOCKET_ENV",
    "TELEMETRY_FD_ENV",
    "configure",
    "frame",
    "redirect_output_to",
    "use_descriptor",
    "write",
]

#: The descriptor Lambda hands the managed runtimes; removed from the environment once read.
TELEMETRY_FD_ENV = "_LAMBDA_TELEMETRY_LOG_FD"
#: Managed Instances: a Unix socket each worker process connects its stdout and stderr to.
PROVIDER_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"

#: ``(json, level)`` -> frame type; level is the stdlib number rounded down to a standard one.
FRAME_TYPES: dict[tuple[bool, int], int] = {
    (False, 0): 0xA55A0003,
    (False, 10): 0xA55A000B,
    (False, 20): 0xA55A000F,
    (False, 30): 0xA55A0013,
    (False, 40): 0xA55A0017,
    (False, 50): 0xA55A001B,
    (True, 0): 0xA55A0002,
    (True, 10): 0xA55A000A,
    (True, 20): 0xA55A000E,
    (True, 30): 0xA55A0012,
    (True, 40): 0xA55A0016,
    (True, 50): 0xA55A001A,
}
_ERROR = 40

_fd = -1
_json = False
_typed = False
# One frame at a time: a frame longer than the pipe's atomic size could otherwise be cut
# into by another thread's frame.
_lock = allocate_lock()


def configure(json: bool, level_set: bool) -> None:
    """The format, and whether ``AWS_LAMBDA_LOG_LEVEL`` was set (frames typed by level)."""
    global _json, _typed
    _json = json
    _typed = json or level_set


def use_descriptor(value: str | None) -> None:
    """Write records to descriptor ``value`` (``_LAMBDA_TELEMETRY_LOG_FD``) from now on;
    ``None`` or something that is not an open descriptor keeps stdout."""
    global _fd
    if not value:
        return
    try:
        fd = int(value)
        os.fstat(fd)
    except (ValueError, OSError):
        return
    _fd = fd


def close_descriptor() -> None:
    """Stop writing frames (Managed Instances: records go to stdout, which each worker
    connects to the provider socket, as awslambdaric's workers do)."""
    global _fd
    if _fd >= 0:
        fd, _fd = _fd, -1
        try:  # noqa: SIM105 (contextlib is not loaded at start-up)
            os.close(fd)
        except OSError:
            pass


def frame(frame_type: int, message: bytes, timestamp_us: int) -> bytes:
    """One frame: type, length, timestamp, message (big-endian, as Lambda reads them)."""
    return (
        frame_type.to_bytes(4, "big")
        + len(message).to_bytes(4, "big")
        + timestamp_us.to_bytes(8, "big")
        + message
    )


def write(record: str, level: int = 0, error: bool = False) -> None:
    """Deliver one rendered record (``render``'s output) at stdlib ``level``; ``error``
    for the record that reports a failed invocation. Never raises: logging must not take
    an invocation down with it."""
    if _fd >= 0:
        if error:
            level = _ERROR
        elif not _typed:
            level = 0
        else:
            level = min(50, max(0, level)) // 10 * 10
        # backslashreplace: a lone surrogate (legal in a str, e.g. an exception message)
        # must not make the record, or the invocation reporting it, fail.
        text = record.encode("utf-8", "backslashreplace")
        data = frame(FRAME_TYPES[_json, level], text, time.time_ns() // 1000)
        with _lock:
            try:
                while data:
                    data = data[os.write(_fd, data) :]
            except OSError:
                pass
        return
    line = record.rstrip("\n")
    if "\n" in line:
        line = line.replace("\n", "\r")
    stream = sys.stdout
    try:
        try:
            stream.write(line + "\n")
        except UnicodeEncodeError:  # a lone surrogate: written escaped, not lost
            stream.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def redirect_output_to(socket_path: str) -> None:
    """Connect stdout and stderr, each on its own connection, to ``socket_path`` (the
    Managed Instances provider socket), as awslambdaric's worker processes do."""
    import _socket

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            target = stream.fileno()
        except (OSError, ValueError, AttributeError):
            continue
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(socket_path)
            os.dup2(sock.fileno(), target)
        finally:
            sock.close()
