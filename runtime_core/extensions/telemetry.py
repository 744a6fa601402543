"""The Telemetry API's receiving end: an HTTP listener and the typed records it delivers.

Lambda POSTs batches (JSON arrays of ``{"time", "type", "record"}``) to a listener the
extension runs on the sandbox address. The listener answers at once and queues each
batch, so a slow consumer (the shipper's HTTP client) never holds up Lambda's delivery.
Requests are parsed with httptools, as the rest of runtime_core parses responses.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, cast

from httptools import HttpParserError, HttpRequestParser

__all__ = [
    "Buffering",
    "LogRecord",
    "PlatformRecord",
    "ReportRecord",
    "TelemetryEvent",
    "TelemetryListener",
    "parse_batch",
]

#: The record types a subscription can ask for.
TYPES = ("platform", "function", "extension")


@dataclass(frozen=True, slots=True)
class Buffering:
    """How Lambda batches deliveries; a batch goes out at whichever limit is reached first."""

    max_items: int = 1000
    max_bytes: int = 262144
    timeout_ms: int = 100

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_items", 1000, 10000),
            ("max_bytes", 262144, 1048576),
            ("timeout_ms", 25, 30000),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(
                    f"Buffering.{name} must be between {low} and {high} (Lambda's range), "
                    f"got {value}"
                )

    def as_json(self) -> dict[str, int]:
        return {
            "maxItems": self.max_items,
            "maxBytes": self.max_bytes,
            "timeoutMs": self.timeout_ms,
        }


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One delivered record: ``type`` is e.g. ``platform.report``, ``function``, ``extension``."""

    time: str
    type: str
    record: Any

    @property
    def category(self) -> str:
        """``platform``, ``function`` or ``extension``: what the subscription's ``types`` name."""
        return self.type.partition(".")[0]


@dataclass(frozen=True, slots=True)
class LogRecord(TelemetryEvent):
    """A log line written by the function (``function``) or by an extension (``extension``)."""

    @property
    def message(self) -> str:
        """The line's text: the record itself in Text format, its ``message`` in JSON format."""
        record = self.record
        if isinstance(record, dict):
            return str(record.get("message", ""))
        return str(record)


@dataclass(frozen=True, slots=True)
class PlatformRecord(TelemetryEvent):
    """A ``platform.*`` event (initStart, start, runtimeDone, report, extension, …)."""

    @property
    def request_id(self) -> str | None:
        return self._field("requestId")

    @property
    def status(self) -> str | None:
        return self._field("status")

    @property
    def metrics(self) -> dict[str, float]:
        record = self.record
        metrics = record.get("metrics") if isinstance(record, dict) else None
        return dict(metrics) if isinstance(metrics, dict) else {}

    def _field(self, name: str) -> str | None:
        record = self.record
        value = record.get(name) if isinstance(record, dict) else None
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ReportRecord(PlatformRecord):
    """``platform.report``: the figures of the REPORT line, as numbers."""

    @property
    def duration_ms(self) -> float:
        return float(self.metrics.get("durationMs", 0.0))

    @property
    def billed_duration_ms(self) -> int:
        return int(self.metrics.get("billedDurationMs", 0))

    @property
    def memory_size_mb(self) -> int:
        return int(self.metrics.get("memorySizeMB", 0))

    @property
    def max_memory_used_mb(self) -> int:
        return int(self.metrics.get("maxMemoryUsedMB", 0))

    @property
    def init_duration_ms(self) -> float | None:
        value = self.metrics.get("initDurationMs")
        return None if value is None else float(value)


def _typed(item: dict[str, Any]) -> TelemetryEvent:
    kind = str(item["type"])
    cls: type[TelemetryEvent]
    if kind == "platform.report":
        cls = ReportRecord
    elif kind.startswith("platform."):
        cls = PlatformRecord
    elif kind in ("function", "extension"):
        cls = LogRecord
    else:
        cls = TelemetryEvent
    return cls(str(item.get("time", "")), kind, item.get("record"))


def parse_batch(body: bytes) -> list[TelemetryEvent]:
    """The records in one delivery; ``ValueError`` naming the problem if it is not a batch."""
    data = json.loads(body)
    if not isinstance(data, list):
        raise ValueError(f"a telemetry delivery must be a JSON array, got {type(data).__name__}")
    events = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or "type" not in item:
            raise ValueError(f"item {index} of the delivery is not a {{time, type, record}} object")
        events.append(_typed(item))
    return events


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection from Lambda's telemetry sender."""

    def __init__(self, listener: TelemetryListener) -> None:
        self._listener = listener
        self._parser = HttpRequestParser(self)
        self._body: list[bytes] = []
        self._sock: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sock = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except HttpParserError:
            self._reply(400, b"malformed HTTP request", close=True)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body = []

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method()
        if method != b"POST":
            self._reply(405, b"telemetry is delivered with POST")
            return
        try:
            events = parse_batch(b"".join(self._body))
        except ValueError as exc:
            self._reply(400, str(exc).encode())
            return
        self._listener.received(events)
        self._reply(200, b"OK")

    def _reply(self, status: int, body: bytes, close: bool = False) -> None:
        sock = self._sock
        if sock is None or sock.is_closing():
            return
        reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        )
        if close or not self._parser.should_keep_alive():
            sock.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            sock.close()
        else:
            sock.write(head.encode() + b"\r\n" + body)


class TelemetryListener:
    """Receives deliveries on ``host:port`` and queues their events for ``batches()``.

    ``port=0`` picks a free port (read ``port`` after ``start``). Bind ``0.0.0.0`` in Lambda:
    the subscription's URI names ``sandbox.localdomain``, which resolves to the sandbox.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.queue: asyncio.Queue[list[TelemetryEvent]] = asyncio.Queue()
        #: ``time.monotonic()`` of the latest delivery (None before the first).
        self.last_delivery: float | None = None
        self.deliveries = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        """Listen; returns the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def received(self, events: list[TelemetryEvent]) -> None:
        self.deliveries += 1
        self.last_delivery = time.monotonic()
        self.queue.put_nowait(events)

    async def settle(self, quiet_s: float, limit_s: float) -> None:
        """Wait until no delivery has come for ``quiet_s`` (at most ``limit_s`` in all).

        At SHUTDOWN Lambda may still be sending the last invocation's records; this lets
        them arrive before the extension's final flush.
        """
        start = time.monotonic()
        end = start + limit_s
        while True:
            wake = min(max(self.last_delivery or start, start) + quiet_s, end)
            now = time.monotonic()
            if now >= wake:
                return
            await asyncio.sleep(wake - now)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
