"""An asyncio driver (run on uvloop by the async engine): one keep-alive connection.

A bare ``asyncio.Protocol`` feeding the same httptools reader as the blocking driver,
rather than streams, so each request costs one ``write`` and one future. A streamed
``/response`` is written in parts (``begin``, ``write``, ``finish``); ``write`` waits
while the socket's buffer is above its high-water mark, which is the runtime's
backpressure: a slow reader never makes it buffer without bound.
"""

from __future__ import annotations

import asyncio
from typing import cast

from runtime_core.protocol import ApiError, Request, Response, ResponseReader
from runtime_core.transport.blocking import split_address

__all__ = ["AsyncTransport"]


class _Connection(asyncio.Protocol):
    def __init__(self, transport: AsyncTransport) -> None:
        self._owner = transport
        self.reader = ResponseReader()
        self.waiter: asyncio.Future[Response] | None = None
        self.sock: asyncio.Transport | None = None
        self.lost: str | None = None
        self.drained: asyncio.Future[None] | None = None

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
        try:
            self.reader.feed(data)
        except ApiError as exc:
            self._fail(str(exc))
            return
        done = self.reader.done
        if done and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(done.pop(0))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the connection closed ({exc or 'by the server'})")

    def _fail(self, why: str) -> None:
        self.lost = why
        self._release_writer()
        if self.sock is not None:
            self.sock.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                ApiError(f"lost the connection to the Runtime API at {self._owner.address}: {why}")
            )


class AsyncTransport:
    """Sends requests to the Runtime API over one persistent connection, one at a time."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._host, self._port = split_address(address)
        self._connection: _Connection | None = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), self._host, self._port
            )
        except OSError as exc:
            raise ApiError(f"cannot connect to the Runtime API at {self.address}: {exc}") from None
        self._connection = connection
        return connection

    async def send(self, request: Request) -> Response:
        """Send ``request`` and wait, without a timeout, for its response."""
        await self.begin(request.raw)
        return await self.finish(b"")

    async def begin(self, data: bytes) -> None:
        """Start a request with ``data`` (its head, or all of it); its response is awaited by ``finish``."""
        connection = self._connection
        if connection is None or connection.lost is not None:
            connection = await self._connect()
        connection.waiter = asyncio.get_running_loop().create_future()
        await self.write(data)

    async def write(self, data: bytes) -> None:
        """More bytes of the request begun; returns when the socket's buffer has room again."""
        connection = self._connection
        if connection is None or connection.sock is None or connection.lost is not None:
            why = connection.lost if connection is not None else "not connected"
            raise ApiError(f"lost the connection to the Runtime API at {self.address}: {why}")
        if data:
            connection.sock.write(data)
        if connection.drained is not None:
            await connection.drained

    async def finish(self, data: bytes) -> Response:
        """The request's last bytes; waits, without a timeout, for its response."""
        await self.write(data)
        connection = self._connection
        assert connection is not None and connection.waiter is not None
        try:
            response = await connection.waiter
        finally:
            connection.waiter = None
        if not response.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self._connection is not None and self._connection.sock is not None:
            self._connection.sock.close()
        self._connection = None
