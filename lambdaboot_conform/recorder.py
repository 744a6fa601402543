"""A recording proxy between the runtime under test and the Runtime API.

The checks need to see what the runtime *sent* (headers such as the X-Ray cause or the
echoed invocation id, trailers, every post), which the invoker's view does not show. So the
runtime is pointed (``AWS_LAMBDA_RUNTIME_API``) at this proxy, which forwards bytes both
ways unchanged and parses a copy of them with httptools. A dropped connection upstream is
dropped downstream too, so injected faults reach the runtime as they are.

It can also add empty ``Client-Context``/``Cognito-Identity``/``Tenant-Id`` headers to every
``/next`` answer, as Lambda Managed Instances do (spec §1.2), which the local Lambda never sends.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import httptools

EMPTY_HEADERS = (
    b"Lambda-Runtime-Client-Context: \r\n"
    b"Lambda-Runtime-Cognito-Identity: \r\n"
    b"Lambda-Runtime-Aws-Tenant-Id: \r\n"
)


@dataclass
class Exchange:
    """One request the runtime sent and the answer it got (status None: none came)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""


class _RequestSide:
    """httptools callbacks for the runtime's side of one connection."""

    def __init__(self, done: list[Exchange], waiting: list[Exchange]) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self._done = done
        self._waiting = waiting
        self._current: Exchange | None = None
        self._in_trailers = False
        self._parts: list[bytes] = []

    def on_message_begin(self) -> None:
        self._in_trailers = False
        self._parts = []

    def on_url(self, url: bytes) -> None:
        method = self.parser.get_method().decode()
        self._current = Exchange(method, url.decode("latin-1").partition("?")[0])

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._current is not None
        target = self._current.trailers if self._in_trailers else self._current.headers
        target[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._in_trailers = True

    def on_body(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def on_message_complete(self) -> None:
        exchange = self._current
        assert exchange is not None
        exchange.body = b"".join(self._parts)
        self._current = None
        self._waiting.append(exchange)
        self._done.append(exchange)


class _ResponseSide:
    """httptools callbacks for the Runtime API's side of one connection."""

    def __init__(self, waiting: list[Exchange]) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self._waiting = waiting
        self._headers: dict[str, str] = {}
        self._parts: list[bytes] = []
        self.at_start = True

    def on_message_begin(self) -> None:
        self._headers = {}
        self._parts = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def on_message_complete(self) -> None:
        self.at_start = True
        if self._waiting:
            exchange = self._waiting.pop(0)
            exchange.status = self.parser.get_status_code()
            exchange.response_headers = self._headers
            exchange.response_body = b"".join(self._parts)


class Recorder:
    """The proxy. ``start()`` gives its address; ``connect_to(runtime_api)`` before any
    runtime starts."""

    def __init__(self, empty_headers: bool = False) -> None:
        self.empty_headers = empty_headers
        self.exchanges: list[Exchange] = []
        self.address = ""
        self._upstream: tuple[str, int] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="conform-recorder", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> str:
        self._thread.start()
        self.address = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        return self.address

    def connect_to(self, runtime_api: str) -> None:
        host, _, port = runtime_api.rpartition(":")
        self._upstream = (host, int(port))

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def requests(self, method: str | None = None, path_end: str = "") -> list[Exchange]:
        """Recorded requests, in the order they were complete, filtered by method and path
        ending."""
        return [
            e
            for e in list(self.exchanges)
            if (method is None or e.method == method) and e.path.endswith(path_end)
        ]

    async def _listen(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._upstream is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        waiting: list[Exchange] = []
        requests = _RequestSide(self.exchanges, waiting)
        responses = _ResponseSide(waiting)

        def from_runtime(data: bytes) -> bytes:
            requests.parser.feed_data(data)
            return data

        pending = bytearray()

        def from_api(data: bytes) -> bytes:
            nonlocal pending
            if (
                self.empty_headers
                and responses.at_start
                and waiting
                and waiting[0].path.endswith("/invocation/next")
            ):
                pending += data
                end = pending.find(b"\r\n")
                if end < 0:
                    return b""
                data = bytes(pending[: end + 2]) + EMPTY_HEADERS + bytes(pending[end + 2 :])
                pending = bytearray()
            responses.at_start = False
            responses.parser.feed_data(data)
            return data

        await asyncio.gather(
            _pump(reader, up_writer, from_runtime), _pump(up_reader, writer, from_api)
        )
        self._writers.difference_update((writer, up_writer))


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: object) -> None:
    """Copy ``source`` to ``sink`` through ``seen``; a reset on one side resets the other."""
    clean = False
    try:
        while data := await source.read(65536):
            out = seen(data)  # type: ignore[operator]
            if out:
                sink.write(out)
                await sink.drain()
        clean = True
    except (OSError, httptools.HttpParserError):
        pass
    finally:
        if clean:
            sink.close()
        else:
            sink.transport.abort()
