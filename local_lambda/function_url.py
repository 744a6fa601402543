"""An HTTP front in the style of a Lambda Function URL (``InvokeMode: RESPONSE_STREAM``).

Any request becomes a payload-format-2.0 event; the function's answer becomes the HTTP
response. A streamed answer with the ``application/vnd.awslambda.http-integration-response``
content type is read as Lambda does it: a JSON prelude (status, headers, cookies), eight
NUL bytes, then the body, passed on chunk by chunk as the runtime sends it. Any other
streamed answer is passed on as is (status 200, the runtime's content type); a buffered
answer is read as a Function URL reads one (a ``{"statusCode", ...}`` object, or any JSON
value as a 200 body). The response is complete when the runtime has finished posting
(:mod:`local_lambda.answer_relay`), not when the invocation ends. A function error is a
502, as on Lambda; one after the response began cuts its body short (no last chunk), so
the client knows the body is incomplete.

    with LocalLambda(config) as lam, FunctionUrl(lam) as url:
        urllib.request.urlopen(url.url + "/path?x=1")
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from .answer_relay import relay
from .httpserver import HttpRequest, HttpServer, serve
from .model import InvokeOutcome, InvokeResult, PendingInvoke

if TYPE_CHECKING:
    from .emulator import LocalLambda

HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
_PRELUDE_END = b"\x00" * 8
_MAX_REQUEST_BODY = 6 * 1024 * 1024
_BAD_GATEWAY = b'{"Message":"Internal Server Error"}'
_TOO_LARGE = b'{"Message":"Request Entity Too Large"}'


class FunctionUrl:
    """Serves ``lam``'s function over HTTP at :attr:`url` until closed."""

    def __init__(self, lam: LocalLambda, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lam = lam
        self._host = host
        self._port = port
        self._server: HttpServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    def __enter__(self) -> FunctionUrl:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> str:
        self._lam.open()
        if self._server is None:
            self._server = self._lam.call(
                serve(self.handle, self._host, self._port, _MAX_REQUEST_BODY, time.perf_counter_ns)
            )
            self.url = "http://" + self._server.address
        return self.url

    def close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            self._lam.call(_close(server))

    def handle(self, request: HttpRequest) -> None:
        task = asyncio.ensure_future(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: HttpRequest) -> None:
        if request.body_size > _MAX_REQUEST_BODY:  # Lambda's 6 MB: the function is not called
            request.respond(413, _TOO_LARGE)
            return
        inv = PendingInvoke(json.dumps(_event(request)).encode(), self._lam.function_arn)
        await relay(self._lam, inv, _Reply(request))


async def _close(server: HttpServer) -> None:
    server.close()


class _Reply:
    """Turns the function's answer into one HTTP response, sent as it comes (an
    :class:`~local_lambda.answer_relay.AnswerSink`)."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._prelude = b""
        self._mode = ""  # "integration" | "raw" | "buffered", fixed at the start

    def start(self, content_type: str | None) -> None:
        if content_type is None:
            self._mode = "buffered"
        elif content_type == HTTP_INTEGRATION:
            self._mode = "integration"
        else:
            self._mode = "raw"
            self._request.start_stream(200, [], content_type)

    async def chunk(self, data: bytes) -> None:
        request = self._request
        if self._mode == "buffered":
            self._prelude += data  # a buffered answer arrives in one piece
            return
        if self._mode == "integration" and not request.answered:
            self._prelude += data
            head, found, rest = self._prelude.partition(_PRELUDE_END)
            if not found:
                return
            self._start(_parse_prelude(head))
            data = rest
        request.write_chunk(data)
        await request.drain()

    def _start(self, prelude: dict[str, Any]) -> None:
        headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(cookie)) for cookie in prelude.get("cookies") or []]
        content_type = "application/json"
        for name, value in headers:
            if name.lower() == "content-type":
                content_type = value
        headers = [(name, value) for name, value in headers if name.lower() != "content-type"]
        self._request.start_stream(int(prelude.get("statusCode", 200)), headers, content_type)

    def complete(self, outcome: InvokeOutcome, result: InvokeResult | None) -> None:
        request = self._request
        if outcome.function_error is not None:
            if request.answered:  # failed mid-stream: the body is cut short, never ended
                request.drop()
            else:
                request.respond(502, _BAD_GATEWAY)
        elif self._mode == "buffered":
            _answer_buffered(request, self._prelude)
        elif not request.answered:  # an integration response that never ended its prelude
            request.respond(502, _BAD_GATEWAY)
        else:
            request.end_stream()


def _parse_prelude(head: bytes) -> dict[str, Any]:
    try:
        prelude = json.loads(head)
    except ValueError:
        prelude = None
    return prelude if isinstance(prelude, dict) else {"statusCode": 502}


def _answer_buffered(request: HttpRequest, payload: bytes) -> None:
    """A Function URL's reading of a buffered result."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        value = None
    if not (isinstance(value, dict) and "statusCode" in value):
        request.respond(200, payload, content_type="application/json")
        return
    body = value.get("body") or ""
    raw = base64.b64decode(body) if value.get("isBase64Encoded") else str(body).encode()
    headers = [(str(k), str(v)) for k, v in (value.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in value.get("cookies") or []]
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "application/json")
    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    request.start_stream(int(value["statusCode"]), headers, content_type)
    request.write_chunk(raw)
    request.end_stream()


def _event(request: HttpRequest) -> dict[str, Any]:
    """The payload-format-2.0 event a Function URL sends."""
    raw = request.body
    try:
        body, encoded = raw.decode(), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(raw).decode(), True
    headers = dict(request.headers)  # repeated headers arrive joined with "," (no space)
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    now = datetime.datetime.now(datetime.UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if request.query:
        from urllib.parse import parse_qsl

        query: dict[str, str] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value  # as Lambda joins
        event["queryStringParameters"] = query
    if raw:
        event["body"] = body
    return event
