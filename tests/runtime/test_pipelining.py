"""``GET /next`` pipelined behind ``POST /response``, against a scripted Runtime API.

The server here reads and answers requests in exactly the order a test says, over a real
socket, so each test can see what arrived before it answered: the pipelined ``GET``
behind the post, a close after the ``202``, answers out of order, and the
one-request-at-a-time mode (``LAMBDABOOT_PIPELINE=0``).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BOOTSTRAP, runtime_env, write_function

ECHO = {"app.py": "def handler(event, context):\n    return event\n"}
NEXT = "GET /2018-06-01/runtime/invocation/next HTTP/1.1"


class Script:
    """A one-connection-at-a-time HTTP server the test drives request by request."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.conn: socket.socket | None = None
        self.buffer = b""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _connection(self) -> socket.socket:
        if self.conn is None:
            self.conn, _ = self.listener.accept()
            self.conn.settimeout(20)
            self.buffer = b""
        return self.conn

    def request(self) -> tuple[str, bytes]:
        """The next request's line and body (accepting a new connection if needed)."""
        conn = self._connection()
        while b"\r\n\r\n" not in self.buffer:
            data = conn.recv(65536)
            if not data:  # the runtime closed this connection: take the next one
                self.conn = None
                return self.request()
            self.buffer += data
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        while len(self.buffer) < length:
            self.buffer += conn.recv(65536)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return lines[0], body

    def waiting(self) -> bytes:
        """Bytes already sent by the runtime and not yet read as a request (non-blocking)."""
        conn = self._connection()
        conn.setblocking(False)
        try:
            self.buffer += conn.recv(65536)
        except BlockingIOError:
            pass
        finally:
            conn.settimeout(20)
        return self.buffer

    def send(self, data: bytes) -> None:
        self._connection().sendall(data)

    def event(
        self,
        n: int,
        close: bool = False,
        body: bytes | None = None,
        content_type: bytes = b"application/json",
    ) -> bytes:
        body = b'{"n": %d}' % n if body is None else body
        return (
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-%d\r\n"
            b"Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
            b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
            b"Content-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s"
            % (n, content_type, len(body), b"Connection: close\r\n" if close else b"", body)
        )

    @staticmethod
    def accepted(close: bool = False) -> bytes:
        extra = b"Connection: close\r\n" if close else b""
        return b'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n%s\r\n{"status":"OK"}\n' % extra

    def close_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.fixture
def script() -> Iterator[Script]:
    server = Script()
    yield server
    server.close_connection()
    server.listener.close()


@pytest.fixture
def start(script: Script, function_dir: Path) -> Iterator[object]:
    processes: list[subprocess.Popen[bytes]] = []

    def run(pipeline: str | None = None, files: dict[str, str] = ECHO) -> subprocess.Popen[bytes]:
        write_function(function_dir, files)
        python = Path(os.environ.get("PYTHON_FOR_TESTS", "") or _python())
        env = runtime_env(script.address, function_dir, python)
        if pipeline is not None:
            env["LAMBDABOOT_PIPELINE"] = pipeline
        process = subprocess.Popen(
            [str(BOOTSTRAP)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        processes.append(process)
        return process

    yield run
    for process in processes:
        process.kill()
        process.wait()


def _python() -> str:
    import sys

    return sys.executable


def _serve_first(script: Script) -> None:
    """One invocation served, and the runtime asking for the next (pipelined or not)."""
    assert script.request()[0] == NEXT
    script.send(script.event(1))
    line, body = script.request()
    assert (
        line.startswith("POST /2018-06-01/runtime/invocation/id-1/response") and body == b'{"n":1}'
    )
    script.send(script.accepted())
    assert script.request()[0] == NEXT


def test_get_next_arrives_behind_the_post_before_the_202(script: Script, start) -> None:  # type: ignore[no-untyped-def]
    start()
    _serve_first(script)
    script.send(script.event(2))
    line, body = script.request()
    assert (
        line.startswith("POST /2018-06-01/runtime/invocation/id-2/response") and body == b'{"n":2}'
    )
    # The 202 has not been sent, and the runtime's GET /next is already here.
    assert script.request()[0] == NEXT
    script.send(script.accepted() + script.event(3))
    line, body = script.request()
    assert line.endswith("id-3/response HTTP/1.1") and body == b'{"n":3}'
    assert script.request()[0] == NEXT


def test_one_request_at_a_time_when_asked(script: Script, start) -> None:  # type: ignore[no-untyped-def]
    start(pipeline="0")
    _serve_first(script)
    script.send(script.event(2))
    line, _ = script.request()
    assert line.endswith("id-2/response HTTP/1.1")
    # Nothing more until the post is answered.
    assert script.waiting() == b""
    script.send(script.accepted())
    assert script.request()[0] == NEXT


def test_a_close_after_the_202_sends_get_next_again_on_a_new_connection(
    script: Script, start
) -> None:  # type: ignore[no-untyped-def]
    start()
    _serve_first(script)
    script.send(script.event(2))
    assert script.request()[0].endswith("id-2/response HTTP/1.1")
    assert script.request()[0] == NEXT  # pipelined, on the connection about to close
    script.send(script.accepted(close=True))
    script.close_connection()
    assert script.request()[0] == NEXT  # again, on a new connection
    script.send(script.event(3))
    line, body = script.request()
    assert line.endswith("id-3/response HTTP/1.1") and body == b'{"n":3}'


def test_answers_out_of_order_are_both_used_then_one_at_a_time(script: Script, start) -> None:  # type: ignore[no-untyped-def]
    start()
    _serve_first(script)
    script.send(script.event(2))
    assert script.request()[0].endswith("id-2/response HTTP/1.1")
    assert script.request()[0] == NEXT
    script.send(script.event(3) + script.accepted())  # the invocation before the 202
    line, body = script.request()
    assert line.endswith("id-3/response HTTP/1.1") and body == b'{"n":3}'
    assert script.waiting() == b""  # no pipelined GET any more
    script.send(script.accepted())
    assert script.request()[0] == NEXT


def test_a_refused_post_is_logged_and_the_pipelined_invocation_served(
    script: Script, start
) -> None:  # type: ignore[no-untyped-def]
    process = start()
    _serve_first(script)
    script.send(script.event(2))
    assert script.request()[0].endswith("id-2/response HTTP/1.1")
    assert script.request()[0] == NEXT
    refused = b'{"errorType":"RequestEntityTooLarge"}'
    script.send(
        b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: %d\r\n\r\n%s"
        % (len(refused), refused)
        + script.event(3)
    )
    line, body = script.request()
    assert line.endswith("id-3/response HTTP/1.1") and body == b'{"n":3}'
    assert process.poll() is None


def test_a_bad_pipeline_setting_is_an_init_error(script: Script, start) -> None:  # type: ignore[no-untyped-def]
    process = start(pipeline="yes")
    line, body = script.request()
    assert line.startswith("POST /2018-06-01/runtime/init/error")
    assert b"LAMBDABOOT_PIPELINE must be 1 or 0" in body
    script.send(script.accepted())
    assert process.wait(timeout=20) != 0


BIG_ECHO = {
    "app.py": (
        "import hashlib\n"
        "def handler(event, context):\n"
        "    if isinstance(event, dict):\n"
        "        return event\n"
        "    return {'type': type(event).__name__, 'sha256': hashlib.sha256(event).hexdigest()}\n"
    )
}


@pytest.mark.parametrize("pipeline", [None, "0"])
def test_big_events_arrive_whole_and_big_results_leave_whole(
    script: Script, start, pipeline: str | None
) -> None:  # type: ignore[no-untyped-def]
    """Bodies above 64 KB are received into one buffer and posted without a copy: the
    handler still gets the parsed event (JSON) or ``bytes`` (other types), and the server
    the exact bytes, whether the body comes in pieces or behind a 202 in one segment."""
    import hashlib
    import time

    start(pipeline=pipeline, files=BIG_ECHO)
    big_json = b'{"blob":"' + b"x" * 1_000_000 + b'","n":1}'
    event = script.event(1, body=big_json)
    assert script.request()[0] == NEXT
    script.send(event[:300])  # the head and a little of the body, then the rest
    time.sleep(0.05)
    script.send(event[300:600_000])
    time.sleep(0.05)
    script.send(event[600_000:])
    line, body = script.request()
    assert line.endswith("id-1/response HTTP/1.1") and body == big_json
    if pipeline is None:
        assert script.request()[0] == NEXT  # behind the big post, on the same connection
    raw = bytes(range(256)) * 1200  # 300 KB, not JSON
    second = script.event(2, body=raw, content_type=b"application/octet-stream")
    script.send(script.accepted() + second if pipeline is None else script.accepted())
    if pipeline is not None:
        assert script.request()[0] == NEXT
        script.send(second)
    line, body = script.request()
    digest = hashlib.sha256(raw).hexdigest().encode()
    assert line.endswith("id-2/response HTTP/1.1")
    assert body == b'{"type":"bytes","sha256":"%s"}' % digest
    script.send(script.accepted())
    assert script.request()[0] == NEXT
    script.send(script.event(3))  # a small one after the big ones, on the same connection
    line, body = script.request()
    assert line.endswith("id-3/response HTTP/1.1") and body == b'{"n":3}'
