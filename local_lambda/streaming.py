"""Streamed responses on AWS's side: the chunks a runtime posts, and the event stream an
``InvokeWithResponseStream`` caller reads.

:class:`ResponseChunks` sits between the Runtime API (which feeds it the runtime's chunks
as they arrive) and whoever invokes: a streaming caller takes chunks as they come, a
buffered caller gets them joined at the end. While a streaming caller is slower than the
runtime, reading from the runtime's socket is paused, so nothing buffers without bound.

The encoder writes AWS's ``application/vnd.amazon.eventstream`` framing (the one botocore
parses): a prelude of total length, headers length and their CRC32, typed headers
(``:event-type``, ``:content-type``, ``:message-type``), the payload, and a CRC32 of all.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import struct
from collections import deque
from collections.abc import Callable

# Lambda's limit on one streamed response (spec §2).
MAX_STREAM_BYTES = 200 * 1024 * 1024
# Pause reading the runtime while this much waits for a streaming caller.
_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024
_HEADER_STRING = 7  # the event-stream header value type for a UTF-8 string


class ResponseChunks:
    """The body of one streamed response, on its way from the runtime to the invoker."""

    def __init__(self, content_type: str, pause: Callable[[], None], resume: Callable[[], None]):
        self.content_type = content_type
        self._pause = pause
        self._resume = resume
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._paused = False
        self._wakeup: asyncio.Future[None] | None = None
        self.consumed = False  # a streaming caller takes the chunks
        self.ended = False
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        """A chunk from the runtime."""
        self.size += len(chunk)
        self._queue.append(chunk)
        self._queued_bytes += len(chunk)
        if self.consumed and self._queued_bytes > _HIGH_WATER and not self._paused:
            self._paused = True
            self._pause()
        self._wake()

    def end(self) -> None:
        """No more chunks (the body ended, or the runtime's connection broke)."""
        self.ended = True
        self._wake()

    def joined(self) -> bytes:
        """What is left unconsumed, as one payload (the buffered invoker's view)."""
        body = b"".join(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return body

    async def next_chunk(self) -> bytes | None:
        """The next chunk for a streaming caller; None at the end."""
        self.consumed = True
        while not self._queue:
            if self.ended:
                return None
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup
        chunk = self._queue.popleft()
        self._queued_bytes -= len(chunk)
        if self._paused and self._queued_bytes < _LOW_WATER:
            self._paused = False
            self._resume()
        return chunk

    def _wake(self) -> None:
        wakeup, self._wakeup = self._wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)


def _headers(fields: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in fields.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _HEADER_STRING, len(raw_value)) + raw_value
    return bytes(out)


def event_message(event_type: str, payload: bytes, content_type: str) -> bytes:
    """One event-stream message (``:message-type`` event)."""
    headers = _headers(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack("!I", binascii.crc32(message))


def payload_chunk(data: bytes) -> bytes:
    return event_message("PayloadChunk", data, "application/octet-stream")


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The last event: how the invocation ended (``ErrorCode`` is the function's error type)."""
    fields = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = json.dumps({key: value for key, value in fields.items() if value is not None})
    return event_message("InvokeComplete", body.encode(), "application/json")


# The runtime's header that makes a /response a streamed one (spec §2; lower case as parsed).
H_RESPONSE_MODE = "lambda-runtime-function-response-mode"


def is_streamed_response(method: str, path: str, headers: dict[str, str]) -> bool:
    """A ``/response`` post that declares a response mode: its body is passed on as it arrives."""
    return method == "POST" and path.endswith("/response") and H_RESPONSE_MODE in headers
