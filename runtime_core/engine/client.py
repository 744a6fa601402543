"""The Runtime API client, blocking: every call the runtime makes, with the delivery rules.

Its twin, ``engine.aio_client.AsyncRuntimeClient``, has the same methods, awaited; both
build their requests with ``runtime_core.protocol`` and judge the answers there, so only
the waiting differs. Used by start-up (``/init/error``), the blocking engine, each worker
process and the shutdown extension.

Delivery rules (issue "No invocation lost to a connection fault"), the same in both:

- A request whose connection fails before any byte of its answer arrived is sent once
  more on a new connection (the server closed an idle keep-alive connection, or reset
  it). One that may have been answered is never resent; a resent post answered 4xx had
  been taken the first time, and counts as delivered.
- ``next`` reconnects with a bounded backoff (``BACKOFF_S``) and raises ``ApiGone``
  only when the API cannot be reached at all; a post that cannot be delivered is logged
  and the loop goes on (the next ``next`` finds out whether the API is still there).
- An invocation ``/next`` could not describe (``protocol.InvalidInvocation``) gets an
  ``/error`` for its request id, and ``next`` waits for the following one.

Pipelining (``post_then_next``, on unless ``LAMBDABOOT_PIPELINE=0``): ``GET /next`` goes
out right behind the post on the same connection, so the server has it the moment it has
answered the post. The post's answer is read first and judged exactly as ``post`` judges
it; when the server closes the connection after it, or the connection fails, the client
falls back to ``next``'s own rules; when the answers come out of order (an invocation
first), both are used as what they are and pipelining stops for this process. A post
Lambda will refuse for sure (over 6 MB, or past the deadline) goes alone, so its logged
refusal comes before Lambda ends the invocation; an unforeseen refusal (400, 403, or a
413/410 the runtime could not predict) is logged just after Lambda has seen the next
``GET /next``, i.e. after that invocation's REPORT line. A 500 on a post (Lambda's own
failure: the runtime exits) can take down the invocation Lambda had already handed to
the pipelined ``GET /next``; ``LAMBDABOOT_PIPELINE=0`` is the mode without either effect.
"""

from __future__ import annotations

import os
import time

from runtime_core.engine.report import BACKOFF_S, log_lost, stream_lost
from runtime_core.protocol import (
    N_REQUEST_ID,
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
from runtime_core.transport import pipelining, transport_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    from runtime_core.errors import InitError
    from runtime_core.invocation import Invocation
    from runtime_core.outcome import Outcome
    from runtime_core.protocol import Request, Response

    class SyncTransport(Protocol):
        address: str

        def send(self, request: Request) -> Response: ...
        def close(self) -> None: ...


__all__ = ["BlockingStreamedResponse", "RuntimeClient", "make_transport"]

#: Lambda's limit for a buffered response (6 MB): a larger one is answered 413.
RESPONSE_LIMIT = 6 * 1024 * 1024


def make_transport(address: str) -> SyncTransport:
    """The blocking driver ``LAMBDABOOT_TRANSPORT`` asks for (see ``transport_kind``)."""
    if transport_kind() == "httpx":
        from runtime_core.transport.httpx_driver import HttpxTransport

        return HttpxTransport(address)
    from runtime_core.transport.blocking import BlockingTransport

    return BlockingTransport(address)


class RuntimeClient:
    """The Runtime API (and the Extensions API calls the runtime makes), blocking."""

    def __init__(self, address: str, transport: SyncTransport | None = None) -> None:
        self.protocol = RuntimeProtocol(address)
        self.transport = transport or make_transport(address)
        #: The driver's ``send_pair`` once ``pipeline`` turned pipelining on.
        self._send_pair: Any = None

    def pipeline(self, environ: Mapping[str, str] = os.environ) -> None:
        """Pipeline ``GET /next`` behind posts from now on, unless ``LAMBDABOOT_PIPELINE=0``
        (start-up has checked the setting) or the driver cannot (httpx)."""
        if pipelining(environ):
            self._send_pair = getattr(self.transport, "send_pair", None)

    def send(self, request: Request) -> tuple[Response, bool]:
        """Send ``request``; once more on a new connection if the first try got no answer.
        Returns the response and whether it answers the resent copy."""
        try:
            return self.transport.send(request), False
        except Disconnected as exc:
            if exc.answered:
                raise
        return self.transport.send(request), True

    def next(self) -> Invocation:
        """The next invocation; waits (no timeout) while the environment is frozen."""
        request = self.protocol.next_request
        send = self.transport.send
        while True:
            try:  # ``send``'s rule, inlined: this is the warm path
                response = send(request)
            except Disconnected as exc:
                response = self._reach_again(request, exc)
            try:
                return parse_invocation(response)
            except InvalidInvocation as problem:
                self.refuse(problem)

    def _reach_again(self, request: Request, failure: Disconnected) -> Response:
        if not failure.answered:  # once at once, as ``send`` does, then with the backoff
            try:
                return self.transport.send(request)
            except Disconnected as exc:
                failure = exc
        for delay in BACKOFF_S:
            time.sleep(delay)
            try:
                return self.transport.send(request)
            except Disconnected as exc:
                failure = exc
        raise ApiGone(f"the Runtime API cannot be reached any more: {failure}")

    def refuse(self, problem: InvalidInvocation) -> None:
        """Answer an invocation the runtime could not read with its error."""
        log_lost(f"invocation {problem.invocation.request_id}: {problem.message}")
        request = self.protocol.error(
            problem.invocation, invalid_invocation_body(problem), problem.error_type, None
        )
        self._deliver("/error", request, problem.invocation)

    def post(self, invocation: Invocation, outcome: Outcome) -> None:
        """Post the handler's result (or, for an error outcome, its error)."""
        if outcome.is_error:
            self.post_error(invocation, outcome)
        else:
            request = self.protocol.response(invocation, outcome.body, outcome.content_type)
            self._deliver("/response", request, invocation)

    def post_then_next(
        self, invocation: Invocation, outcome: Outcome, meanwhile: Callable[[], None]
    ) -> Invocation:
        """``post`` then ``next``, with ``GET /next`` pipelined behind the post;
        ``meanwhile`` runs once the post is answered, before the next invocation is read."""
        ahead = self._post_pipelined(invocation, outcome)
        meanwhile()
        if ahead is True:  # the GET went out on the connection, which is still open
            try:
                response = self.transport.receive("GET /next (pipelined)")  # type: ignore[attr-defined]
            except Disconnected:
                return self.next()
            try:
                return parse_invocation(response)
            except InvalidInvocation as problem:
                self.refuse(problem)
                return self.next()
        if ahead is False:
            return self.next()
        return ahead  # answered out of order: the invocation came before the post's answer

    def _post_pipelined(self, invocation: Invocation, outcome: Outcome) -> Invocation | bool:
        """Post ``outcome`` with ``GET /next`` behind it when that is safe. True when the
        GET's answer is still to be read, False when ``next`` must ask (no pipelining, or
        the connection was closed or lost), or the invocation itself if it came first."""
        send_pair = self._send_pair
        if (
            send_pair is None
            or len(outcome.body) >= RESPONSE_LIMIT
            or not invocation.remaining_ms()
        ):
            # A refusal that can be foreseen (413 too large, 410 too late) is logged before
            # Lambda hears from the runtime again, so the message stays with its invocation.
            self.post(invocation, outcome)
            return False
        what = "/error" if outcome.is_error else "/response"
        request = self.protocol.post(invocation, outcome)
        try:
            answer, still_open = send_pair(request, self.protocol.next_request)
        except Disconnected as exc:
            if exc.answered:
                log_lost(f"invocation {invocation.request_id}: POST {what} was lost: {exc}")
            else:  # nothing came back: the post alone, once more, on a new connection
                self._deliver_again(what, request, invocation)
            return False
        if N_REQUEST_ID in answer.headers:
            return self._out_of_order(what, answer, invocation)
        problem = post_verdict(what, answer)
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")
        return bool(still_open)

    def _deliver_again(self, what: str, request: Request, invocation: Invocation) -> None:
        try:
            response = self.transport.send(request)
        except Disconnected as exc:
            log_lost(f"invocation {invocation.request_id}: POST {what} was lost: {exc}")
            return
        problem = post_verdict(what, response, resent=True)
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")

    def _out_of_order(
        self, what: str, invocation_answer: Response, posted: Invocation
    ) -> Invocation | bool:
        """The server answered the pipelined ``GET /next`` before the post: take the post's
        answer next, and send one request at a time from now on."""
        self._send_pair = None
        try:
            verdict = self.transport.receive(f"POST {what} (pipelined)")  # type: ignore[attr-defined]
        except Disconnected as exc:
            log_lost(f"invocation {posted.request_id}: POST {what} got no answer: {exc}")
        else:
            problem = post_verdict(what, verdict)
            if problem is not None:
                log_lost(f"invocation {posted.request_id}: {problem}")
        try:
            return parse_invocation(invocation_answer)
        except InvalidInvocation as problem_invocation:
            self.refuse(problem_invocation)
            return False

    def post_error(self, invocation: Invocation, outcome: Outcome) -> None:
        request = self.protocol.error(
            invocation, outcome.body, outcome.error_type, outcome.xray_cause
        )
        self._deliver("/error", request, invocation)

    def _deliver(self, what: str, request: Request, invocation: Invocation) -> None:
        """A refused post is logged, a broken API (500) raises, a lost one is logged."""
        resent = False
        try:  # ``send``'s rule, inlined: this is the warm path
            try:
                response = self.transport.send(request)
            except Disconnected as exc:
                if exc.answered:
                    raise
                resent = True
                response = self.transport.send(request)
        except Disconnected as exc:
            log_lost(f"invocation {invocation.request_id}: POST {what} was lost: {exc}")
            return
        problem = post_verdict(what, response, resent)
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")

    def post_init_error(self, error: InitError) -> None:
        """Report a failed init; the caller exits next, so any answer is only logged."""
        self._report("/init/error", self.protocol.init_error(error.body, error.error_type))

    def post_restore_error(self, error: InitError) -> None:
        """Report a failed after-restore hook (SnapStart), as ``post_init_error``."""
        self._report("/restore/error", self.protocol.restore_error(error.body, error.error_type))

    def _report(self, what: str, request: Request) -> None:
        try:
            response, resent = self.send(request)
        except Disconnected as exc:
            log_lost(f"POST {what} was lost: {exc}")
            return
        if response.status not in (200, 202) and not (resent and response.status < 500):
            log_lost(f"POST {what} answered {response.status}")

    def restore_next(self) -> Response:
        """``GET /restore/next`` (SnapStart): answered once the snapshot is restored."""
        return self.send(self.protocol.restore_next())[0]

    def stream(self, invocation: Invocation) -> BlockingStreamedResponse:
        """A streamed ``/response`` for ``invocation``, on a connection of its own."""
        from runtime_core.transport.blocking import BlockingTransport

        return BlockingStreamedResponse(BlockingTransport(self.transport.address), self, invocation)

    def register_extension(self, name: str, events_json: bytes = b'{"events":[]}') -> Response:
        return self.send(self.protocol.extension_register(name, events_json))[0]

    def next_extension_event(self, extension_id: str) -> Response:
        """``GET /extension/event/next`` by ``next``'s rule (see the async twin)."""
        request = self.protocol.extension_next(extension_id)
        try:
            return self.transport.send(request)
        except Disconnected as exc:
            return self._reach_again(request, exc)

    def close(self) -> None:
        self.transport.close()


class BlockingStreamedResponse:
    """One streamed ``/response``: ``begin`` sends the head (with the first bytes, so an
    error before them can still be an ordinary ``/error``), ``write`` each chunk, and
    ``finish`` ends it, with the error trailers when the handler failed after starting.

    The stream goes on a new connection: its body cannot be sent twice, so it must not
    start on a keep-alive connection the server may be closing.
    """

    def __init__(self, transport: Any, client: RuntimeClient, invocation: Invocation) -> None:
        self._transport = transport
        self._client = client
        self._protocol = client.protocol
        self._invocation = invocation

    def begin(self, content_type: str) -> None:
        self._transport.begin(self._protocol.stream_head(self._invocation, content_type))

    def write(self, data: bytes) -> None:
        if data:
            self._transport.write(stream_chunk(data))

    def finish(self, error: Outcome | None) -> None:
        end = stream_end() if error is None else stream_end(error.error_type, error.body)
        request_id = self._invocation.request_id
        try:
            response = self._transport.finish(end, "POST /response (streamed)")
        except Disconnected as exc:
            log_lost(f"invocation {request_id}: the streamed response was lost: {exc}")
            if not exc.answered:  # never taken, or taken and the copy is refused 4xx
                self._client.post_error(self._invocation, stream_lost(exc))
            return
        finally:
            self._transport.close()
        problem = post_verdict("/response (streamed)", response)
        if problem is not None:
            log_lost(f"invocation {request_id}: {problem}")
