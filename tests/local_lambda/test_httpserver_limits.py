"""The local Lambda's HTTP server is bounded: slow, huge and flooding clients over real
sockets are cut off, answered early or refused, and well-behaved ones still get served."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from local_lambda.httpserver import HttpRequest, Limits, serve

LIMITS = Limits(
    header_timeout=0.3, body_timeout=0.3, max_connections=4, max_pipelined=2,
    max_header_bytes=8192,
)  # fmt: skip
MAX_BODY = 1000


def _handler(request: HttpRequest) -> None:
    """``/park`` answers 0.2 s later (a long poll); anything else at once with what it got."""
    body = json.dumps({"path": request.path, "size": request.body_size}).encode()
    status = 413 if request.body_size > MAX_BODY else 200
    if request.path == "/park":
        asyncio.get_running_loop().call_later(0.2, request.respond, status, body)
    else:
        request.respond(status, body)


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        serve(_handler, "127.0.0.1", 0, MAX_BODY, time.perf_counter_ns, limits=LIMITS), loop
    ).result(10)
    host, port = server.address.rsplit(":", 1)
    yield host, int(port)
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (10 s at most)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _statuses(data: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def test_slow_headers_get_408_and_the_connection_closes(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n")  # ... and the rest never comes
        data = _read_all(sock)
    assert _statuses(data) == [408] and b"RequestTimeout" in data


def test_a_slow_body_gets_408(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
        data = _read_all(sock)
    assert _statuses(data) == [408]


def test_a_declared_body_over_the_limit_is_answered_before_it_is_sent(
    address: tuple[str, int],
) -> None:
    with _connect(address) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n")
        data = sock.recv(65536)  # not one body byte sent: the answer comes anyway
        assert _statuses(data) == [413]
        assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"path": "/x", "size": 1000000000}
        data = _read_all(sock)  # and as the body does not come, the connection is cut off
    assert _statuses(data) == [408]


def test_huge_headers_get_431(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        data = _read_all(sock)
    assert _statuses(data) == [431]


def test_connections_are_bounded_and_a_freed_slot_serves_again(address: tuple[str, int]) -> None:
    held = [_connect(address) for _ in range(LIMITS.max_connections)]
    try:
        for sock in held:  # make sure each is accepted before the extra one
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
            assert _statuses(sock.recv(65536)) == [200]
        with _connect(address) as extra:
            assert _statuses(_read_all(extra)) == [503]
    finally:
        for sock in held:
            sock.close()
    for _ in range(100):  # the server notices the closes as its loop runs
        with _connect(address) as again:
            again.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            if _statuses(_read_all(again)) == [200]:
                break
        time.sleep(0.05)
    else:
        pytest.fail("no connection was served after the held ones closed")


def test_a_request_pipelined_behind_a_long_poll_is_served_in_order(
    address: tuple[str, int],
) -> None:
    with _connect(address) as sock:
        sock.sendall(
            b"POST /park HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
            b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        data = _read_all(sock)
    assert _statuses(data) == [200, 200]
    assert data.index(b'"/park"') < data.index(b'"/next"')


def test_a_flood_of_pipelined_requests_is_cut_off(address: tuple[str, int]) -> None:
    with _connect(address) as sock:
        sock.sendall(b"GET /park HTTP/1.1\r\nHost: a\r\n\r\n" * 50)
        data = _read_all(sock)
    assert len(_statuses(data)) < 50  # the connection was closed, not 50 requests queued


def test_an_idle_runtime_connection_is_kept(address: tuple[str, int]) -> None:
    """No idle timeout by default: a runtime may sit between requests as long as a handler runs."""
    with _connect(address) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        assert _statuses(sock.recv(65536)) == [200]
        time.sleep(4 * LIMITS.header_timeout)
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        assert _statuses(sock.recv(65536)) == [200]


def test_the_invoke_api_refuses_a_declared_7_mb_payload_before_it_arrives(
    function_dir: Path,
) -> None:
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    config = FunctionConfig(command=[], task_root=function_dir, runtime="python3.12")
    with LocalLambda(config) as lam:
        host, port = lam.endpoint.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /2015-03-31/functions/test-function/invocations HTTP/1.1\r\n"
                b"Host: a\r\nContent-Length: 7340032\r\n\r\n"
            )
            data = sock.recv(65536)  # the answer, with no body byte sent
    assert _statuses(data) == [413] and b"RequestTooLargeException" in data
