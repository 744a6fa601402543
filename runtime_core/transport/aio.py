"""An asyncio driver (run on uvloop by the async engine): one keep-alive connection.

A bare ``asyncio.Protocol`` feeding the same httptools reader as the blocking driver,
rather than streams, so each request costs one ``write`` and one future.
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
        connection = self._connection
        if connection is None or connection.lost is not None:
            connection = await self._connect()
        assert connection.sock is not None
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        connection.waiter = waiter
        connection.sock.write(request.raw)
        try:
            response = await waiter
        finally:
            connection.waiter = None
        if not response.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self._connection is not None and self._connection.sock is not None:
            self._connection.sock.close()
        self._connection = None
