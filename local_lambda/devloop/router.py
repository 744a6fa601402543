"""One invoke endpoint for many functions, as ``sam local start-lambda`` offers.

``POST /2015-03-31/functions/{name}/invocations`` (and the response-streaming path) is
routed by the function name in it (a logical id or a FunctionName, in any form the
Invoke API takes: bare, ``name:QUALIFIER``, ``ACCOUNT:function:name``, the full ARN) to
that function's :class:`~local_lambda.devloop.pool.Pool`, which picks the environment. The
request is then passed on to that environment's own invoke API in the same form (only
the name part becomes the function's name there), and its answer passed back as it
comes, streamed bodies included, so every header and error of the invoke API (log tail,
client context, FunctionError, Event, DryRun, a qualifier, another account's or
Region's ARN) behaves exactly as with one function. The router's own answers: 400 for
a name that is not a function name, 404 ``ResourceNotFoundException`` for a name no
function has, and 429 ``TooManyRequestsException`` (reason
``ReservedFunctionConcurrentInvocationLimitExceeded``, as Lambda says it) when every
environment the function may have is busy with a synchronous invoke. An environment is
busy until its local Lambda reports it idle, after its answer has been passed on (see
:mod:`~local_lambda.devloop.pool`).

Each answer carries ``X-Lambdaboot-Environment: <function>#<n>``, a local-only header
saying which environment served it.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

from .. import protocol
from ..httpserver import HttpRequest, HttpServer, serve
from ..invoke_api import FUNCTION_NAME
from .forward import Answer, Upstream, UpstreamError
from .pool import Pool, Slot

STREAM_PREFIX = "/2021-11-15/functions/"
STREAM_SUFFIX = "/response-streaming-invocations"
INVOKE_SUFFIX = "/invocations"
ENVIRONMENT_HEADER = "X-Lambdaboot-Environment"
# Hop-by-hop and framing headers: the server on each side writes its own.
_NOT_FORWARDED = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "server",
    "content-type",
}


def error_body(
    error_type: str, message: str, reason: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """An AWS error answer: the JSON body boto3 reads and the header naming its type."""
    body: dict[str, str] = {"Type": "User", "message": message}
    if reason is not None:
        body["Reason"] = reason
    return json.dumps(body).encode(), {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": "local"}


def function_in_path(path: str) -> tuple[str, str] | None:
    """(function name or ARN, path suffix) of an invoke request's path; None if not one."""
    for prefix, suffix in ((protocol.INVOKE_PREFIX, INVOKE_SUFFIX), (STREAM_PREFIX, STREAM_SUFFIX)):
        if (
            path.startswith(prefix)
            and path.endswith(suffix)
            and len(path) > len(prefix) + len(suffix)
        ):
            return urllib.parse.unquote(path[len(prefix) : -len(suffix)]), prefix
    return None


class Router:
    """The request handler of the shared endpoint; ``pools`` may be swapped at any time."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.pools: dict[str, Pool] = {}  # by every name a function answers to
        self.refusals: dict[str, str] = {}  # names of functions that cannot run -> why
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, host: str, port: int) -> HttpServer:
        return await serve(
            self.handle, host, port, protocol.MAX_INVOKE_REQUEST_BYTES + 1, time.perf_counter_ns
        )

    async def close(self) -> None:
        """Wait for the invocations being passed on (Event ones included) to be answered."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)

    def handle(self, request: HttpRequest) -> None:
        found = function_in_path(request.path)
        if found is None:
            self._refuse(
                request,
                404,
                "UnknownOperationException",
                f"Unknown operation {request.method} {request.path}",
            )
            return
        name, prefix = found
        match = FUNCTION_NAME.fullmatch(name)
        if match is None:
            message = f"Invalid function name {name!r}"
            self._refuse(request, 400, "InvalidParameterValueException", message)
            return
        pool = self.pools.get(match["name"])
        if pool is None:
            why = self.refusals.get(match["name"])
            detail = f" ({why})" if why else ""
            arn = protocol.function_arn(match["region"] or self.region, match["name"])
            if match["qualifier"]:
                arn += f":{match['qualifier']}"
            self._refuse(
                request, 404, "ResourceNotFoundException", f"Function not found: {arn}{detail}"
            )
            return
        # The environment's invoke API reads the rest of the name (qualifier, account,
        # Region) as one function's would; only the name part is its own.
        start, end = match.span("name")
        target = name[:start] + pool.config.function_name + name[end:]
        task = asyncio.ensure_future(self._route(request, pool, prefix, target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(
        self,
        request: HttpRequest,
        status: int,
        error_type: str,
        message: str,
        reason: str | None = None,
    ) -> None:
        body, headers = error_body(error_type, message, reason)
        request.respond(status, body, headers)

    async def _route(self, request: HttpRequest, pool: Pool, prefix: str, target: str) -> None:
        if request.body_size > protocol.MAX_INVOKE_REQUEST_BYTES:  # its body was not kept
            limit = protocol.MAX_INVOKE_REQUEST_BYTES
            message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            self._refuse(request, 413, "RequestTooLargeException", message)
            return
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        try:
            slot = await (pool.take() if kind == "RequestResponse" else pool.any())
        except Exception as exc:  # the environment could not even start (e.g. a bad layer)
            self._refuse(request, 500, "ServiceException", f"{pool.name}: {exc}")
            return
        if slot is None:  # a synchronous invoke, every environment allowed busy
            self._refuse(
                request,
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            )
            return
        try:
            try:
                await self._forward(request, slot, prefix, target)
            finally:
                pool.answered(slot)
            await slot.idle()  # busy until its runtime and extensions are back at next
        finally:
            pool.give_back(slot)

    async def _forward(self, request: HttpRequest, slot: Slot, prefix: str, name: str) -> None:
        suffix = STREAM_SUFFIX if prefix == STREAM_PREFIX else INVOKE_SUFFIX
        function = urllib.parse.quote(name, safe="")
        target = f"{prefix}{function}{suffix}" + (f"?{request.query}" if request.query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        headers.append(("Content-Type", request.headers.get("content-type", "application/json")))
        if slot.upstream is None:
            slot.upstream = Upstream(slot.lam.endpoint.removeprefix("http://"))

        def on_head(answer: Answer) -> None:
            if answer.chunked:
                request.start_stream(
                    answer.status, self._answer_headers(answer, slot), _type(answer)
                )

        async def on_chunk(chunk: bytes) -> None:
            request.write_chunk(chunk)
            await request.drain()

        try:
            answer = await slot.upstream.exchange(
                f"{request.method} {target}", headers, request.body, on_head, on_chunk
            )
        except (UpstreamError, OSError) as exc:
            if request.answered:  # mid-stream: the client sees the stream cut short
                request.drop()
                return
            body, err = error_body(
                "ServiceException", f"the environment {slot.label} did not answer: {exc}"
            )
            request.respond(500, body, err)
            return
        if answer.chunked:
            request.end_stream()
        else:
            request.respond(
                answer.status, answer.body, dict(self._answer_headers(answer, slot)), _type(answer)
            )

    @staticmethod
    def _answer_headers(answer: Answer, slot: Slot) -> list[tuple[str, str]]:
        kept = [(k, v) for k, v in answer.headers if k.lower() not in _NOT_FORWARDED]
        return [*kept, (ENVIRONMENT_HEADER, slot.label)]


def _type(answer: Answer) -> str:
    return next((v for k, v in answer.headers if k.lower() == "content-type"), "application/json")
