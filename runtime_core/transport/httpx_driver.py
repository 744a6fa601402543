"""httpx drivers (``LAMBDABOOT_TRANSPORT=httpx``): the same requests, sent by a general client.

They exist to compare against (httpx costs ~50 ms to import and ~1 ms per request here),
not to be fast. Responses are buffered whole, as the socket drivers do.
"""

from __future__ import annotations

import httpx

from runtime_core.protocol import USER_AGENT, Disconnected, Request, Response

__all__ = ["AsyncHttpxTransport", "HttpxTransport"]

# No timeout at all: GET /next waits while the environment is frozen.
_NO_TIMEOUT = httpx.Timeout(None)


def _response(reply: httpx.Response) -> Response:
    headers = {name.lower(): value for name, value in reply.headers.items()}
    return Response(reply.status_code, headers, reply.content)


def _lost(address: str, request: Request, exc: Exception) -> Disconnected:
    # httpx does not say how far the answer got; only these two mean "none of it".
    unanswered = isinstance(exc, httpx.ConnectError) or (
        isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc)
    )
    return Disconnected(
        f"lost the connection to the Runtime API at {address} "
        f"during {request.method} {request.path}: {exc!r}",
        answered=not unanswered,
    )


class HttpxTransport:
    """A blocking driver on ``httpx.Client`` (one pooled keep-alive connection)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client = httpx.Client(
            base_url=f"http://{address}", timeout=_NO_TIMEOUT, headers={"User-Agent": USER_AGENT}
        )

    def send(self, request: Request) -> Response:
        try:
            reply = self._client.request(
                request.method, request.path, headers=request.headers, content=request.body
            )
        except httpx.TransportError as exc:
            raise _lost(self.address, request, exc) from None
        return _response(reply)

    def close(self) -> None:
        self._client.close()


class AsyncHttpxTransport:
    """An asyncio driver on ``httpx.AsyncClient``."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client = httpx.AsyncClient(
            base_url=f"http://{address}", timeout=_NO_TIMEOUT, headers={"User-Agent": USER_AGENT}
        )

    async def send(self, request: Request) -> Response:
        try:
            reply = await self._client.request(
                request.method, request.path, headers=request.headers, content=request.body
            )
        except httpx.TransportError as exc:
            raise _lost(self.address, request, exc) from None
        return _response(reply)

    def close(self) -> None:
        pass  # the process is ending; AsyncClient.aclose would need the loop
