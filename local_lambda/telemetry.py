"""The Telemetry API (2022-07-01), and the older Logs API (2020-08-15) answered the same way.

An extension subscribes during init (``PUT /2022-07-01/telemetry``) with a destination on
the sandbox's address, the record types it wants (platform, function, extension) and
buffering settings. Each subscriber gets its own buffer, flushed as one JSON array per
``POST`` when ``maxItems`` or ``maxBytes`` is reached or ``timeoutMs`` has passed since the
first record waiting in it (spec §6). A batch that cannot be delivered (no listener yet,
an error, no answer) is tried again with backoff, as Lambda does, later batches waiting
behind it; only what a subscriber leaves undelivered past a memory bound is dropped, then
reported to it as ``platform.logsDropped``. ``sandbox.localdomain`` and ``sandbox`` resolve to
127.0.0.1 here: the local Lambda connects there itself, so the extension needs no
resolver entry. The Logs API gets the same records (its few older record shapes are not
emulated); an extension may use one of the two APIs, not both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Coroutine
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
#: A failed delivery is tried again after this, doubling up to _RETRY_MAX_S (Lambda
#: "retries ... with backoff if there is no listener, or if the POST request results in
#: an error": https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html).
_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 1.0
#: How long a listener has to answer one POST, and how often that is checked.
_ANSWER_S = 5.0
_TICK_S = 0.25
#: Undelivered batches kept per subscriber, in multiples of its maxBytes: past it the
#: oldest waiting ones are dropped (Lambda drops records "to keep memory utilization
#: bounded" when a subscriber falls behind, and sends platform.logsDropped).
_OUTBOX_MAX_BYTES = 4
_DROPPED_REASON = (
    "The subscriber did not take its telemetry as fast as it came: the oldest undelivered"
    " records were dropped to bound the buffer's memory."
)


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
    #: Batches (body, record count) to deliver, in order; the first is being sent.
    outbox: deque[tuple[bytes, int]] = field(default_factory=deque)
    outbox_bytes: int = 0
    sender: asyncio.Task[None] | None = None
    #: False once its environment is gone: a failed delivery is not tried again.
    live: bool = True
    dropped_records: int = 0
    dropped_bytes: int = 0
    delivered: int = 0
    failed: int = 0  # deliveries that failed (and were tried again while it was live)


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
            sub.live = False
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
        sub.outbox.append((body, len(sub.buffer)))
        sub.outbox_bytes += len(body)
        sub.buffer = []
        sub.buffered_bytes = 0
        # Bounded: the oldest batches waiting (not the one being sent) make room.
        while sub.outbox_bytes > _OUTBOX_MAX_BYTES * sub.max_bytes and len(sub.outbox) > 2:
            dropped, count = sub.outbox[1]
            del sub.outbox[1]
            sub.outbox_bytes -= len(dropped)
            sub.dropped_records += count
            sub.dropped_bytes += len(dropped)
        if sub.sender is None or sub.sender.done():
            sub.sender = asyncio.get_running_loop().create_task(self._deliver(sub))
            self._tasks.add(sub.sender)
            sub.sender.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: Subscriber) -> None:
        """Send ``sub``'s batches in order, each until it is taken (while ``sub`` is live)."""
        delay = _RETRY_FIRST_S
        while sub.outbox:
            body, _ = sub.outbox[0]
            try:
                await _answered(_post(sub.host, sub.port, sub.path, body), _ANSWER_S)
            except (OSError, TimeoutError, ValueError):
                sub.failed += 1
                if sub.live:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_S)
                    continue
            else:
                sub.delivered += 1
                delay = _RETRY_FIRST_S
            sub.outbox.popleft()
            sub.outbox_bytes -= len(body)
            if sub.dropped_records and sub.live and "platform" in sub.types:
                record = {
                    "reason": _DROPPED_REASON,
                    "droppedRecords": sub.dropped_records,
                    "droppedBytes": sub.dropped_bytes,
                }
                sub.dropped_records = sub.dropped_bytes = 0
                item = {"time": timestamp(), "type": "platform.logsDropped", "record": record}
                self._add(sub, json.dumps(item).encode())


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


async def _answered(post: Coroutine[Any, Any, None], limit_s: float) -> None:
    """Await ``post``; TimeoutError once the listener has had ``limit_s`` to answer.

    Only time in which this event loop ran counts (each check adds at most two ticks): a
    stall of the local Lambda's own, its thread starved on a loaded machine or a slow step
    on its loop, is not the listener's slowness, and must not make a batch the listener
    has taken fail (to be lost, or sent twice)."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(post)
    waited = 0.0
    try:
        while True:
            before = loop.time()
            done, _ = await asyncio.wait({task}, timeout=_TICK_S)
            if done:
                return task.result()
            waited += min(loop.time() - before, 2 * _TICK_S)
            if waited >= limit_s:
                raise TimeoutError(f"no answer in {limit_s} s")
    finally:
        task.cancel()


async def _post(host: str, port: int, path: str, body: bytes) -> None:
    """One HTTP/1.1 POST of a JSON array. A 5xx answer is an error (tried again); any
    other answer is read and ignored."""
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
        if status[9:10] == b"5":
            raise ValueError(f"the listener failed: {status[:40]!r}")
        await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
