"""The sans-IO protocol: request bytes, response parsing, and what each status means."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runtime_core.invocation import Invocation
from runtime_core.protocol import (
    EXTENSION_NAME,
    ApiError,
    Response,
    ResponseReader,
    RuntimeProtocol,
    parse_invocation,
    post_verdict,
)
from tests.conftest import REPO

HOST = "127.0.0.1:9001"


def invocation(**extra: str | None) -> Invocation:
    return Invocation("rid-1", 1700000000000, "arn:f", b"{}", **extra)  # type: ignore[arg-type]


def test_next_request_is_a_bare_get_with_user_agent() -> None:
    raw = RuntimeProtocol(HOST).next_request.raw
    assert raw == (
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
        b"Host: 127.0.0.1:9001\r\nUser-Agent: lambdaboot/0.1.0\r\n\r\n"
    )


def test_response_request_carries_body_type_and_echoes_invocation_id() -> None:
    request = RuntimeProtocol(HOST).response(invocation(invocation_id="nonce-7"), b'{"a":1}', None)
    head, _, body = request.raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /2018-06-01/runtime/invocation/rid-1/response HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json" in head
    assert b"\r\nLambda-Runtime-Invocation-Id: nonce-7" in head
    assert b"\r\nContent-Length: 7" in head
    assert body == b'{"a":1}'


def test_no_invocation_id_header_when_none_was_sent() -> None:
    request = RuntimeProtocol(HOST).error(invocation(), b"{}", "Function.Boom", None)
    assert b"Lambda-Runtime-Invocation-Id" not in request.raw
    assert b"\r\nLambda-Runtime-Function-Error-Type: Function.Boom" in request.raw
    assert b"XRay" not in request.raw


def test_init_error_and_extension_requests() -> None:
    protocol = RuntimeProtocol(HOST)
    init = protocol.init_error(b'{"errorType":"X"}', "Runtime.ImportModuleError")
    assert init.raw.startswith(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\n")
    assert b"Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError" in init.raw
    register = protocol.extension_register(EXTENSION_NAME)
    assert register.raw.startswith(b"POST /2020-01-01/extension/register HTTP/1.1\r\n")
    assert b"\r\nLambda-Extension-Name: " in register.raw
    assert register.raw.endswith(b'\r\n\r\n{"events":[]}')
    assert b"Lambda-Extension-Identifier: abc" in protocol.extension_next("abc").raw


NEXT = (
    b"HTTP/1.1 200 OK\r\n"
    b"Lambda-Runtime-Aws-Request-Id: 8476a536\r\n"
    b"Lambda-Runtime-Deadline-Ms: 1700000003000\r\n"
    b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
    b"Lambda-Runtime-Trace-Id: Root=1-abc\r\n"
    b"Lambda-Runtime-Client-Context: \r\n"
    b"Lambda-Runtime-Cognito-Identity: \r\n"
    b"Lambda-Runtime-Aws-Tenant-Id: tenant-a\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 11\r\n\r\n"
    b'{"key": 42}'
)


def test_next_response_parsed_byte_by_byte_empty_headers_absent() -> None:
    reader = ResponseReader()
    for i in range(len(NEXT)):
        reader.feed(NEXT[i : i + 1])
    [response] = reader.done
    inv = parse_invocation(response)
    assert (inv.request_id, inv.deadline_ms, inv.body) == (
        "8476a536",
        1700000003000,
        b'{"key": 42}',
    )
    assert inv.invoked_function_arn == "arn:aws:lambda:us-east-1:1:function:f"
    assert (inv.trace_id, inv.tenant_id, inv.content_type) == (
        "Root=1-abc",
        "tenant-a",
        "application/json",
    )
    assert inv.client_context is None and inv.cognito_identity is None and inv.invocation_id is None


def test_chunked_and_pipelined_responses() -> None:
    reader = ResponseReader()
    reader.feed(
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    )
    first, second = reader.done
    assert (first.status, first.body, first.keep_alive) == (202, b"hello world", True)
    assert (second.status, second.keep_alive) == (500, False)


def test_garbage_is_an_api_error() -> None:
    with pytest.raises(ApiError, match="malformed"):
        ResponseReader().feed(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_next_without_request_id_or_with_error_status() -> None:
    with pytest.raises(ApiError, match="Request-Id"):
        parse_invocation(Response(200, {"lambda-runtime-deadline-ms": "1"}, b""))
    with pytest.raises(ApiError, match="500"):
        parse_invocation(Response(500, {}, b'{"errorType":"InternalServerError"}'))


@pytest.mark.parametrize("status", [400, 403, 410, 413])
def test_refused_posts_are_logged_and_survived(status: int) -> None:
    message = post_verdict("/response", Response(status, {}, b'{"errorType":"X"}'))
    assert message is not None and str(status) in message and "X" in message


def test_accepted_and_fatal_posts() -> None:
    assert post_verdict("/response", Response(202, {}, b'{"status":"OK"}')) is None
    with pytest.raises(ApiError, match="500"):
        post_verdict("/error", Response(500, {}, b"{}"))


def test_parser_loads_without_typing_and_leaves_real_modules_behind() -> None:
    """The C parser is loaded under stand-ins; afterwards typing and httptools import for real."""
    code = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from runtime_core.protocol import ResponseReader
reader = ResponseReader()
assert "typing" not in sys.modules and "httptools" not in sys.modules, sorted(sys.modules)
reader.feed(b"HTTP/1.1 202 Accepted\\r\\nContent-Length: 0\\r\\n\\r\\n")
assert reader.done[0].status == 202
import typing, httptools
assert typing.Optional[int] == typing.Union[int, None]
assert httptools.HttpResponseParser is type(reader._parser)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-s", "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "ok", result.stderr


def _big_next(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
        b"Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )


def test_a_big_body_fed_in_pieces_is_one_buffer_with_the_same_bytes() -> None:
    body = bytes(range(256)) * 1000
    wire = _big_next(body) + b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
    reader = ResponseReader()
    for offset in range(0, len(wire), 7000):  # as the async driver feeds it
        reader.feed(wire[offset : offset + 7000])
    big, small = reader.done
    assert type(big.body) is bytearray and big.body == body
    assert (small.status, small.body) == (202, b"ok")


def test_a_big_body_received_into_its_window_then_the_next_response() -> None:
    body = b"y" * 200_000
    wire = _big_next(body)
    reader = ResponseReader()
    reader.feed(wire[:1000])  # the head and the start of the body
    window = reader.body_window()
    assert window is not None and len(window) == len(wire) - 1000
    window[:] = wire[1000:]  # what the blocking driver's recv_into does
    reader.body_received()
    assert reader.body_window() is None and not reader.partial
    reader.feed(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    big, small = reader.done
    assert parse_invocation(big).body == body
    assert (small.status, small.keep_alive) == (202, False)
