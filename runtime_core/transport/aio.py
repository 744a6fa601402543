"""An asyncio driver (run on uvloop by the async engine): one keep-alive connection.

A bare ``asyncio.Protocol`` feeding the same httptools reader as the blocking driver,
rather than streams, so each request costs one ``write`` and one future. A streamed
``/response`` is written in parts (``begin``, ``write``, ``finish``); ``write`` waits
while the socket's buffer is above its high-water mark, which is the runtime's
backpressure: a slow reader never makes it buffer without bound.

The loop sees a server's close or stray bytes as they come: a connection closed while
idle is replaced at the next request, and bytes that arrive with no request outstanding
(an unsolicited response) drop the connection, so they are never taken as the next
request's answer. A failure during a request is a ``Disconnected`` that says whether any
byte of the answer had arrived.
"""

from __future__ import annotations

import asyncio
from typing import cast

from runtime_core.protocol import ApiError, Disconnected, Request, Response, ResponseReader
from runtime_core.transport import keep_stdio, split_address

__all__ = ["AsyncTransport"]


class _Connection(asyncio.Protocol):
    def __init__(self, transport: AsyncTransport) -> None:
        self._owner = transport
        self.reader = ResponseReader()
        self.waiter: asyncio.Future[Response] | None = None
        self.sock: asyncio.Transport | None = None
        self.lost: str | None = None
        self.drained: asyncio.Future[None] | None = None
        #: Whether any byte of the current request's answer has arrived.
        self.answered = False

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_writer()

    def _release_writer(self) -> None:
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sock = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self._fail("the Runtime API sent a response with no request outstanding")
            return
        self.answered = True
        try:
            self.reader.feed(data)
        except ApiError as exc:
            self._fail(str(exc))
            return
        done = self.reader.done
        if done:
            waiter.set_result(done.pop(0))
            if done or self.reader.partial:  # a second answer to one request: unsolicited
                self._fail("the Runtime API sent more than one response to one request")

    def eof_received(self) -> bool | None:
        waiter = self.waiter
        if waiter is not None and not waiter.done() and self.reader.feed_eof():
            waiter.set_result(self.reader.done.pop(0))  # a body that ran to the close
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the connection closed ({exc or 'by the server'})")

    def _fail(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        self._release_writer()
        if self.sock is not None:
            self.sock.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                Disconnected(
                    f"lost the connection to the Runtime API at {self._owner.address}: {why}",
                    self.answered,
                )
            )


class AsyncTransport:
    """Sends requests to the Runtime API over one persistent connection, one at a time."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._host, self._port = split_address(address)
        self._connection: _Connection | None = None

    async def _connect(self) -> _Connection:
        keep_stdio()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), self._host, self._port
            )
        except OSError as exc:
            raise Disconnected(
                f"cannot connect to the Runtime API at {self.address}: {exc}", answered=False
            ) from None
        self._connection = connection
        return connection

    async def send(self, request: Request) -> Response:
        """Send ``request`` and wait, without a timeout, for its response."""
        await self.begin(request.raw)
        return await self.finish(request.body if request.split else b"")

    async def begin(self, data: bytes) -> None:
        """Start a request with ``data`` (its head, or all of it); its response is awaited by
        ``finish``."""
        connection = self._connection
        if connection is None or connection.lost is not None:
            connection = await self._connect()
        connection.answered = False
        connection.waiter = asyncio.get_running_loop().create_future()
        await self.write(data)

    async def write(self, data: bytes) -> None:
        """More bytes of the request begun; returns when the socket's buffer has room again."""
        connection = self._connection
        if connection is None or connection.sock is None or connection.lost is not None:
            why = connection.lost if connection is not None else "not connected"
            answered = connection.answered if connection is not None else False
            raise Disconnected(
                f"lost the connection to the Runtime API at {self.address}: {why}", answered
            )
        if data:
            connection.sock.write(data)
        if connection.drained is not None:
            await connection.drained

    async def finish(self, data: bytes) -> Response:
        """The request's last bytes; waits, without a timeout, for its response."""
        connection = self._connection
        try:
            try:
                await self.write(data)
            except Disconnected:
                # The server may have answered before it closed (a 413 half-way through
                # a body): that answer stands.
                waiter = connection.waiter if connection is not None else None
                if waiter is None or not waiter.done() or waiter.exception() is not None:
                    raise
            assert connection is not None and connection.waiter is not None
            response = await connection.waiter
        finally:
            if connection is not None:
                connection.waiter = None
        if not response.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self._connection is not None and self._connection.sock is not None:
            self._connection.sock.close()
        self._connection = None
