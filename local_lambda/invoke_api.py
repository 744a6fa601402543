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
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from . import protocol
from .httpserver import Request
from .model import FunctionConfig, InvokeResult, PendingInvoke
from .runtime_api import CONTENT_JSON
from .streaming import invoke_complete, payload_chunk

# InvokeWithResponseStream: POST /2021-11-15/functions/{name}/response-streaming-invocations
STREAM_INVOKE_PREFIX = "/2021-11-15/functions/"
STREAM_INVOKE_SUFFIX = "/response-streaming-invocations"


class Invoker(Protocol):
    """What the invoke API needs of a function: the emulator's facade provides it. Named
    here, not imported, so the API and the facade do not import each other."""

    config: FunctionConfig
    function_arn: str

    async def run(self, inv: PendingInvoke) -> InvokeResult: ...

    async def run_streamed(
        self,
        inv: PendingInvoke,
        on_chunk: Callable[[bytes], Awaitable[None]],
        on_start: Callable[[str], None] = ...,
    ) -> InvokeResult: ...

    def log_tail(self, result: InvokeResult) -> str: ...


def _aws_error(request: Request, status: int, error_type: str, message: str) -> None:
    body = json.dumps({"Type": "User", "message": message}).encode()
    request.respond(status, body, {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": "local"})


class InvokeApi:
    """Request handler for ``LocalLambda.endpoint``."""

    def __init__(self, lam: Invoker) -> None:
        self._lam = lam
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, request: Request) -> None:
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
        if not self._names_function(name):
            _aws_error(
                request,
                404,
                "ResourceNotFoundException",
                f"Function not found: {protocol.function_arn(lam.config.region, name)}",
            )
            return
        if request.body_size > protocol.MAX_INVOKE_REQUEST_BYTES:
            _aws_error(
                request,
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {protocol.MAX_INVOKE_REQUEST_BYTES} bytes for the InvokeFunction operation",
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
        inv = PendingInvoke(
            request.body,
            lam.function_arn,
            trace_id=headers.get("x-amzn-trace-id") or protocol.new_trace_id(),
            client_context=client_context,
            tenant_id=headers.get("x-amz-tenant-id", ""),
        )
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
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
                f"Invalid PendingInvokeType {kind!r}: use RequestResponse, Event or DryRun",
            )

    def _names_function(self, name: str) -> bool:
        """A plain name, or an ARN (optionally with a $LATEST qualifier) of this function."""
        config = self._lam.config
        if name == config.function_name:
            return True
        base = name.removesuffix(":$LATEST")
        return base == protocol.function_arn(config.region, config.function_name) or base.endswith(
            f":function:{config.function_name}"
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_quietly(self, inv: PendingInvoke) -> None:
        await self._lam.run(inv)

    async def _run_and_answer(self, request: Request, inv: PendingInvoke, tail: bool) -> None:
        result = await self._lam.run(inv)
        headers = {"x-amzn-RequestId": inv.request_id, "X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if tail:
            headers["X-Amz-Log-Result"] = self._lam.log_tail(result)
        request.respond(200, result.payload, headers)

    async def _stream_and_answer(self, request: Request, inv: PendingInvoke, tail: bool) -> None:
        """InvokeWithResponseStream: each chunk is passed on as an event as soon as the
        runtime sends it (and no faster than the caller reads); the last event says how
        the invocation ended."""
        headers = {"x-amzn-RequestId": inv.request_id, "X-Amz-Executed-Version": "$LATEST"}

        def begin(content_type: str = CONTENT_JSON) -> None:
            if not request.answered:
                request.start_stream(200, headers, content_type)

        async def send(chunk: bytes) -> None:
            begin()
            request.write_chunk(payload_chunk(chunk))
            await request.drain()

        result = await self._lam.run_streamed(inv, send, begin)
        begin()
        error_code = error_details = None
        if result.function_error is not None:
            error_code = result.function_error
            error_details = result.payload.decode("utf-8", "replace")
        log = self._lam.log_tail(result) if tail else None
        request.write_chunk(invoke_complete(error_code, error_details, log))
        request.end_stream()

    async def drain(self) -> None:
        """Wait for queued Event invokes before the servers stop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
