"""The invoke API, compatible with AWS's ``Invoke`` and ``InvokeWithResponseStream``
(what boto3's Lambda client calls).

``POST /2015-03-31/functions/{name}/invocations`` with the AWS headers: invocation type
(RequestResponse, Event, DryRun), log type Tail, client context (base64 JSON), tenant id
and trace id. Errors from the platform side use AWS's shapes (``x-amzn-ErrorType`` and a
``{"Type","message"}`` body) so that boto3 raises its usual exceptions.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from . import protocol
from .answer_relay import Runner, relay
from .httpserver import HttpRequest
from .model import FunctionConfig, InvokeOutcome, InvokeResult, PendingInvoke
from .runtime_api import CONTENT_JSON
from .streaming import invoke_complete, payload_chunk

# InvokeWithResponseStream: POST /2021-11-15/functions/{name}/response-streaming-invocations
STREAM_INVOKE_PREFIX = "/2021-11-15/functions/"
STREAM_INVOKE_SUFFIX = "/response-streaming-invocations"


class Invoker(Runner, Protocol):
    """What the invoke API needs of a function: the emulator's facade provides it. Named
    here, not imported, so the API and the facade do not import each other."""

    config: FunctionConfig
    function_arn: str

    def log_tail(self, result: InvokeResult) -> str: ...


def _aws_error(request: HttpRequest, status: int, error_type: str, message: str) -> None:
    body = json.dumps({"Type": "User", "message": message}).encode()
    request.respond(status, body, {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": "local"})


def _answer_headers(config: FunctionConfig, inv: PendingInvoke) -> dict[str, str]:
    """The headers of every answer to an invocation that ran: its request id and the
    version that ran it (``X-Amz-Executed-Version``)."""
    return {"x-amzn-RequestId": inv.request_id, "X-Amz-Executed-Version": config.function_version}


def _refused(request: HttpRequest, result: InvokeResult) -> bool:
    """Lambda refused the invoke itself (e.g. SnapStartTimeoutException, 408): an error of
    the API, with its type in x-amzn-ErrorType, not a function error."""
    if result.status_code == 200 or request.answered:
        return False
    headers = {"x-amzn-ErrorType": result.error_type or "ServiceException"}
    request.respond(result.status_code, result.payload, {**headers, "x-amzn-RequestId": "local"})
    return True


class InvokeApi:
    """Request handler for ``LocalLambda.endpoint``."""

    def __init__(self, lam: Invoker) -> None:
        self._lam = lam
        self._tasks: set[asyncio.Task[None]] = set()  # one per invocation in flight
        self._idle_waiters: list[Callable[[], None]] = []

    def handle(self, request: HttpRequest) -> None:
        path = request.path
        streaming = path.startswith(STREAM_INVOKE_PREFIX) and path.endswith(STREAM_INVOKE_SUFFIX)
        if streaming:
            path = (
                protocol.INVOKE_PREFIX
                + path[len(STREAM_INVOKE_PREFIX) : -len(STREAM_INVOKE_SUFFIX)]
            )
            path += "/invocations"
        if not (path.startswith(protocol.INVOKE_PREFIX) and path.endswith("/invocations")):
            _aws_error(
                request,
                404,
                "UnknownOperationException",
                f"Unknown operation {request.method} {path}",
            )
            return
        if request.method != "POST":
            _aws_error(request, 405, "MethodNotAllowedException", "Invoke takes POST")
            return
        name = urllib.parse.unquote(path[len(protocol.INVOKE_PREFIX) : -len("/invocations")])
        lam = self._lam
        refused = self._refuse_target(name, urllib.parse.parse_qs(request.query))
        if refused is not None:
            _aws_error(request, *refused)
            return
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "Event" and request.body_size > protocol.MAX_ASYNC_REQUEST_BYTES:
            _aws_error(
                request,
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {protocol.MAX_ASYNC_REQUEST_BYTES} bytes for the"
                " InvokeAsync operation",
            )
            return
        if request.body_size > protocol.MAX_INVOKE_REQUEST_BYTES:
            _aws_error(
                request,
                413,
                "RequestTooLargeException",
                (
                    f"Request must be smaller than {protocol.MAX_INVOKE_REQUEST_BYTES} bytes "
                    "for the InvokeFunction operation"
                ),
            )
            return
        headers = request.headers
        client_context = headers.get("x-amz-client-context", "")
        if client_context:
            try:
                client_context = base64.b64decode(client_context, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                _aws_error(
                    request,
                    400,
                    "InvalidRequestContentException",
                    "Client context must be a valid Base64-encoded JSON object.",
                )
                return
        payload = request.body or b"{}"  # no payload: the function gets {}, as on Lambda
        try:
            json.loads(payload)
        except ValueError as exc:  # the function is not called
            _aws_error(
                request,
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            )
            return
        inv = PendingInvoke(
            payload,
            lam.function_arn,
            trace_id=headers.get("x-amzn-trace-id") or protocol.new_trace_id(),
            client_context=client_context,
            tenant_id=headers.get("x-amz-tenant-id", ""),
        )
        inv.timings.started_ns = request.received_ns  # the caller waits from here
        if kind == "DryRun":
            request.respond(204, b"", {"x-amzn-RequestId": inv.request_id})
        elif kind == "RequestResponse" and streaming:
            tail = headers.get("x-amz-log-type", "None") == "Tail"
            self._spawn(self._stream_and_answer(request, inv, tail))
        elif kind == "Event" and not streaming:
            request.respond(202, b"", {"x-amzn-RequestId": inv.request_id})
            self._spawn(self._run_quietly(inv))
        elif kind == "RequestResponse":
            tail = headers.get("x-amz-log-type", "None") == "Tail"
            self._spawn(self._run_and_answer(request, inv, tail))
        else:
            _aws_error(
                request,
                400,
                "InvalidParameterValueException",
                f"Invalid InvocationType {kind!r}: use RequestResponse, Event or DryRun",
            )

    def _refuse_target(self, name: str, query: dict[str, list[str]]) -> tuple[int, str, str] | None:
        """Why ``name`` (and ``?Qualifier=``) does not reach this function, as AWS says it;
        None when it does. The Invoke API reference's name formats: ``my-function``,
        ``my-function:QUALIFIER``, ``123456789012:function:my-function[:QUALIFIER]`` and the
        full ARN. One version exists here (no aliases): ``$LATEST``, or for a SnapStart
        function its published version 1, which also serves ``$LATEST`` (see
        docs/snapstart.md); any other qualifier is ResourceNotFoundException (404), as for
        a version that does not exist. An ARN of another account is refused before any
        lookup, as AWS refuses a caller without permission on that account's function:
        AccessDeniedException (403).
        https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"""
        config = self._lam.config
        match = FUNCTION_NAME.fullmatch(name)
        qualifiers = {
            q for q in [*(query.get("Qualifier") or []), match and match["qualifier"]] if q
        }
        own = protocol.function_arn(config.region, config.function_name)
        if match is None:
            return 400, "InvalidParameterValueException", f"Invalid function name {name!r}"
        if match["account"] and match["account"] != protocol.ACCOUNT_ID:
            target = (
                f"arn:aws:lambda:{match['region'] or config.region}:{match['account']}:"
                f"function:{match['name']}"
            )
            return (
                403,
                "AccessDeniedException",
                f"User: arn:aws:iam::{protocol.ACCOUNT_ID}:root is not authorized to perform:"
                f" lambda:InvokeFunction on resource: {target} because no resource-based policy"
                " allows the lambda:InvokeFunction action",
            )
        wrong_region = match["region"] and match["region"] != config.region
        if match["name"] != config.function_name or wrong_region:
            return (
                404,
                "ResourceNotFoundException",
                f"Function not found: {_arn_of(match, config.region)}",
            )
        if len(qualifiers) > 1:
            return (
                400,
                "InvalidParameterValueException",
                (
                    "The derived qualifier from the function name "
                    "does not match the specified qualifier."
                ),
            )
        if qualifiers and not qualifiers <= {protocol.LATEST_VERSION, config.function_version}:
            return 404, "ResourceNotFoundException", f"Function not found: {own}:{qualifiers.pop()}"
        return None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            waiters, self._idle_waiters = self._idle_waiters, []
            for callback in waiters:
                callback()

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once no invocation this API took is in flight (now, if none
        is). Each task here lasts until its invocation is over for the platform: its
        runtime and every extension have asked for the next event (or it timed out, or
        the runtime exited), which is when Lambda counts an environment free again,
        later than the answer (or later still, when a caller reads its answer slower
        than the invocation ran: the task also writes it). Every invocation is a task
        before any byte of its answer is written, so a caller that asks after reading an
        answer waits for that invocation."""
        if self._tasks:
            self._idle_waiters.append(callback)
        else:
            callback()

    async def _run_quietly(self, inv: PendingInvoke) -> None:
        await self._lam.run(inv)

    async def _run_and_answer(self, request: HttpRequest, inv: PendingInvoke, tail: bool) -> None:
        """Answer as soon as the runtime has posted its response or error, as Lambda does:
        the invocation (and its Duration) goes on until the runtime and the extensions ask
        for the next event. With ``LogType: Tail`` the answer waits for that end, since the
        log it carries ends with the invocation's REPORT line."""

        def answer(outcome: InvokeOutcome, log_tail: str | None = None) -> None:
            headers = _answer_headers(self._lam.config, inv)
            if outcome.function_error:
                headers["X-Amz-Function-Error"] = outcome.function_error
            if log_tail is not None:
                headers["X-Amz-Log-Result"] = log_tail
            if not request.answered:
                request.respond(200, outcome.payload, headers)

        result = await self._lam.run(inv, on_answer=None if tail else answer)
        if _refused(request, result):
            return
        outcome = InvokeOutcome(result.payload, result.function_error)
        answer(outcome, self._lam.log_tail(result) if tail else None)

    async def _stream_and_answer(
        self, request: HttpRequest, inv: PendingInvoke, tail: bool
    ) -> None:
        """InvokeWithResponseStream: each chunk is passed on as a ``PayloadChunk`` event as
        soon as the runtime sends it (and no faster than the caller reads), a buffered
        response as one at its post; ``InvokeComplete`` follows as soon as the answer is
        complete (with ``LogType: Tail``, at the invocation's end: its log ends with
        REPORT)."""
        await relay(self._lam, inv, _EventStream(self._lam, request, inv, tail), wait_for_end=tail)

    async def drain(self) -> None:
        """Wait for queued Event invokes before the servers stop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)


class _EventStream:
    """An :class:`~local_lambda.answer_relay.AnswerSink` writing AWS's event stream."""

    def __init__(self, lam: Invoker, request: HttpRequest, inv: PendingInvoke, tail: bool):
        self._lam, self._request, self._tail = lam, request, tail
        self._headers = _answer_headers(lam.config, inv)

    def start(self, content_type: str | None) -> None:
        if not self._request.answered:
            self._request.start_stream(200, self._headers, content_type or CONTENT_JSON)

    async def chunk(self, data: bytes) -> None:
        self._request.write_chunk(payload_chunk(data))
        await self._request.drain()

    def complete(self, outcome: InvokeOutcome, result: InvokeResult | None) -> None:
        if result is not None and _refused(self._request, result):
            return
        self.start(None)  # an error before any byte: the stream holds only InvokeComplete
        error_code = error_details = None
        if outcome.function_error is not None:
            error_code = outcome.function_error
            error_details = outcome.payload.decode("utf-8", "replace")
        log = self._lam.log_tail(result) if self._tail and result is not None else None
        self._request.write_chunk(invoke_complete(error_code, error_details, log))
        self._request.end_stream()


# The Invoke API reference's FunctionName pattern, with the parts named (the router reads
# names with it too, so that every form reaches a function as it reaches one environment).
FUNCTION_NAME = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?"
)


def _arn_of(match: re.Match[str], region: str) -> str:
    arn = protocol.function_arn(match["region"] or region, match["name"])
    return f"{arn}:{match['qualifier']}" if match["qualifier"] else arn
