"""The Runtime API (2018-06-01) and the minimal Extensions API (2020-01-01): AWS's state machine.

One :class:`RuntimeApi` serves every environment a :class:`~local_lambda.LocalLambda`
starts (the address stays the same across re-inits); :meth:`RuntimeApi.reset` begins a new
environment. It answers the runtime's requests with the spec's status codes and RIE's
bodies, and tells the emulator what happened through futures on :class:`Invocation`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from . import protocol
from .extensions_api import Extension, ExtensionsApi
from .httpserver import Request
from .layers import Filesystem
from .model import Timings
from .streaming import H_RESPONSE_MODE, MAX_STREAM_BYTES, ResponseChunks, is_streamed_response
from .telemetry import Telemetry

CONTENT_JSON = "application/json"
_FORGET_AFTER = 1000  # how many finished request ids are remembered (for 403/410 answers)


@dataclass
class Outcome:
    """How an invocation ended, as the invoker sees it."""

    payload: bytes
    function_error: str | None = None
    error_type: str | None = None
    status: str = "success"  # success | error | timeout | failure (telemetry's statuses)


@dataclass
class Invocation:
    """One invoke on its way through the Runtime API."""

    event: bytes
    function_arn: str
    content_type: str = CONTENT_JSON
    trace_id: str = ""
    client_context: str = ""
    cognito_identity: str = ""
    tenant_id: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invocation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline_ms: int = 0
    timings: Timings = field(default_factory=Timings)
    outcome: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    following_next: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Resolves when the runtime begins a streamed response (its chunks come through it).
    stream: asyncio.Future[ResponseChunks] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: Outcome) -> bool:
        if self.outcome.done():
            return False
        self.outcome.set_result(outcome)
        return True


@dataclass
class Fault:
    """An injected answer for the next matching request (see ``LocalLambda.inject_fault``)."""

    endpoint: str  # next | response | error | init_error | register | event_next
    status: int = 500
    body: bytes | None = None
    drop: bool = False
    times: int = 1


class RuntimeApi:
    """Request handler for the address in AWS_LAMBDA_RUNTIME_API."""

    def __init__(
        self, function_name: str, handler: str, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.function_name = function_name
        self.handler = handler
        self.clock = clock
        self.timeout_s = 3.0
        # Invocations in flight at once (Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY).
        self.concurrency = 1
        self.initialization_type = "on-demand"
        self.faults: list[Fault] = []
        self._finished: OrderedDict[str, str] = OrderedDict()  # request id -> "done" | "timeout"
        self.ext_api = ExtensionsApi(function_name, handler)
        self.ext_api.on_change = self._extensions_changed
        self.ext_api.on_failure = self.fail_extension
        self.telemetry = Telemetry(self.ext_api)
        # The function's /opt and task root, prepared by the first sandbox (layers.py).
        self.filesystem: Filesystem | None = None
        self.reset()

    def reset(self) -> None:
        """Begin a new environment: registration open, nothing delivered yet."""
        loop = asyncio.get_running_loop()
        self.ext_api.reset()
        self.telemetry.reset()
        # An extension's failure after init (exit/error, crash): the environment must reset.
        self.extension_failure: str | None = None
        self._answered: Invocation | None = None  # its runtime waits again; extensions may not
        self.init_started_ns = 0  # set by the sandbox when init begins
        self.runtime_ready_ns = 0
        self.init_ready: asyncio.Future[int] = loop.create_future()
        self.init_error: asyncio.Future[Outcome] = loop.create_future()
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self._parked_next: Request | None = None
        # At concurrency > 1: invocations by request id, those waiting for a /next, and
        # the /next polls waiting for an invocation.
        self.in_flight: dict[str, Invocation] = {}
        self._queued: deque[Invocation] = deque()
        self._parked: deque[Request] = deque()

    # what the emulator calls
    def deliver(self, invocation: Invocation) -> None:
        """Hand ``invocation`` to the runtime: now if it is waiting on /next, else at its next /next."""
        if self.concurrency > 1:
            self._queued.append(invocation)
            self._dispatch_many()
            return
        self.pending = invocation
        parked = self._parked_next
        if parked is not None and parked.connected:
            self._parked_next = None
            self._send(parked, invocation)

    def forget(self, invocation: Invocation, how: str) -> None:
        """The invocation is over (``how`` = 'done' or 'timeout'); later posts for it get 403 or 410."""
        self._finished[invocation.request_id] = how
        while len(self._finished) > _FORGET_AFTER:
            self._finished.popitem(last=False)
        if self.current is invocation:
            self.current = None
        if self.pending is invocation:
            self.pending = None
        self.in_flight.pop(invocation.request_id, None)
        if invocation in self._queued:
            self._queued.remove(invocation)
        if invocation.stream.done():
            invocation.stream.result().end()

    def _dispatch_many(self) -> None:
        """Concurrency > 1: pair queued invocations with waiting /next polls, once init is over."""
        if not self.init_ready.done():
            return
        while self._queued and self._parked:
            parked = self._parked.popleft()
            if parked.connected:
                self._send(parked, self._queued.popleft())

    def is_early(self, request: Request) -> bool:
        """For the HTTP server: a streamed /response is handled as its body arrives."""
        return is_streamed_response(request.method, request.path, request.headers)

    @property
    def extensions(self) -> dict[str, Extension]:
        return self.ext_api.extensions

    @property
    def registration_open(self) -> bool:
        return self.ext_api.registration_open

    @property
    def has_external_extensions(self) -> bool:
        return any(ext.external for ext in self.extensions.values())

    def _extensions_changed(self) -> None:
        self._check_init()
        self._maybe_end()

    def fail_extension(self, error_type: str, message: str) -> None:
        """An extension reported init/exit error or crashed: init fails, or the environment
        resets once the current invocation ends (spec §5 "Failures")."""
        if not self.init_ready.done():
            if not self.init_error.done():
                body = protocol.error_body(error_type, message)
                self.init_error.set_result(Outcome(body, "Unhandled", error_type, "failure"))
            return
        if self.ext_api.shutting_down:
            return
        self.extension_failure = self.extension_failure or error_type  # the first one counts
        for inv in (self.current, self._answered):
            if inv is not None and not inv.following_next.done():
                inv.following_next.set_result(None)

    def _maybe_end(self) -> None:
        """The invocation ends when its runtime and every extension wait for the next event."""
        inv = self._answered
        if inv is not None and self.ext_api.quiet:
            self._answered = None
            if not inv.following_next.done():
                inv.following_next.set_result(None)

    # the HTTP handler
    def handle(self, request: Request) -> None:
        path = request.path
        if path.startswith(protocol.RUNTIME_PREFIX):
            self._runtime(request, path[len(protocol.RUNTIME_PREFIX) :])
        elif path.startswith(protocol.EXTENSION_PREFIX):
            self._extension(request, path[len(protocol.EXTENSION_PREFIX) :])
        elif path == protocol.TELEMETRY_PATH:
            self.telemetry.handle(request, "telemetry")
        elif path == protocol.LOGS_PATH:
            self.telemetry.handle(request, "logs")
        else:
            request.respond(
                404, protocol.error_body("NotFound", f"No such path: {request.method} {path}")
            )

    def _runtime(self, request: Request, rest: str) -> None:
        if rest == "/invocation/next" and request.method == "GET":
            if not self._fault(request, "next"):
                self._next(request)
        elif rest.startswith("/invocation/") and request.method == "POST":
            request_id, _, kind = rest[len("/invocation/") :].rpartition("/")
            if kind not in ("response", "error"):
                request.respond(
                    404, protocol.error_body("NotFound", f"No such path: {request.path}")
                )
            elif not self._fault(request, kind):
                self._result(request, request_id, kind)
        elif rest == "/init/error" and request.method == "POST":
            if not self._fault(request, "init_error"):
                self._init_error(request)
        else:
            request.respond(
                404,
                protocol.error_body("NotFound", f"No such path: {request.method} {request.path}"),
            )

    def _fault(self, request: Request, endpoint: str) -> bool:
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                if fault.drop:
                    request.drop()
                else:
                    request.respond(
                        fault.status,
                        fault.body if fault.body is not None else _default_body(fault.status),
                    )
                return True
        return False

    def _next(self, request: Request) -> None:
        if not self.runtime_ready_ns:
            self.runtime_ready_ns = request.received_ns
            self.ext_api.close_registration()
            self._check_init()
        if self.concurrency > 1:  # several polls wait at once; a poll says nothing of the others
            self._parked.append(request)
            self._dispatch_many()
            return
        current = self.current
        if current is not None:
            current.timings.following_next_ns = request.received_ns
            if current.settle(
                Outcome(
                    protocol.platform_error(
                        current.request_id,
                        "Runtime.MissingResponse",
                        "the runtime asked for the next invocation without posting a response or an error",
                    ),
                    "Unhandled",
                    "Runtime.MissingResponse",
                    "error",
                )
            ):
                self.forget(current, "done")
            self.current = None
            self._answered = current
            self._maybe_end()
        parked = self._parked_next
        if parked is not None and parked.connected:
            request.respond(403, protocol.invalid_state("InvocationNext", "InvocationNext"))
            return
        if self.pending is not None and self.init_ready.done():
            self._send(request, self.pending)
        else:
            self._parked_next = request

    def _send(self, request: Request, inv: Invocation) -> None:
        if self.concurrency > 1:
            self.in_flight[inv.request_id] = inv
        else:
            self.pending = None
            self.current = inv
        inv.deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
        headers = {
            protocol.H_REQUEST_ID: inv.request_id,
            protocol.H_DEADLINE: str(inv.deadline_ms),
            protocol.H_FUNCTION_ARN: inv.function_arn,
            protocol.H_INVOCATION_ID: inv.invocation_id,
        }
        if inv.trace_id:
            headers[protocol.H_TRACE_ID] = inv.trace_id
        if inv.client_context:
            headers[protocol.H_CLIENT_CONTEXT] = inv.client_context
        if inv.cognito_identity:
            headers[protocol.H_COGNITO_IDENTITY] = inv.cognito_identity
        if inv.tenant_id:
            headers[protocol.H_TENANT_ID] = inv.tenant_id
        request.respond(200, inv.event, headers, inv.content_type or CONTENT_JSON)
        inv.timings.next_answered_ns = self.clock()
        self.ext_api.invoke(inv.request_id, inv.deadline_ms, inv.function_arn, inv.trace_id)

    def _result(self, request: Request, request_id: str, kind: str) -> None:
        inv = self.in_flight.get(request_id) if self.concurrency > 1 else self.current
        if inv is None or inv.request_id != request_id:
            how = self._finished.get(request_id)
            if how == "timeout":
                request.respond(410, protocol.INVOKE_TIMEOUT)
            elif how == "done":
                request.respond(
                    403, protocol.invalid_state("InvocationResponse", "InvocationResponse")
                )
            else:
                request.respond(400, protocol.INVALID_REQUEST_ID)
            return
        # Answered, or a streamed response in progress: only that stream's end settles it.
        if inv.outcome.done() or inv.stream.done():
            request.respond(403, protocol.invalid_state("InvocationResponse", "InvocationResponse"))
            return
        if request.streaming:
            self._streamed_result(request, inv)
            return
        inv.timings.result_received_ns = request.received_ns
        if request.body_size > protocol.MAX_PAYLOAD_BYTES:
            request.respond(413, protocol.TOO_LARGE)
            outcome = Outcome(
                protocol.response_too_large_for_invoker(request.body_size),
                "Unhandled",
                "Function.ResponseSizeTooLarge",
                "error",
            )
        else:
            request.respond(202, protocol.ACCEPTED)
            outcome = _outcome_of(request, kind)
        inv.timings.accepted_written_ns = self.clock()
        inv.settle(outcome)
        # Answered: a second post for this id gets 403, also after the runtime's next /next.
        self._finished[inv.request_id] = "done"

    def _streamed_result(self, request: Request, inv: Invocation) -> None:
        """A streamed /response (spec §2): chunks go on as they arrive; trailers carry an error."""
        mode = request.headers.get(H_RESPONSE_MODE, "")
        if mode != "streaming":
            request.respond(
                400,
                protocol.error_body(
                    "InvalidFunctionResponseMode", f"Unsupported response mode {mode!r}"
                ),
            )
            _fail(inv, "Runtime.InvalidResponseModeHeader", f"invalid response mode {mode!r}")
            return
        content_type = request.headers.get("content-type") or "application/octet-stream"
        chunks = ResponseChunks(content_type, request.pause_reading, request.resume_reading)
        inv.stream.set_result(chunks)

        def on_chunk(data: bytes) -> None:
            if request.answered or chunks.ended:
                return
            if chunks.size + len(data) > MAX_STREAM_BYTES:
                request.respond(413, protocol.TOO_LARGE)
                chunks.end()
                _fail(
                    inv,
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size exceeded maximum allowed payload size "
                    f"({MAX_STREAM_BYTES} bytes).",
                )
                return
            chunks.feed(data)

        def on_end(complete: bool) -> None:
            chunks.end()
            if request.answered:
                return
            if self._finished.get(inv.request_id) == "timeout":
                request.respond(410, protocol.INVOKE_TIMEOUT)
                return
            if not complete:
                _fail(
                    inv,
                    "Runtime.TruncatedResponse",
                    "the runtime's connection closed before the streamed response ended",
                )
                return
            inv.timings.result_received_ns = request.received_ns
            request.respond(202, protocol.ACCEPTED)
            outcome = _outcome_of(request, "response")
            if outcome.function_error is None:
                outcome = Outcome(chunks.joined())
            inv.timings.accepted_written_ns = self.clock()
            inv.settle(outcome)
            self._finished[inv.request_id] = "done"

        request.receive(on_chunk, on_end)

    def _init_error(self, request: Request) -> None:
        if self.runtime_ready_ns or self.init_error.done():
            request.respond(403, protocol.invalid_state("InitError", "InitError"))
            return
        error_type = _valid_error_type(request.headers.get(protocol.H_ERROR_TYPE, ""))
        request.respond(202, protocol.ACCEPTED)
        self.init_error.set_result(Outcome(request.body, "Unhandled", error_type, "error"))

    def _check_init(self) -> None:
        if self.init_ready.done() or not self.runtime_ready_ns:
            return
        if self.ext_api.all_polled:
            self.init_ready.set_result(self.clock())
            self.telemetry.close_subscriptions()
            self.telemetry.publish(
                "platform",
                "platform.initRuntimeDone",
                {
                    "initializationType": self.initialization_type,
                    "phase": "init",
                    "status": "success",
                },
            )
            if self.init_started_ns:
                ms = (self.init_ready.result() - self.init_started_ns) / 1e6
                self.telemetry.publish(
                    "platform",
                    "platform.initReport",
                    {
                        "initializationType": self.initialization_type,
                        "phase": "init",
                        "status": "success",
                        "metrics": {"durationMs": round(ms, 3)},
                    },
                )
            if (
                self.pending is not None
                and self._parked_next is not None
                and self._parked_next.connected
            ):
                parked, self._parked_next = self._parked_next, None
                self._send(parked, self.pending)
            self._dispatch_many()

    # Extensions API (see extensions_api.py); faults are injected here
    def _extension(self, request: Request, rest: str) -> None:
        if rest == "/register" and request.method == "POST" and self._fault(request, "register"):
            return
        if rest == "/event/next" and request.method == "GET" and self._fault(request, "event_next"):
            return
        self.ext_api.handle(request, rest)


def _outcome_of(request: Request, kind: str) -> Outcome:
    if kind == "error":
        error_type = _valid_error_type(request.headers.get(protocol.H_ERROR_TYPE, ""))
        return Outcome(request.body, "Unhandled", error_type, "error")
    trailer_type = request.trailers.get(protocol.H_ERROR_TYPE)
    if trailer_type:  # a streamed response that failed midway reports in its trailers
        try:
            payload = base64.b64decode(
                request.trailers.get(protocol.H_ERROR_BODY_TRAILER, ""), validate=True
            )
        except binascii.Error:
            payload = b""
        return Outcome(
            payload or protocol.error_body(trailer_type, "Streamed response failed"),
            "Unhandled",
            _valid_error_type(trailer_type),
            "error",
        )
    return Outcome(request.body)


def _fail(inv: Invocation, error_type: str, detail: str) -> None:
    """End ``inv`` with a platform-made error (the runtime's post was unusable)."""
    body = protocol.platform_error(inv.request_id, error_type, detail)
    inv.settle(Outcome(body, "Unhandled", error_type, "error"))


def _valid_error_type(value: str) -> str:
    """RAPID keeps an error type only if it looks like Runtime.X or Function.X (spec §1.3)."""
    prefix, _, rest = value.partition(".")
    if prefix in ("Runtime", "Function") and rest[:1].isupper() and rest.isalpha():
        return value
    return "Function.Unknown" if prefix == "Function" else "Runtime.Unknown"


def _default_body(status: int) -> bytes:
    return {
        400: protocol.INVALID_REQUEST_ID,
        403: protocol.invalid_state("Invoking", "Invoking"),
        410: protocol.INVOKE_TIMEOUT,
        413: protocol.TOO_LARGE,
        500: protocol.INTERNAL_ERROR,
    }.get(status, protocol.error_body("InjectedFault", f"status {status}"))
