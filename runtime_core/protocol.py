"""The Runtime API as bytes: requests to send and responses to understand, with no sockets.

Keeping the protocol sans-IO (as h11 does) lets three drivers (blocking socket, uvloop,
httpx) share one reading of the API, and lets the tests check it byte for byte. This
module is on the blocking engine's start-up path, so it imports almost nothing: not
``typing`` (~9 ms) and not the ``httptools`` package's ``__init__``, only its C parser
(``runtime_core.startup`` has that trick and its fallback).
"""

from __future__ import annotations

from runtime_core.invocation import Invocation
from runtime_core.startup import response_parser_class
from runtime_core.version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from httptools.parser.parser import HttpResponseParser

    from runtime_core.outcome import Outcome

__all__ = [
    "ApiError",
    "ApiGone",
    "Disconnected",
    "InvalidInvocation",
    "Request",
    "Response",
    "ResponseReader",
    "RuntimeProtocol",
    "parse_invocation",
    "post_verdict",
    "stream_chunk",
    "stream_end",
]

USER_AGENT = "lambdaboot/" + __version__
#: Above this size a body is neither copied behind its request head nor gathered from
#: chunks: it is sent, or received, in place.
BIG_BODY = 64 * 1024
#: The largest body received into one buffer sized by its ``Content-Length`` up front
#: (Lambda's payloads are at most 6 MB); a hostile larger claim is read in chunks.
_PREALLOCATE_MAX = 64 * 1024 * 1024
RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
#: What awslambdaric 4.2.2 sends with an error body (Lambda may hand it to the invoker).
ERROR_CONTENT_TYPE = "application/json"
# Response streaming (spec §2): the mode header and the trailers declared up front.
STREAM_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
STREAM_ERROR_BODY = "Lambda-Runtime-Function-Error-Body"
TELEMETRY = "/2022-07-01/telemetry"
# SnapStart (runtime_core.snapstart): asked once the before-snapshot hooks have run.
RESTORE_NEXT_PATH = RUNTIME + "/restore/next"
TELEMETRY_SCHEMA = "2022-12-13"
# Header names, once for the whole runtime (the extension client uses them too).
H_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
H_INVOCATION_ID = "Lambda-Runtime-Invocation-Id"
H_EXTENSION_NAME = "Lambda-Extension-Name"
H_EXTENSION_ID = "Lambda-Extension-Identifier"
H_EXTENSION_ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
#: The name the runtime's own internal extension registers under (it exists only so that
#: Lambda sends SIGTERM, see runtime_core.shutdown).
EXTENSION_NAME = "lambdaboot-shutdown"
#: The error posted for an invocation whose ``Lambda-Runtime-Deadline-Ms`` is not a number.
INVALID_DEADLINE = "Runtime.InvalidDeadline"


class ApiError(Exception):
    """The Runtime API cannot be used any more: the runtime must exit non-zero."""


class Disconnected(ApiError):
    """The connection failed during a request.

    ``answered`` is False when not one byte of a response had arrived: the request can be
    sent again on a new connection (if the server had taken it, it answers the copy 4xx).
    When True, the answer may have been lost half-way, so the request is never resent.
    """

    def __init__(self, message: str, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class ApiGone(ApiError):
    """The Runtime API could not be reached again after a lost connection (its listener is
    gone): the slot that found out ends; at concurrency 1, the runtime."""


class InvalidInvocation(Exception):
    """``/next`` gave a request id but a header the runtime cannot use: the invocation is
    answered with this error (for its request id) instead of ending the runtime."""

    def __init__(self, invocation: Invocation, error_type: str, message: str) -> None:
        super().__init__(message)
        #: What could be read of it (the request id, the invocation id to echo).
        self.invocation = invocation
        self.error_type = error_type
        self.message = message


class Request:
    """One HTTP request to the Runtime or Extensions API, in fields and as wire bytes.

    Socket drivers send ``raw``; the httpx driver uses the fields. ``raw`` is built once,
    so a request that never changes (``GET /next``) costs nothing per invocation. A body
    above ``BIG_BODY`` is not copied behind its head: ``raw`` is then the head alone, and
    the driver sends ``body`` after it (a fresh 5 MB copy costs ~1,200 page faults).
    """

    __slots__ = ("body", "headers", "method", "path", "raw", "split")

    def __init__(
        self, host: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        head = [f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in headers)
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}\r\n")
        head.append("\r\n")
        raw = "".join(head).encode("latin-1")
        #: True when ``raw`` is only the head and ``body`` goes after it.
        self.split = len(body) > BIG_BODY
        self.raw = raw if self.split else raw + body

    @classmethod
    def prebuilt(
        cls, method: str, path: str, headers: list[tuple[str, str]], body: bytes, raw: bytes
    ) -> Request:
        """A request whose wire bytes the caller has made itself (``RuntimeProtocol``'s
        template for the warm path's post); ``raw`` must be what ``Request`` would make."""
        request = cls.__new__(cls)
        request.method = method
        request.path = path
        request.headers = headers
        request.body = body
        request.split = False
        request.raw = raw
        return request


class Response:
    """A complete HTTP response: status, headers (names lower-cased), body."""

    __slots__ = ("body", "headers", "keep_alive", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, keep_alive: bool = True):
        self.status = status
        self.headers = headers
        self.body = body
        #: False when the server announced it closes the connection after this response.
        self.keep_alive = keep_alive


class ResponseReader:
    """Turns the bytes of one keep-alive connection into ``Response`` values.

    One reader per connection: httptools parses pipelined messages in sequence, so the
    parser and its callbacks are allocated once, not per request.

    A body above ``BIG_BODY`` with a ``Content-Length`` goes into one ``bytearray`` of
    that length: what the head's read brought is copied in, and the driver receives the
    rest straight into ``body_window()`` (then calls ``body_received``), so a 5 MB event
    is one buffer, not 20 chunks and their join. Such a body is a ``bytearray``; orjson
    and ``json.loads`` read it as they read bytes.
    """

    __slots__ = ("_big", "_chunks", "_filled", "_headers", "_parser", "_pending", "done")

    _parser_class: type[HttpResponseParser] | None = None

    def __init__(self) -> None:
        cls = ResponseReader._parser_class
        if cls is None:
            cls = ResponseReader._parser_class = response_parser_class()
        self._parser = cls(self)
        self._headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        #: The preallocated body of a big response, and how much of it has arrived.
        self._big: bytearray | None = None
        self._filled = 0
        #: True between a response's first byte and its end.
        self._pending = False
        #: Responses completed by ``feed`` and not yet taken.
        self.done: list[Response] = []

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Parse more bytes; each completed response is appended to ``done``.

        Raises ``Disconnected`` (answered: it may have been an answer) on bytes that are
        not HTTP: the connection is useless from there on, as if it had been cut.
        """
        try:
            self._parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError and its subclasses
            raise Disconnected(
                f"the Runtime API sent a malformed HTTP response ({exc})", answered=True
            ) from None

    def feed_eof(self) -> bool:
        """The server closed the connection: complete a response whose body runs to the
        close (HTTP/1.0, or no ``Content-Length`` and not chunked). True if one was."""
        headers = self._headers
        if not self._pending or "content-length" in headers or "transfer-encoding" in headers:
            return False
        if self._parser.get_status_code() == 0:  # the head itself was cut short
            return False
        self.on_message_complete()
        return True

    @property
    def partial(self) -> bool:
        """True when some bytes of a response have arrived but not all of it."""
        return self._pending

    def body_window(self) -> memoryview | None:
        """Where the rest of a big body goes, once the head has been fed; else None."""
        big = self._big
        if big is None or self._filled == len(big):
            return None
        return memoryview(big)[self._filled :]

    def body_received(self) -> None:
        """The driver has filled ``body_window()``: the response is complete. The parser,
        which never saw those bytes, is replaced by a fresh one for the next response."""
        self._filled = len(self._big or b"")
        self.on_message_complete()
        self._parser = type(self._parser)(self)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers = {}
        self._chunks = []
        self._big = None
        self._pending = True

    def on_header(self, name: bytes, value: bytes) -> None:
        key = _HEADER_NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
        self._headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length", "")
        if len(length) > 4 and "transfer-encoding" not in self._headers:
            try:
                size = int(length)
            except ValueError:  # httptools refuses such a head itself
                return
            if BIG_BODY < size <= _PREALLOCATE_MAX:
                self._big = bytearray(size)
                self._filled = 0

    def on_body(self, body: bytes) -> None:
        big = self._big
        if big is None:
            self._chunks.append(body)
            return
        filled = self._filled
        self._filled = end = filled + len(body)
        big[filled:end] = body

    def on_message_complete(self) -> None:
        """The response is complete (also called by ``body_received``)."""
        self._pending = False
        parser = self._parser
        status = parser.get_status_code()
        if status < 200 and status != 101:  # an interim response (100 Continue, 103): skip
            return
        big = self._big
        body: bytes
        if big is not None and self._filled == len(big):
            body = big  # type: ignore[assignment]  # a bytearray: read as bytes are
        else:  # no body after all (a 204, 304)
            chunks = self._chunks
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._big = None
        self.done.append(Response(status, self._headers, body, parser.should_keep_alive()))


_RESPONSE_PATH = RUNTIME + "/invocation/"
_RESPONSE_PATH_BYTES = b"POST " + _RESPONSE_PATH.encode()
_JSON_HEADER = ("Content-Type", "application/json")


class RuntimeProtocol:
    """Builds the requests for one Runtime API address (``AWS_LAMBDA_RUNTIME_API``)."""

    __slots__ = ("_response_tail", "host", "next_request")

    def __init__(self, host: str) -> None:
        self.host = host
        #: ``GET /next`` never changes, so it is built once.
        self.next_request = Request(host, "GET", RUNTIME + "/invocation/next", [])
        #: The warm path's ``POST /response`` (JSON, no invocation id to echo) is a
        #: template: ``_RESPONSE_PATH`` + request id + this + length + body, the bytes
        #: ``Request`` makes (a differential test checks them). Measured in
        #: docs/architecture.md.
        self._response_tail = (
            f"/response HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode("latin-1")

    def post(self, invocation: Invocation, outcome: Outcome) -> Request:
        """The ``/response`` or ``/error`` request that reports ``outcome``."""
        if outcome.is_error:
            return self.error(invocation, outcome.body, outcome.error_type, outcome.xray_cause)
        return self.response(invocation, outcome.body, outcome.content_type)

    def response(
        self,
        invocation: Invocation,
        body: bytes,
        content_type: str | None,
    ) -> Request:
        request_id = invocation.request_id
        path = _RESPONSE_PATH + request_id + "/response"
        if (
            invocation.invocation_id is None
            and (content_type is None or content_type == "application/json")
            and len(body) <= BIG_BODY
        ):
            raw = b"%b%b%b%d\r\n\r\n%b" % (
                _RESPONSE_PATH_BYTES,
                request_id.encode("latin-1"),
                self._response_tail,
                len(body),
                body,
            )
            return Request.prebuilt("POST", path, [_JSON_HEADER], body, raw)
        headers = [("Content-Type", content_type or "application/json")]
        if invocation.invocation_id is not None:
            headers.append((H_INVOCATION_ID, invocation.invocation_id))
        return Request(self.host, "POST", path, headers, body)

    def error(
        self,
        invocation: Invocation,
        body: bytes,
        error_type: str | None,
        xray_cause: str | None,
    ) -> Request:
        headers = [("Content-Type", ERROR_CONTENT_TYPE)]
        if error_type:
            headers.append((H_ERROR_TYPE, error_type))
        if xray_cause:
            headers.append(("Lambda-Runtime-Function-XRay-Error-Cause", xray_cause))
        if invocation.invocation_id is not None:
            headers.append((H_INVOCATION_ID, invocation.invocation_id))
        path = f"{RUNTIME}/invocation/{invocation.request_id}/error"
        return Request(self.host, "POST", path, headers, body)

    def stream_head(self, invocation: Invocation, content_type: str) -> bytes:
        """The head of a streamed ``/response``: chunked, with the error trailers declared."""
        path = f"{RUNTIME}/invocation/{invocation.request_id}/response"
        head = [
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {USER_AGENT}\r\n",
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n",
            "Transfer-Encoding: chunked\r\n",
            f"Trailer: {STREAM_ERROR_TYPE}, {STREAM_ERROR_BODY}\r\n",
            f"Content-Type: {content_type}\r\n",
        ]
        if invocation.invocation_id is not None:
            head.append(f"{H_INVOCATION_ID}: {invocation.invocation_id}\r\n")
        head.append("\r\n")
        return "".join(head).encode("latin-1")

    def init_error(self, body: bytes, error_type: str) -> Request:
        headers = [("Content-Type", ERROR_CONTENT_TYPE), (H_ERROR_TYPE, error_type)]
        return Request(self.host, "POST", RUNTIME + "/init/error", headers, body)

    def restore_next(self) -> Request:
        return Request(self.host, "GET", RESTORE_NEXT_PATH, [])

    def restore_error(self, body: bytes, error_type: str) -> Request:
        headers = [("Content-Type", ERROR_CONTENT_TYPE), (H_ERROR_TYPE, error_type)]
        return Request(self.host, "POST", RUNTIME + "/restore/error", headers, body)

    def extension_register(self, name: str, events_json: bytes = b'{"events":[]}') -> Request:
        """``POST /extension/register``; ``events_json`` is the body (``{"events": [...]}``)."""
        headers = [(H_EXTENSION_NAME, name), ("Content-Type", "application/json")]
        return Request(self.host, "POST", EXTENSION + "/register", headers, events_json)

    def extension_next(self, extension_id: str) -> Request:
        headers = [(H_EXTENSION_ID, extension_id)]
        return Request(self.host, "GET", EXTENSION + "/event/next", headers)

    def extension_error(
        self, extension_id: str, kind: str, error_type: str, body: bytes
    ) -> Request:
        """``POST /extension/init/error`` or ``/extension/exit/error`` (``kind``: init, exit)."""
        headers = [
            (H_EXTENSION_ID, extension_id),
            (H_EXTENSION_ERROR_TYPE, error_type),
            ("Content-Type", "application/json"),
        ]
        return Request(self.host, "POST", f"{EXTENSION}/{kind}/error", headers, body)

    def telemetry_subscribe(self, extension_id: str, body: bytes) -> Request:
        headers = [(H_EXTENSION_ID, extension_id), ("Content-Type", "application/json")]
        return Request(self.host, "PUT", TELEMETRY, headers, body)


def stream_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (never empty: an empty chunk would end the body)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def stream_end(error_type: str | None = None, error_body: bytes = b"") -> bytes:
    """The last chunk; with ``error_type``, the trailers that fail the streamed response
    (the body travels as base64 of the error JSON)."""
    if error_type is None:
        return b"0\r\n\r\n"
    import base64

    encoded = base64.b64encode(error_body).decode("ascii")
    trailers = f"{STREAM_ERROR_TYPE}: {error_type}\r\n{STREAM_ERROR_BODY}: {encoded}\r\n"
    return b"0\r\n" + trailers.encode("latin-1") + b"\r\n"


# The headers of ``GET /next``'s answer, as ``Response.headers`` keys them (lowercase).
N_REQUEST_ID = "lambda-runtime-aws-request-id"
N_DEADLINE = "lambda-runtime-deadline-ms"
N_FUNCTION_ARN = "lambda-runtime-invoked-function-arn"
N_TRACE_ID = "lambda-runtime-trace-id"
N_CLIENT_CONTEXT = "lambda-runtime-client-context"
N_COGNITO_IDENTITY = "lambda-runtime-cognito-identity"
N_TENANT_ID = "lambda-runtime-aws-tenant-id"
N_INVOCATION_ID = "lambda-runtime-invocation-id"

#: The header names the Runtime API sends, as Go's ``net/http`` writes them (Lambda's
#: Runtime API is Go) and in lower case, each mapped to its ``Response.headers`` key:
#: ``ResponseReader.on_header`` looks a name up here before decoding and lower-casing it
#: itself (one C call instead of two, for each of the ~10 headers of an invocation's two
#: answers); any other spelling is decoded as before.
_HEADER_NAMES = {
    spelling: name
    for name in (
        "content-length",
        "content-type",
        "date",
        "transfer-encoding",
        "connection",
        N_REQUEST_ID,
        N_DEADLINE,
        N_FUNCTION_ARN,
        N_TRACE_ID,
        N_CLIENT_CONTEXT,
        N_COGNITO_IDENTITY,
        N_TENANT_ID,
        N_INVOCATION_ID,
    )
    for spelling in (name.encode(), "-".join(map(str.capitalize, name.split("-"))).encode())
}


def parse_invocation(response: Response) -> Invocation:
    """The invocation a ``GET /next`` response carries; ``ApiError`` if it carries none."""
    if response.status != 200:
        raise ApiError(
            f"GET /next answered {response.status}: "
            f"{response.body[:500].decode('utf-8', 'replace')}"
        )
    get = response.headers.get
    request_id = get(N_REQUEST_ID)
    if not request_id:
        raise ApiError("GET /next answered without a Lambda-Runtime-Aws-Request-Id header")
    deadline = get(N_DEADLINE) or ""
    try:
        deadline_ms = int(deadline)
    except ValueError:
        deadline_ms = -1
    # ``or None``: an empty value reads as absent (Managed Instances send those). By
    # position, in ``Invocation``'s order: this is the warm path.
    invocation = Invocation(
        request_id,
        deadline_ms,
        get(N_FUNCTION_ARN, ""),
        response.body,
        get(N_TRACE_ID) or None,  # trace_id
        get(N_CLIENT_CONTEXT) or None,  # client_context
        get(N_COGNITO_IDENTITY) or None,  # cognito_identity
        get(N_TENANT_ID) or None,  # tenant_id
        get(N_INVOCATION_ID) or None,  # invocation_id
        get("content-type") or None,  # content_type
    )
    if deadline_ms < 0:
        message = f"Lambda-Runtime-Deadline-Ms is not a number of milliseconds: {deadline[:100]!r}"
        raise InvalidInvocation(invocation, INVALID_DEADLINE, message)
    return invocation


def invalid_invocation_body(problem: InvalidInvocation) -> bytes:
    """The ``/error`` body for an invocation the runtime could not read (no handler ran).
    Rare, so the stdlib ``json`` is imported only here."""
    import json

    document = {
        "errorMessage": problem.message,
        "errorType": problem.error_type,
        "requestId": problem.invocation.request_id,
        "stackTrace": [],
    }
    return json.dumps(document).encode()


def post_verdict(what: str, response: Response, resent: bool = False) -> str | None:
    """What a status on ``/response`` or ``/error`` means for the runtime.

    Returns None when accepted, a message to log when the invocation is lost but the
    runtime can go on (400 bad id, 403 wrong state, 410 too late, 413 too large: no
    ``/error`` after it, the invoke has already failed), and raises ``ApiError`` when the
    API says the environment is broken (500 and anything unknown): exit promptly.
    ``resent``: the post went again on a new connection after the first one failed with
    no answer; a 4xx then means the server had taken the first one, so it was delivered.
    """
    status = response.status
    if status == 202 or status == 200 or (resent and 400 <= status < 500):
        return None
    detail = response.body[:500].decode("utf-8", "replace").strip()
    if status in (400, 403, 410, 413):
        return f"POST {what} answered {status}, continuing: {detail}"
    raise ApiError(f"POST {what} answered {status}, exiting: {detail}")
