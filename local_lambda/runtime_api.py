"""The Runtime API (2018-06-01) and the Extensions API's server side: the HTTP driver of
:mod:`local_lambda.lifecycle`.

One :class:`RuntimeApi` serves one execution environment. It turns each request into an
event of the environment's :class:`~local_lambda.lifecycle.Lifecycle` and carries out the
actions that come back: answer a request, settle an invocation (through the futures of
its :class:`Watch`), freeze or thaw the processes (through ``on_freeze``). What a request
means is decided there, in one table; here is only how it is read and answered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from . import lifecycle, protocol
from .extensions_api import ExtensionsApi, RegisteredExtension
from .httpserver import HttpRequest
from .model import InvokeOutcome, PendingInvoke
from .snapstart import CREDENTIALS_PATH
from .streaming import H_RESPONSE_MODE, MAX_STREAM_BYTES, ResponseChunks, is_streamed_response
from .telemetry import Telemetry

CONTENT_JSON = "application/json"
SNAP_START = "snap-start"


class Watch:
    """What the emulator awaits for one invocation. Made by :meth:`RuntimeApi.submit`, on
    the event loop (never in a dataclass default)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.outcome: asyncio.Future[InvokeOutcome] = loop.create_future()
        # Resolves when the invocation is over for the platform (Duration's end).
        self.ended: asyncio.Future[lifecycle.Ended] = loop.create_future()
        # Resolves when the runtime begins a streamed response (its chunks come through it).
        self.stream: asyncio.Future[ResponseChunks] = loop.create_future()


@dataclass
class Fault:
    """An injected answer for the next matching request (see ``LocalLambda.inject_fault``)."""

    endpoint: str  # next | response | error | init_error | register | event_next
    status: int = 500
    body: bytes | None = None
    drop: bool = False
    times: int = 1


@dataclass
class ApiSettings:
    """What a Runtime API needs to know of its function."""

    function_name: str
    handler: str
    timeout_s: float = 3.0
    concurrency: int = 1  # invocations in flight at once (Managed Instances)
    initialization_type: str = "on-demand"
    freezes: bool = True  # frozen between invocations (Lambda); Managed Instances keep running
    function_version: str = protocol.LATEST_VERSION  # FunctionConfig.function_version


class RuntimeApi:
    """Request handler for the address in AWS_LAMBDA_RUNTIME_API, for one environment."""

    def __init__(
        self,
        settings: ApiSettings,
        faults: list[Fault] | None = None,
        finished: OrderedDict[str, str] | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
        *,
        on_freeze: Callable[[bool], None] = lambda frozen: None,
        on_snapshot: Callable[[int], bool] | None = None,
        credentials: Callable[[], tuple[bytes | None, str]] | None = None,
    ) -> None:
        """``on_freeze``: freeze (True) or thaw (False) the environment's processes.
        SnapStart: ``on_snapshot`` takes the snapshot of the runtime waiting on
        ``restore/next`` from a client port (False when it cannot be forked: it is then
        restored in place); ``credentials`` gives what the container-credentials endpoint
        serves, and its token."""
        self.settings = settings
        self.clock = clock
        self.faults: list[Fault] = faults if faults is not None else []
        managed = settings.concurrency > 1
        self.machine = lifecycle.Lifecycle(
            settings.concurrency,
            int(settings.timeout_s * 1000),
            clock,
            lambda: int(time.time() * 1000),
            connected=_connected,
            resets_on_timeout=not managed,
            freezes=settings.freezes,
            finished=finished,
            snap_start=settings.initialization_type == SNAP_START,
        )
        self.ext_api = ExtensionsApi(
            settings.function_name,
            settings.handler,
            function_version=settings.function_version,
            on_change=self._extensions_changed,
            on_failure=self.fail_extension,
            invoke_events_allowed=not managed,  # SHUTDOWN only on LMI (spec §4.1)
        )
        self.telemetry = Telemetry(self.ext_api)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.init_started_ns = 0  # set when init begins
        self.init_ready: asyncio.Future[int] = loop.create_future()
        self.init_error: asyncio.Future[InvokeOutcome] = loop.create_future()
        # Set when the environment must go (an extension failed, or a timeout on Lambda).
        self.shutdown_reason: str | None = None
        self._on_freeze = on_freeze
        self._on_snapshot = on_snapshot or (lambda port: False)
        self._credentials_of = credentials or (lambda: (None, ""))
        # Resolves when init has ended at the snapshot (the restore begins).
        self.snapshot_taken: asyncio.Future[int] = loop.create_future()
        self._snapshot_request: HttpRequest | None = None  # left waiting, as in the snapshot
        # Resolves when the environment that took the snapshot has its copy (forked once the
        # holder is out of it) ask restore/next: its restore begins then.
        self.copy_restoring: asyncio.Future[int] = loop.create_future()
        self._watched: dict[str, tuple[PendingInvoke, Watch]] = {}

    # what the environment calls
    def init_started(self, at_ns: int, extensions: set[str]) -> None:
        """Init begins now, with the external extensions ``extensions`` (file names in
        /opt/extensions) about to start: only they may register as external."""
        self.init_started_ns = at_ns
        self.ext_api.launching(extensions)

    def submit(self, inv: PendingInvoke) -> Watch:
        """Queue ``inv`` for the runtime: delivered now if it waits on /next, else at its next."""
        watch = Watch(self._loop)
        self._watched[inv.request_id] = (inv, watch)
        self._run(self.machine.submitted(inv.request_id))
        return watch

    def deadline_passed(self, inv: PendingInvoke) -> None:
        self._run(self.machine.deadline_passed(inv.request_id))

    def runtime_exited(self) -> None:
        self._run(self.machine.runtime_exited())

    def shutdown_started(self) -> None:
        self._run(self.machine.shutdown_started())

    def restore_begun(self, at_ns: int) -> None:
        """SnapStart: this environment starts from the snapshot (its copy is let go now)."""
        self._run(self.machine.restore_begun(at_ns))

    def restore_deadline_passed(self, outcome: InvokeOutcome) -> None:
        """SnapStart: the restore took longer than its limit; ``outcome`` is the invoker's."""
        self._run(self.machine.restore_deadline_passed(outcome))

    @property
    def snapshot_ns(self) -> int:
        return self.machine.snapshot_ns

    @property
    def restore_started_ns(self) -> int:
        return self.machine.restore_started_ns

    def release(self, inv: PendingInvoke) -> None:
        """The emulator is done with ``inv``: a stream still open is ended."""
        entry = self._watched.pop(inv.request_id, None)
        if entry is not None and entry[1].stream.done():
            entry[1].stream.result().end()

    def is_early(self, request: HttpRequest) -> bool:
        """For the HTTP server: a streamed /response is handled as its body arrives."""
        return is_streamed_response(request.method, request.path, request.headers)

    @property
    def extensions(self) -> dict[str, RegisteredExtension]:
        return self.ext_api.extensions

    @property
    def has_external_extensions(self) -> bool:
        return any(ext.external for ext in self.extensions.values())

    def fail_extension(self, error_type: str, message: str) -> None:
        """An extension reported init/exit error or crashed (spec §5 "Failures")."""
        if self.ext_api.shutting_down:
            return
        self._run(self.machine.extension_failed(error_type, message))

    def _extensions_changed(self) -> None:
        self._run(self.machine.extensions_changed(self.ext_api.all_polled, self.ext_api.quiet))

    # carrying out the machine's actions
    def _run(self, actions: list[lifecycle.Action]) -> None:
        for action in actions:
            match action:
                case lifecycle.Respond(request, status, body):
                    _request(request).respond(status, body)
                case lifecycle.Deliver(request, request_id, deadline_ms):
                    self._deliver(_request(request), request_id, deadline_ms)
                case lifecycle.Settle(request_id, outcome):
                    watch = self._watch(request_id)
                    if watch is not None and not watch.outcome.done():
                        watch.outcome.set_result(outcome)
                case lifecycle.Ended(request_id):
                    self._ended(action)
                case lifecycle.InitDone():
                    self._init_done(action)
                case lifecycle.TakeSnapshot(request, at_ns):
                    self._take_snapshot(_request(request), at_ns)
                case lifecycle.InitFailed(outcome):
                    if not self.init_error.done():
                        self.init_error.set_result(outcome)
                case lifecycle.CloseRegistration():
                    self.ext_api.close_registration()
                case lifecycle.Freeze():
                    self._on_freeze(True)
                case lifecycle.Thaw():
                    self._on_freeze(False)
                case lifecycle.StartShutdown(reason):
                    self.shutdown_reason = self.shutdown_reason or reason

    def _watch(self, request_id: str) -> Watch | None:
        entry = self._watched.get(request_id)
        return entry[1] if entry is not None else None

    def _ended(self, action: lifecycle.Ended) -> None:
        entry = self._watched.get(action.request_id)
        if entry is None or entry[1].ended.done():
            return
        inv, watch = entry
        if action.how == "done":
            inv.timings.following_next_ns = action.at_ns
        watch.ended.set_result(action)

    def _deliver(self, request: HttpRequest, request_id: str, deadline_ms: int) -> None:
        inv, _ = self._watched[request_id]
        headers = {
            protocol.H_REQUEST_ID: inv.request_id,
            protocol.H_DEADLINE: str(deadline_ms),
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
        self.ext_api.invoke(inv.request_id, deadline_ms, inv.function_arn, inv.trace_id)
        self._extensions_changed()  # those that took the INVOKE event are busy now

    def _init_done(self, done: lifecycle.InitDone) -> None:
        at_ns = done.at_ns
        self.init_ready.set_result(at_ns)
        self.telemetry.close_subscriptions()
        if done.restore_started_ns:  # SnapStart: init ended at the snapshot; this ends the restore
            record = {"status": "success"}
            self.telemetry.publish("platform", "platform.restoreRuntimeDone", record)
            return  # the emulator reports both phases (INIT_REPORT, RESTORE_REPORT)
        kind = self.settings.initialization_type
        record = {"initializationType": kind, "phase": "init", "status": "success"}
        self.telemetry.publish("platform", "platform.initRuntimeDone", record)
        if self.init_started_ns:
            ms = (at_ns - self.init_started_ns) / 1e6
            metrics = {"metrics": {"durationMs": round(ms, 3)}}
            self.telemetry.publish("platform", "platform.initReport", {**record, **metrics})

    # the HTTP handler
    def handle(self, request: HttpRequest) -> None:
        path = request.path
        if path.startswith(protocol.RUNTIME_PREFIX):
            self._runtime(request, path[len(protocol.RUNTIME_PREFIX) :])
        elif path.startswith(protocol.EXTENSION_PREFIX):
            self._extension(request, path[len(protocol.EXTENSION_PREFIX) :])
        elif path == CREDENTIALS_PATH and self.settings.initialization_type == SNAP_START:
            self._credentials(request)
        elif path == protocol.TELEMETRY_PATH:
            self.telemetry.handle(request, "telemetry")
        elif path == protocol.LOGS_PATH:
            self.telemetry.handle(request, "logs")
        else:
            request.respond(
                404, protocol.error_body("NotFound", f"No such path: {request.method} {path}")
            )

    def _runtime(self, request: HttpRequest, rest: str) -> None:
        if rest == "/invocation/next" and request.method == "GET":
            if not self._fault(request, "next"):
                self._run(self.machine.next_polled(request, request.received_ns))
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
                error_type = _valid_error_type(request.headers.get(protocol.H_ERROR_TYPE, ""))
                outcome = InvokeOutcome(request.body, "Unhandled", error_type, "error")
                self._run(self.machine.init_error_posted(request, outcome))
        elif rest == "/restore/next" and request.method == "GET":
            if not self._fault(request, "restore_next"):
                self._restore_next(request)
        elif rest == "/restore/error" and request.method == "POST":
            if not self._fault(request, "restore_error"):
                self._restore_error(request)
        else:
            request.respond(
                404,
                protocol.error_body("NotFound", f"No such path: {request.method} {request.path}"),
            )

    # SnapStart (local_lambda.snapstart)
    def _restore_next(self, request: HttpRequest) -> None:
        self._run(self.machine.restore_polled(request, request.received_ns))
        machine = self.machine
        moved = machine.snapshot_ns and machine.restore_started_ns != machine.snapshot_ns
        if moved and not self.copy_restoring.done():
            self.copy_restoring.set_result(machine.restore_started_ns)

    def _take_snapshot(self, request: HttpRequest, at_ns: int) -> None:
        """Init is over: the runtime waits on ``restore/next`` (never answered: it is the
        snapshot's request). Without a fork (not a Python runtime) it is restored in place."""
        record = {"initializationType": SNAP_START, "phase": "init", "status": "success"}
        self.telemetry.publish("platform", "platform.initRuntimeDone", record)
        self.snapshot_taken.set_result(at_ns)
        if self._on_snapshot(request.peer_port):
            self._snapshot_request = request
        else:
            self._run(self.machine.restore_polled(request, request.received_ns))

    def _restore_error(self, request: HttpRequest) -> None:
        """An after-restore hook failed: the cold start fails as an init does."""
        error_type = _valid_error_type(request.headers.get(protocol.H_ERROR_TYPE, ""))
        outcome = InvokeOutcome(request.body, "Unhandled", error_type, "error")
        self._run(self.machine.restore_error_posted(request, outcome))

    def _credentials(self, request: HttpRequest) -> None:
        """The container-credentials endpoint: the keys, for the token given at init."""
        body, token = self._credentials_of()
        if request.headers.get("authorization") != token:
            request.respond(403, protocol.error_body("AccessDenied", "Invalid token"))
        elif body is None:
            request.respond(404, protocol.error_body("NoCredentials", "No credentials"))
        else:
            request.respond(200, body)

    def _fault(self, request: HttpRequest, endpoint: str) -> bool:
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                if fault.drop:
                    request.drop()
                else:
                    if fault.status >= 500 and endpoint in ("response", "error"):
                        self.machine.answered_broken()
                    request.respond(
                        fault.status,
                        fault.body if fault.body is not None else _default_body(fault.status),
                    )
                return True
        return False

    def _result(self, request: HttpRequest, request_id: str, kind: str) -> None:
        rejection = self.machine.check_post(request, request_id)
        if rejection:
            self._run(rejection)
            return
        inv, _ = self._watched[request_id]
        if request.streaming:
            self._streamed_result(request, inv)
            return
        inv.timings.result_received_ns = request.received_ns
        if request.body_size > protocol.MAX_PAYLOAD_BYTES:
            request.respond(413, protocol.TOO_LARGE)
            outcome = InvokeOutcome(
                protocol.response_too_large_for_invoker(request.body_size),
                "Unhandled",
                "Function.ResponseSizeTooLarge",
                "error",
            )
        else:
            request.respond(202, protocol.ACCEPTED)
            outcome = _outcome_of(request, kind)
        inv.timings.accepted_written_ns = self.clock()
        self._run(self.machine.result_posted(request_id, outcome))

    def _fail(self, inv: PendingInvoke, error_type: str, detail: str) -> None:
        """End ``inv`` with a platform-made error (the runtime's post was unusable)."""
        body = protocol.platform_error(inv.request_id, error_type, detail)
        outcome = InvokeOutcome(body, "Unhandled", error_type, "error")
        self._run(self.machine.result_posted(inv.request_id, outcome))

    def _streamed_result(self, request: HttpRequest, inv: PendingInvoke) -> None:
        """A streamed /response (spec §2): chunks go on as they arrive; trailers carry an error."""
        mode = request.headers.get(H_RESPONSE_MODE, "")
        if mode != "streaming":
            request.respond(
                400,
                protocol.error_body(
                    "InvalidFunctionResponseMode", f"Unsupported response mode {mode!r}"
                ),
            )
            self._fail(inv, "Runtime.InvalidResponseModeHeader", f"invalid response mode {mode!r}")
            return
        content_type = request.headers.get("content-type") or "application/octet-stream"
        chunks = ResponseChunks(content_type, request.pause_reading, request.resume_reading)
        self._watched[inv.request_id][1].stream.set_result(chunks)
        self.machine.stream_started(inv.request_id)

        def on_chunk(data: bytes) -> None:
            if request.answered or chunks.ended:
                return
            if chunks.size + len(data) > MAX_STREAM_BYTES:
                request.respond(413, protocol.TOO_LARGE)
                chunks.end()
                self._fail(
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
            late = self.machine.stream_ended(request, inv.request_id)
            if late:
                self._run(late)
                return
            if not complete:
                self._fail(
                    inv,
                    "Runtime.TruncatedResponse",
                    "the runtime's connection closed before the streamed response ended",
                )
                return
            inv.timings.result_received_ns = request.received_ns
            request.respond(202, protocol.ACCEPTED)
            outcome = _outcome_of(request, "response")
            if outcome.function_error is None:
                outcome = InvokeOutcome(chunks.joined())
            inv.timings.accepted_written_ns = self.clock()
            self._run(self.machine.result_posted(inv.request_id, outcome))

        request.receive(on_chunk, on_end)

    # Extensions API (see extensions_api.py); faults are injected here
    def _extension(self, request: HttpRequest, rest: str) -> None:
        if rest == "/register" and request.method == "POST" and self._fault(request, "register"):
            return
        if rest == "/event/next" and request.method == "GET" and self._fault(request, "event_next"):
            return
        self.ext_api.handle(request, rest)


def _request(token: Hashable) -> HttpRequest:
    assert isinstance(token, HttpRequest)
    return token


def _connected(token: Hashable) -> bool:
    return _request(token).connected


def _outcome_of(request: HttpRequest, kind: str) -> InvokeOutcome:
    if kind == "error":  # the runtime answered: the platform's status is success (REPORT)
        error_type = _valid_error_type(request.headers.get(protocol.H_ERROR_TYPE, ""))
        return InvokeOutcome(request.body, "Unhandled", error_type, "success")
    trailer_type = request.trailers.get(protocol.H_ERROR_TYPE)
    if trailer_type:  # a streamed response that failed midway reports in its trailers
        try:
            payload = base64.b64decode(
                request.trailers.get(protocol.H_ERROR_BODY_TRAILER, ""), validate=True
            )
        except binascii.Error:
            payload = b""
        return InvokeOutcome(
            payload or protocol.error_body(trailer_type, "Streamed response failed"),
            "Unhandled",
            _valid_error_type(trailer_type),
            "error",
        )
    return InvokeOutcome(request.body)


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
