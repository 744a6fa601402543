"""The Telemetry API (2022-07-01), and the older Logs API (2020-08-15) answered the same way.

An extension subscribes during init (``PUT /2022-07-01/telemetry``) with a destination on
the sandbox's address, the record types it wants (platform, function, extension) and
buffering settings. Each subscriber gets its own buffer, flushed as one JSON array per
``POST`` when ``maxItems`` or ``maxBytes`` is reached or ``timeoutMs`` has passed since the
first record waiting in it (spec §6). ``sandbox.localdomain`` and ``sandbox`` resolve to
127.0.0.1 here: the local Lambda connects there itself, so the extension needs no
resolver entry. The Logs API gets the same records (its few older record shapes are not
emulated); an extension may use one of the two APIs, not both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import protocol
from .extensions_api import ExtensionsApi
from .httpserver import HttpRequest
from .platform_log import timestamp

SANDBOX_HOSTS = ("sandbox.localdomain", "sandbox")
_TYPES = ("platform", "function", "extension")
_SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29", "2021-03-18")
# (minimum, maximum, default) per buffering setting (spec §6; RIE's defaults).
_BUFFERING = {
    "maxItems": (1000, 10000, 10000),
    "maxBytes": (262144, 1048576, 262144),
    "timeoutMs": (25, 30000, 1000),
}


@dataclass
class Subscriber:
    """One extension's subscription and the records waiting for it."""

    extension: str
    api: str  # "telemetry" | "logs"
    host: str
    port: int
    path: str
    types: list[str]
    max_items: int
    max_bytes: int
    timeout_ms: int
    buffer: list[bytes] = field(default_factory=list)
    buffered_bytes: int = 0
    timer: asyncio.TimerHandle | None = None
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)
    delivered: int = 0
    failed: int = 0


class Telemetry:
    """Subscriptions of one environment and the delivery of records to them."""

    def __init__(self, extensions: ExtensionsApi) -> None:
        self.extensions = extensions
        self.subscribers: list[Subscriber] = []
        self.open = True
        # Records made during init, replayed to each new subscriber (it subscribes after
        # platform.initStart and perhaps after the first log lines).
        self._backlog: list[tuple[str, bytes]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        """A new environment: subscriptions are dropped (what is buffered is sent first)."""
        old = self.subscribers
        self.subscribers = []
        self.open = True
        self._backlog = []
        for sub in old:
            self._flush(sub)

    def close_subscriptions(self) -> None:
        """Init is over: no new subscriptions (Telemetry.SubscriptionClosed)."""
        self.open = False
        self._backlog = []

    # the HTTP handler
    def handle(self, request: HttpRequest, api: str) -> None:
        ext = self.extensions.known(request)
        if ext is None:
            return
        if request.method != "PUT":
            request.respond(405, protocol.error_body("MethodNotAllowed", "Use PUT to subscribe"))
            return
        kind = "Telemetry" if api == "telemetry" else "Logs"
        if not self.open:
            request.respond(
                403,
                protocol.error_body(
                    f"{kind}.SubscriptionClosed",
                    "Subscriptions are accepted during init only",
                ),
            )
            return
        if any(s.extension == ext.name and s.api != api for s in self.subscribers):
            request.respond(
                400,
                protocol.error_body(
                    "ValidationError",
                    "An extension may subscribe to the Telemetry API or the Logs API, not both",
                ),
            )
            return
        try:
            sub = _parse(ext.name, api, request.body)
        except ValueError as exc:
            request.respond(400, protocol.error_body("ValidationError", str(exc)))
            return
        self.subscribers = [s for s in self.subscribers if s.extension != ext.name]
        self.subscribers.append(sub)
        request.respond(200, b'"OK"')
        for category, item in self._backlog:
            if category in sub.types:
                self._add(sub, item)
        self.publish(
            "platform",
            "platform.telemetrySubscription" if api == "telemetry" else "platform.logsSubscription",
            {"name": ext.name, "state": "Subscribed", "types": sub.types},
        )

    # records
    def publish(self, category: str, event_type: str, record: Any) -> None:
        """Queue one record for every subscriber of ``category``."""
        if not self.subscribers and not self.open:
            return
        item = json.dumps({"time": timestamp(), "type": event_type, "record": record}).encode()
        if self.open:
            self._backlog.append((category, item))
        for sub in self.subscribers:
            if category in sub.types:
                self._add(sub, item)

    def _add(self, sub: Subscriber, item: bytes) -> None:
        if sub.buffer and sub.buffered_bytes + len(item) + 1 > sub.max_bytes:
            self._flush(sub)  # a batch never exceeds maxBytes (unless one record does)
        sub.buffer.append(item)
        sub.buffered_bytes += len(item) + 1
        if len(sub.buffer) >= sub.max_items or sub.buffered_bytes >= sub.max_bytes:
            self._flush(sub)
        elif sub.timer is None:
            loop = asyncio.get_running_loop()
            sub.timer = loop.call_later(sub.timeout_ms / 1000, self._flush, sub)

    def function_line(self, line: str) -> None:
        self.publish("function", "function", _record_of(line))

    def extension_line(self, line: str) -> None:
        self.publish("extension", "extension", _record_of(line))

    async def flush_all(self, timeout: float = 2.0) -> None:
        """Send everything buffered now and wait (at most ``timeout`` s) until it is sent."""
        for sub in self.subscribers:
            self._flush(sub)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def _flush(self, sub: Subscriber) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        if not sub.buffer:
            return
        body = b"[" + b",".join(sub.buffer) + b"]"
        sub.buffer = []
        sub.buffered_bytes = 0
        task = asyncio.get_running_loop().create_task(self._send(sub, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, sub: Subscriber, body: bytes) -> None:
        async with sub.sending:  # batches arrive in order
            try:
                await asyncio.wait_for(_post(sub.host, sub.port, sub.path, body), 5.0)
                sub.delivered += 1
            except (OSError, TimeoutError, ValueError):
                sub.failed += 1  # Lambda drops what it cannot deliver


def _record_of(line: str) -> Any:
    """A log line as Lambda's record: the object when the line is JSON, else the text."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    return line


def _parse(extension: str, api: str, body: bytes) -> Subscriber:
    try:
        request = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValueError(f"the subscription body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ValueError("the subscription body must be a JSON object")
    schema = request.get("schemaVersion")
    if schema is not None and schema not in _SCHEMAS:
        raise ValueError(f"unknown schemaVersion {schema!r}: use one of {', '.join(_SCHEMAS)}")
    types = request.get("types")
    if not isinstance(types, list) or not types or any(t not in _TYPES for t in types):
        raise ValueError(f"types must be a non-empty list of {', '.join(_TYPES)}")
    destination = request.get("destination")
    if not isinstance(destination, dict) or destination.get("protocol") != "HTTP":
        raise ValueError(
            'destination must be {"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/..."}'
        )
    uri = urlsplit(str(destination.get("URI", "")))
    if uri.scheme != "http" or uri.hostname not in SANDBOX_HOSTS or not uri.port:
        raise ValueError(
            f"destination URI {destination.get('URI')!r} must be http://sandbox.localdomain:PORT"
            " (or http://sandbox:PORT)"
        )
    buffering = request.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise ValueError("buffering must be an object")
    values = {}
    for key, (low, high, default) in _BUFFERING.items():
        value = buffering.get(key, default)
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"buffering.{key} must be an integer from {low} to {high}")
        values[key] = value
    return Subscriber(
        extension,
        api,
        "127.0.0.1",
        uri.port,
        uri.path or "/",
        list(types),
        values["maxItems"],
        values["maxBytes"],
        values["timeoutMs"],
    )


async def _post(host: str, port: int, path: str, body: bytes) -> None:
    """One HTTP/1.1 POST of a JSON array; the answer is read and ignored."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: sandbox.localdomain:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        status = await reader.readline()
        if not status.startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP answer: {status[:40]!r}")
        await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
