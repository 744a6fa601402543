"""A lean HTTP/1.1 server on asyncio + httptools, for the local Lambda's APIs.

Why not aiohttp or uvicorn: both drop HTTP request trailers, which response streaming
uses for mid-stream errors; and the warm benchmark measures the runtime's holding time
with this server's parse time inside it, so it does as little as it can. llhttp (under
httptools) reports trailer fields through ``on_header`` *after* ``on_headers_complete``,
which is how they are told apart here.

A handler gets the parsed :class:`HttpRequest` and answers through ``request.respond`` now or
later (a long poll keeps the request and answers when an event comes). Requests that
arrive on a connection while an earlier one is unanswered wait their turn.

Streaming, both ways: a server made with ``early=`` hands a request whose headers that
predicate accepts to the handler before its body arrives; the handler then takes the body
chunk by chunk with :meth:`Request.receive` (and can pause reading, which is end-to-end
backpressure). A handler may answer in chunks with :meth:`Request.start_stream`,
:meth:`Request.write_chunk` (await :meth:`Request.drain` for backpressure) and
:meth:`Request.end_stream`.

Bounded, so a slow or huge client cannot hold memory or sockets (:class:`Limits`): a
request's headers must arrive within ``header_timeout`` of its first byte and a buffered
body within ``body_timeout`` of its headers (else 408 and the connection closes); headers
are capped in size (431); a declared ``Content-Length`` over ``max_body`` is answered at
once, before the body is read (the handler sees ``body_size`` over its limit and answers
with its API's 413), and the body is then dropped as it comes; at most ``max_connections``
are open (more are answered 503 and closed) and at most ``max_pipelined`` requests wait
behind the one being served (a runtime's ``/next`` sent right behind its POST is served;
a client that floods a connection is cut off). One timer per server sweeps the deadlines,
so the per-request cost is one clock read.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

import httptools

Handler = Callable[["HttpRequest"], None]


@dataclass(frozen=True)
class Limits:
    """How long and how much a client may take (seconds, counts, bytes; None: no limit)."""

    header_timeout: float = 30.0  # first byte of a request -> end of its headers
    body_timeout: float = 60.0  # end of headers -> end of a buffered body (streams: none)
    idle_timeout: float | None = None  # between requests (None: a runtime may idle 900 s)
    max_header_bytes: int = 64 * 1024
    max_connections: int = 256
    max_pipelined: int = 16


DEFAULT_LIMITS = Limits()
_TIMEOUT_BODY = (
    b'{"errorMessage":"the request did not arrive in time","errorType":"RequestTimeout"}\n'
)
_BUSY_BODY = b'{"errorMessage":"too many connections","errorType":"ServiceUnavailable"}\n'
_HEADERS_BODY = b'{"errorMessage":"request headers too large","errorType":"HeadersTooLarge"}\n'
BodyListener = Callable[[bytes], None]
#: Called once the body has ended: True if complete (trailers read), False if the connection broke.
EndListener = Callable[[bool], None]


class HttpRequest:
    """One parsed request. ``body`` holds at most ``max_body + 1`` bytes; ``body_size`` is
    the full size."""

    __slots__ = (
        "_conn",
        "_on_chunk",
        "_on_end",
        "_parts",
        "answered",
        "body_size",
        "headers",
        "method",
        "oversized",
        "path",
        "query",
        "received_ns",
        "streaming",
        "trailers",
    )

    def __init__(self, conn: _Connection, method: str, url: bytes) -> None:
        # ``headers``: lower-case names; a repeated header's values joined with "," (Cookie: "; ")
        self._conn = conn
        self.method = method
        path, _, query = url.decode("latin-1").partition("?")
        self.path = path
        self.query = query
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self._parts: list[bytes] = []
        self.body_size = 0
        self.received_ns = 0
        self.answered = False
        #: True when dispatched at its headers (``early``); the body comes through ``receive``.
        self.streaming = False
        #: True when the declared Content-Length was over the limit: dispatched at its
        #: headers with ``body_size`` set to it and no body; the connection closes after.
        self.oversized = False
        self._on_chunk: BodyListener | None = None
        self._on_end: EndListener | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self._parts)

    @property
    def peer_port(self) -> int:
        """The client's port (0 once it has gone): names the connection a request came on,
        for a SnapStart snapshot (local_lambda.snapstart)."""
        transport = self._conn._transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return int(peer[1]) if peer else 0

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Write the response (once). Does nothing if the client has gone."""
        if self.answered:
            return
        self.answered = True
        self._conn.write_response(self, status, body, headers, content_type)

    def receive(self, on_chunk: BodyListener, on_end: EndListener) -> None:
        """Take an early-dispatched request's body as it arrives (call during dispatch)."""
        self._on_chunk = on_chunk
        self._on_end = on_end

    def pause_reading(self) -> None:
        self._conn.pause_reading()

    def resume_reading(self) -> None:
        self._conn.resume_reading()

    def start_stream(
        self,
        status: int,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Answer with a chunked body, written by ``write_chunk`` and ended by ``end_stream``.
        ``headers`` may be pairs, for a name that repeats (``Set-Cookie``)."""
        if self.answered:
            return
        self.answered = True
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        self._conn.write_stream_head(status, pairs, content_type)

    def write_chunk(self, data: bytes) -> None:
        if data:
            self._conn.write_bytes(b"%x\r\n%b\r\n" % (len(data), data))

    async def drain(self) -> None:
        """Wait while the client reads slower than the stream is written."""
        await self._conn.drained()

    def end_stream(self) -> None:
        self._conn.write_bytes(b"0\r\n\r\n")
        self._conn.response_done()

    def drop(self) -> None:
        """Close the connection without answering (a fault some tests need)."""
        self.answered = True
        self._conn.abort()

    @property
    def connected(self) -> bool:
        return not self._conn.closed


class _Connection(asyncio.Protocol):
    """httptools callbacks for one connection; hands complete requests to the handler in order."""

    def __init__(
        self,
        handler: Handler,
        max_body: int,
        clock: Callable[[], int],
        live: set[_Connection],
        early: Callable[[HttpRequest], bool] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._early = early
        self._limits = limits
        #: When this connection is cut off unless something happens (time.monotonic()).
        self.deadline: float | None = None
        self._header_bytes = 0
        self._writable: asyncio.Future[None] | None = None
        self._live = live
        self._handler = handler
        self._max_body = max_body
        self._clock = clock
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._current: HttpRequest | None = None
        self._in_trailers = False
        self._field = ""
        self._waiting: deque[HttpRequest] = deque()
        self._busy: HttpRequest | None = None
        self._keep_alive = True
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        if len(self._live) >= self._limits.max_connections:
            self._write_raw(503, _BUSY_BODY, {}, "application/json", close=True)
            return
        self._live.add(self)
        self._idle()

    def _idle(self) -> None:
        idle = self._limits.idle_timeout
        self.deadline = None if idle is None else time.monotonic() + idle

    def expire(self) -> None:
        """The deadline passed: a 408 if a request is half-read, then close."""
        if self._current is not None and not self._current.streaming:
            self._write_raw(408, _TIMEOUT_BODY, {}, "application/json", close=True)
        self.abort()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.abort()
        except httptools.HttpParserError as exc:
            body = f'{{"errorMessage":"Bad HTTP request: {exc}","errorType":"BadRequest"}}\n'
            self._write_raw(400, body.encode(), {}, "application/json", close=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._live.discard(self)
        self._release_writer()
        request = self._current
        if request is not None and request.streaming and request._on_end is not None:
            self._current = None
            request._on_end(False)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_writer()

    def _release_writer(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    async def drained(self) -> None:
        if self._writable is not None:
            await self._writable

    def pause_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._in_trailers = False
        self._header_bytes = 0
        self.deadline = time.monotonic() + self._limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self._limits.max_header_bytes:
            self._refuse_headers()
        self._current = HttpRequest(self, self._parser.get_method().decode(), url)

    def _refuse_headers(self) -> None:
        self._write_raw(431, _HEADERS_BODY, {}, "application/json", close=True)
        raise httptools.HttpParserCallbackError("headers too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._current is not None
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._limits.max_header_bytes:
            self._refuse_headers()
        key = name.decode("latin-1").lower()
        target = self._current.trailers if self._in_trailers else self._current.headers
        text = value.decode("latin-1")
        if key in target:  # a repeated field: one value, joined as RFC 9110 allows
            text = target[key] + ("; " if key == "cookie" else ",") + text
        target[key] = text

    def on_headers_complete(self) -> None:
        self._in_trailers = True  # any header fields after this point are trailers
        request = self._current
        early = self._early
        if early is not None and request is not None and self._busy is None and early(request):
            request.streaming = True
            self.deadline = None  # a stream may pause as long as its function runs
            self._dispatch(request)
            return
        self.deadline = time.monotonic() + self._limits.body_timeout
        declared = request.headers.get("content-length", "") if request is not None else ""
        if request is not None and declared.isdigit() and int(declared) > self._max_body:
            # Answer now: waiting for a body we would not keep only lets the client hold us.
            # Its bytes are then read and dropped (within the body timeout), so the client
            # can go on using the connection, as a runtime does after a 413.
            request.oversized = True
            request.body_size = int(declared)
            self._complete(request)
            self.deadline = time.monotonic() + self._limits.body_timeout

    def on_body(self, chunk: bytes) -> None:
        request = self._current
        assert request is not None
        if request.oversized:
            return
        if request.streaming:
            request.body_size += len(chunk)
            if request._on_chunk is not None:
                request._on_chunk(chunk)
            return
        if request.body_size <= self._max_body:
            request._parts.append(chunk)
        request.body_size += len(chunk)

    def on_message_complete(self) -> None:
        request = self._current
        assert request is not None
        self._current = None
        if self._busy is None:
            self._idle()
        else:
            self.deadline = None  # waiting for our answer is not the client's delay
        self._keep_alive = self._parser.should_keep_alive()
        if request.streaming:
            request.received_ns = self._clock()
        if request.oversized:
            if not self._keep_alive and self._busy is None and not self._waiting:
                self.abort()  # answered already; the client asked to close
            return  # dispatched at its headers
        if request.streaming:
            if request._on_end is not None:
                request._on_end(True)
        else:
            self._complete(request)

    def _complete(self, request: HttpRequest) -> None:
        request.received_ns = self._clock()
        if self._busy is None:
            self.deadline = None
            self._dispatch(request)
        elif len(self._waiting) >= self._limits.max_pipelined:
            self.abort()  # a flood of pipelined requests: not a client we serve
        else:
            self._waiting.append(request)

    # responses
    def _dispatch(self, request: HttpRequest) -> None:
        self._busy = request
        try:
            self._handler(request)
        except Exception as exc:  # a bug in a handler must not hang the client
            request.respond(
                500,
                f'{{"errorMessage":"{type(exc).__name__}","errorType":"InternalServerError"}}\n'.encode(),
            )
            raise

    def write_response(
        self,
        request: HttpRequest,
        status: int,
        body: bytes,
        headers: dict[str, str] | None,
        content_type: str,
    ) -> None:
        if self.closed:
            return
        close = not self._keep_alive and not self._waiting
        self._write_raw(status, body, headers or {}, content_type, close=close)
        self._next()

    def _next(self) -> None:
        """The answer is out: serve the next waiting request, or start the idle clock."""
        self._busy = None
        if self._waiting and not self.closed:
            self._dispatch(self._waiting.popleft())
        elif self._current is None:
            self._idle()

    def write_stream_head(
        self, status: int, headers: list[tuple[str, str]], content_type: str
    ) -> None:
        lines = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} {_reason(status)}"]
        lines.append(f"Content-Type: {content_type}")
        lines.append("Transfer-Encoding: chunked")
        lines.extend(f"{name}: {value}" for name, value in headers)
        self.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def write_bytes(self, data: bytes) -> None:
        if self._transport is not None and not self.closed:
            self._transport.write(data)

    def response_done(self) -> None:
        """A streamed response has ended: close if asked, then serve the next request."""
        if not self._keep_alive and not self._waiting and self._transport is not None:
            self._transport.close()
            self.closed = True
        self._next()

    def _write_raw(
        self, status: int, body: bytes, headers: dict[str, str], content_type: str, close: bool
    ) -> None:
        if self._transport is None or self.closed:
            return
        lines = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} {_reason(status)}"]
        if body or status not in (204, 304):
            lines.append(f"Content-Type: {content_type}")
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._transport.write(head + body)
        if close:
            self._transport.close()
            self.closed = True

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self.closed = True


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# Status lines, built once: this server answers thousands of requests a second in benchmarks.
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}" for status in HTTPStatus}


class HttpServer:
    """A listening socket and the connections it has open."""

    def __init__(
        self,
        server: asyncio.Server,
        live: set[_Connection],
        limits: Limits,
        factory: Callable[[], _Connection] | None = None,
    ) -> None:
        self._server = server
        self._live = live
        self._factory = factory
        self._adopting: set[asyncio.Task[object]] = set()
        host, port = server.sockets[0].getsockname()[:2]
        # host:port as a URL's authority needs it: an IPv6 address goes in brackets
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        timeouts = [limits.header_timeout, limits.body_timeout, limits.idle_timeout or 60.0]
        self._period = min(1.0, max(0.02, min(timeouts) / 4))
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep()

    def _sweep(self) -> None:
        """Cut off the connections whose deadline has passed; again in a moment."""
        now = time.monotonic()
        for conn in [c for c in self._live if c.deadline is not None and c.deadline < now]:
            conn.expire()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self._period, self._sweep)

    def adopt(self, sock: socket.socket) -> None:
        """Serve a connection accepted on another listening socket as one of this server's
        own: a Runtime API address shared by several local Lambdas hands each one the
        connections of its environments (``local_lambda.shared_runtime_api``)."""
        if self._factory is None or not self._server.is_serving():
            sock.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(self._factory, sock))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    def close(self) -> None:
        """Stop listening and close every open connection (parked long polls included)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._adopting):
            task.cancel()
        self._server.close()
        for conn in list(self._live):
            conn.abort()
        self._live.clear()


async def serve(
    handler: Handler,
    host: str,
    port: int,
    max_body: int,
    clock: Callable[[], int],
    early: Callable[[HttpRequest], bool] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> HttpServer:
    """Listen on ``host:port`` (0 = an ephemeral port) and serve ``handler``; requests
    ``early`` accepts are dispatched at their headers (see the module's docstring)."""
    loop = asyncio.get_running_loop()
    live: set[_Connection] = set()

    def connection() -> _Connection:
        return _Connection(handler, max_body, clock, live, early, limits)

    server = await loop.create_server(connection, host, port, reuse_address=True)
    return HttpServer(server, live, limits, connection)
