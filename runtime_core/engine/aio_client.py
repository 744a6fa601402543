"""The Runtime API client, async: ``engine.client.RuntimeClient``'s twin, awaited.

Same methods, same delivery rules (see ``engine.client``), same protocol module; used by
the async engine (one client per slot, each with its own connection) and by extension
processes (``runtime_core.extensions.client``).
"""

from __future__ import annotations

import asyncio

from runtime_core.engine.report import BACKOFF_S, log_lost, stream_lost
from runtime_core.protocol import (
    ApiGone,
    Disconnected,
    InvalidInvocation,
    RuntimeProtocol,
    invalid_invocation_body,
    parse_invocation,
    post_verdict,
    stream_chunk,
    stream_end,
)
from runtime_core.transport import transport_kind
from runtime_core.transport.aio import AsyncTransport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from runtime_core.errors import InitError
    from runtime_core.invocation import Invocation
    from runtime_core.outcome import Outcome
    from runtime_core.protocol import Request, Response

    class AsyncDriver(Protocol):
        address: str

        async def send(self, request: Request) -> Response: ...
        def close(self) -> None: ...


__all__ = ["AsyncRuntimeClient", "AsyncStreamedResponse", "make_async_transport"]


def make_async_transport(address: str) -> AsyncDriver:
    """The asyncio driver ``LAMBDABOOT_TRANSPORT`` asks for."""
    if transport_kind() == "httpx":
        from runtime_core.transport.httpx_driver import AsyncHttpxTransport

        return AsyncHttpxTransport(address)
    return AsyncTransport(address)


class AsyncRuntimeClient:
    """The Runtime API (and the Extensions API), for code running on an event loop."""

    def __init__(self, address: str, transport: AsyncDriver | None = None) -> None:
        self.protocol = RuntimeProtocol(address)
        self.transport = transport or make_async_transport(address)

    async def send(self, request: Request) -> tuple[Response, bool]:
        """Send ``request``; once more on a new connection if the first try got no answer.
        Returns the response and whether it answers the resent copy."""
        try:
            return await self.transport.send(request), False
        except Disconnected as exc:
            if exc.answered:
                raise
        return await self.transport.send(request), True

    async def next(self) -> Invocation:
        """The next invocation; waits (no timeout) while the environment is frozen."""
        request = self.protocol.next_request
        while True:
            try:
                response = (await self.send(request))[0]
            except Disconnected as exc:
                response = await self._reach_again(request, exc)
            try:
                return parse_invocation(response)
            except InvalidInvocation as problem:
                await self.refuse(problem)

    async def _reach_again(self, request: Request, failure: Disconnected) -> Response:
        for delay in BACKOFF_S:
            await asyncio.sleep(delay)
            try:
                return await self.transport.send(request)
            except Disconnected as exc:
                failure = exc
        raise ApiGone(f"the Runtime API cannot be reached any more: {failure}")

    async def refuse(self, problem: InvalidInvocation) -> None:
        """Answer an invocation the runtime could not read with its error."""
        log_lost(f"invocation {problem.invocation.request_id}: {problem.message}")
        request = self.protocol.error(
            problem.invocation, invalid_invocation_body(problem), problem.error_type, None
        )
        await self._deliver("/error", request, problem.invocation)

    async def post(self, invocation: Invocation, outcome: Outcome) -> None:
        """Post the handler's result (or, for an error outcome, its error)."""
        if outcome.is_error:
            await self.post_error(invocation, outcome)
        else:
            request = self.protocol.response(invocation, outcome.body, outcome.content_type)
            await self._deliver("/response", request, invocation)

    async def post_error(self, invocation: Invocation, outcome: Outcome) -> None:
        request = self.protocol.error(
            invocation, outcome.body, outcome.error_type, outcome.xray_cause
        )
        await self._deliver("/error", request, invocation)

    async def _deliver(self, what: str, request: Request, invocation: Invocation) -> None:
        try:
            response, resent = await self.send(request)
        except Disconnected as exc:
            log_lost(f"invocation {invocation.request_id}: POST {what} was lost: {exc}")
            return
        problem = post_verdict(what, response, resent)
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")

    async def post_init_error(self, error: InitError) -> None:
        try:
            request = self.protocol.init_error(error.body, error.error_type)
            response, resent = await self.send(request)
        except Disconnected as exc:
            log_lost(f"POST /init/error was lost: {exc}")
            return
        if response.status not in (200, 202) and not (resent and response.status < 500):
            log_lost(f"POST /init/error answered {response.status}")

    def stream(self, invocation: Invocation) -> AsyncStreamedResponse:
        """A streamed ``/response`` for ``invocation``, on a connection of its own."""
        return AsyncStreamedResponse(AsyncTransport(self.transport.address), self, invocation)

    async def register_extension(
        self, name: str, events_json: bytes = b'{"events":[]}'
    ) -> Response:
        return (await self.send(self.protocol.extension_register(name, events_json)))[0]

    async def next_extension_event(self, extension_id: str) -> Response:
        """``GET /extension/event/next`` by ``next``'s rule: asked again (with the backoff)
        even after a cut answer, which loses only the event that never arrived whole (an
        extension cannot act on half an event); ``ApiGone`` when the API is unreachable."""
        request = self.protocol.extension_next(extension_id)
        try:
            return (await self.send(request))[0]
        except Disconnected as exc:
            return await self._reach_again(request, exc)

    def close(self) -> None:
        self.transport.close()


class AsyncStreamedResponse:
    """``engine.client.BlockingStreamedResponse``, awaited: ``begin`` (the head, sent with
    the first bytes), ``write``, ``finish``. ``write`` returns once the socket has taken
    the bytes, which is the handler's backpressure. On a connection of its own, for the
    same reason: its body cannot be sent twice."""

    def __init__(
        self, transport: AsyncTransport, client: AsyncRuntimeClient, invocation: Invocation
    ) -> None:
        self._transport = transport
        self._client = client
        self._protocol = client.protocol
        self._invocation = invocation

    async def begin(self, content_type: str) -> None:
        await self._transport.begin(self._protocol.stream_head(self._invocation, content_type))

    async def write(self, data: bytes) -> None:
        if data:
            await self._transport.write(stream_chunk(data))

    async def finish(self, error: Outcome | None) -> None:
        end = stream_end() if error is None else stream_end(error.error_type, error.body)
        request_id = self._invocation.request_id
        try:
            response = await self._transport.finish(end)
        except Disconnected as exc:
            log_lost(f"invocation {request_id}: the streamed response was lost: {exc}")
            if not exc.answered:  # never taken, or taken and the copy is refused 4xx
                await self._client.post_error(self._invocation, stream_lost(exc))
            return
        finally:
            # "Close the underlying connection after it has successfully written the response."
            self._transport.close()
        problem = post_verdict("/response (streamed)", response)
        if problem is not None:
            log_lost(f"invocation {request_id}: {problem}")
