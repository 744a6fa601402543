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
import json
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from . import protocol
from .httpserver import Request
from .model import Timings

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


@dataclass
class Extension:
    name: str
    events: list[str]
    external: bool
    polled: bool = False


class RuntimeApi:
    """Request handler for the address in AWS_LAMBDA_RUNTIME_API."""

    def __init__(
        self, function_name: str, handler: str, clock: Callable[[], int] = time.perf_counter_ns
    ) -> None:
        self.function_name = function_name
        self.handler = handler
        self.clock = clock
        self.timeout_s = 3.0
        self.faults: list[Fault] = []
        self._finished: OrderedDict[str, str] = OrderedDict()  # request id -> "done" | "timeout"
        self.reset()

    def reset(self) -> None:
        """Begin a new environment: registration open, nothing delivered yet."""
        loop = asyncio.get_running_loop()
        self.extensions: dict[str, Extension] = {}
        self.registration_open = True
        self.runtime_ready_ns = 0
        self.init_ready: asyncio.Future[int] = loop.create_future()
        self.init_error: asyncio.Future[Outcome] = loop.create_future()
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self._parked_next: Request | None = None

    # what the emulator calls
    def deliver(self, invocation: Invocation) -> None:
        """Hand ``invocation`` to the runtime: now if it is waiting on /next, else at its next /next."""
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

    @property
    def has_external_extensions(self) -> bool:
        return any(ext.external for ext in self.extensions.values())

    # the HTTP handler
    def handle(self, request: Request) -> None:
        path = request.path
        if path.startswith(protocol.RUNTIME_PREFIX):
            self._runtime(request, path[len(protocol.RUNTIME_PREFIX) :])
        elif path.startswith(protocol.EXTENSION_PREFIX):
            self._extension(request, path[len(protocol.EXTENSION_PREFIX) :])
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
            self.registration_open = False
            self._check_init()
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
            if not current.following_next.done():
                current.following_next.set_result(None)
        parked = self._parked_next
        if parked is not None and parked.connected:
            request.respond(403, protocol.invalid_state("InvocationNext", "InvocationNext"))
            return
        if self.pending is not None and self.init_ready.done():
            self._send(request, self.pending)
        else:
            self._parked_next = request

    def _send(self, request: Request, inv: Invocation) -> None:
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

    def _result(self, request: Request, request_id: str, kind: str) -> None:
        inv = self.current
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
        if inv.outcome.done():
            request.respond(403, protocol.invalid_state("InvocationResponse", "InvocationResponse"))
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
        if all(ext.polled for ext in self.extensions.values()):
            self.init_ready.set_result(self.clock())
            if (
                self.pending is not None
                and self._parked_next is not None
                and self._parked_next.connected
            ):
                parked, self._parked_next = self._parked_next, None
                self._send(parked, self.pending)

    # Extensions API
    def _extension(self, request: Request, rest: str) -> None:
        if rest == "/register" and request.method == "POST":
            if not self._fault(request, "register"):
                self._register(request)
        elif rest == "/event/next" and request.method == "GET":
            if not self._fault(request, "event_next"):
                self._event_next(request)
        elif rest in ("/init/error", "/exit/error") and request.method == "POST":
            if self._known_extension(request) is not None:
                request.respond(202, protocol.ACCEPTED)
        else:
            request.respond(
                404,
                protocol.error_body("NotFound", f"No such path: {request.method} {request.path}"),
            )

    def _register(self, request: Request) -> None:
        name = request.headers.get(protocol.H_EXTENSION_NAME, "")
        try:
            events = list(json.loads(request.body or b"{}").get("events", []))
        except (ValueError, AttributeError, TypeError):
            request.respond(
                403,
                protocol.error_body(
                    "InvalidRequestFormat", 'The body must be JSON like {"events": []}'
                ),
            )
            return
        external = bool(name) and os.path.isfile(os.path.join(protocol.EXTENSIONS_DIR, name))
        problem = None
        if not name:
            problem = ("Extension.InvalidExtensionName", "Empty extension name")
        elif not self.registration_open:
            problem = ("Extension.RegistrationClosed", "Extension registration closed already")
        elif len(self.extensions) >= protocol.MAX_EXTENSIONS:
            problem = ("Extension.TooManyExtensions", "Too many extensions registered")
        elif any(event not in ("INVOKE", "SHUTDOWN") for event in events):
            problem = ("Extension.InvalidEventType", f"Unknown event types in {events}")
        elif not external and "SHUTDOWN" in events:
            problem = (
                "ShutdownEventNotSupportedForInternalExtension",
                "An internal extension cannot register for SHUTDOWN",
            )
        if problem is not None:
            request.respond(403, protocol.error_body(*problem))
            return
        identifier = str(uuid.uuid4())
        self.extensions[identifier] = Extension(name, events, external)
        body = json.dumps(
            {
                "functionName": self.function_name,
                "functionVersion": "$LATEST",
                "handler": self.handler,
            }
        )
        request.respond(200, body.encode(), {protocol.H_EXTENSION_ID: identifier})

    def _known_extension(self, request: Request) -> Extension | None:
        identifier = request.headers.get(protocol.H_EXTENSION_ID.lower(), "")
        if not identifier:
            request.respond(
                403,
                protocol.error_body(
                    "Extension.MissingExtensionIdentifier",
                    "Missing Lambda-Extension-Identifier header",
                ),
            )
            return None
        extension = self.extensions.get(identifier)
        if extension is None:
            request.respond(
                403,
                protocol.error_body(
                    "Extension.UnknownExtensionIdentifier", "Unknown extension " + identifier
                ),
            )
        return extension

    def _event_next(self, request: Request) -> None:
        extension = self._known_extension(request)
        if extension is None:
            return
        extension.polled = True
        self._check_init()
        # No events are delivered: the request stays open until the environment ends.


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
