"""Response streaming end to end: the real ``bootstrap`` streaming through the local Lambda
to ``LocalLambda.invoke(on_chunk=...)`` and to boto3's ``invoke_with_response_stream``.

"Chunks before the handler finishes" is proven without timing: the handler sends its
first chunk, then waits until the test has received it (a file the test creates), so a
runtime or emulator that buffered the response would never finish.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_lambda import LocalLambda
from runtime_core.streaming import MAX_STREAM_BYTES, ResponseStream, ResponseTooLarge
from tests.conftest import LAMBDABOOT, RUNTIME_PYTHONS, lambda_client, on_bootstrap, write_function

APP = '''
import asyncio, json, os
from runtime_core import FunctionUrlResponse, ResponseStream, streaming_response

async def _wait_for(path):
    for _ in range(3000):  # at most 30 s, then the test fails on the missing chunk
        if os.path.exists(path):
            return
        await asyncio.sleep(0.01)

async def gated(event, context):
    yield b"first"
    await _wait_for(event["gate"])
    yield "second"

async def together(event, context):  # streams its pid once all n are in flight
    open(os.path.join(event["dir"], context.aws_request_id), "w").close()
    for _ in range(3000):
        if len(os.listdir(event["dir"])) >= event["n"]:
            break
        await asyncio.sleep(0.01)
    yield b"pid="
    yield str(os.getpid()).encode()

async def fails_midway(event, context):
    yield b"partial"
    raise ValueError("the source went away")

async def fails_first(event, context):
    raise KeyError("nothing to send")
    yield b""

@streaming_response
async def function_url(event, stream: ResponseStream, context):
    stream.set_http_response(FunctionUrlResponse(201, {"x-kind": "url"}, ["session=abc"]))
    await stream.write("hello ")
    await stream.write(b"world")

@streaming_response
async def url_gated(event, stream, context):
    stream.set_http_response(FunctionUrlResponse(
        202, {"content-type": "text/plain", "x-path": event["rawPath"]}, ["a=1", "b=2"]))
    await stream.write("first")
    await _wait_for(event["queryStringParameters"]["gate"])
    await stream.write("second")

@streaming_response
def sync_lines(event, context):
    return (f"line {i}\\n" for i in range(3))

@streaming_response
def sync_writer(event, stream, context):
    stream.content_type = "text/csv"
    for row in ("a,b\\n", "1,2\\n"):
        stream.write(row)

def plain(event, context):
    return ["stays", "json"]

async def race_reader(event, context):
    """Streams ``total`` bytes and reports, last, how far it ever got ahead of the reader
    (who writes what it has received to a file)."""
    block = b"x" * event["block"]
    sent = lead = received = 0
    while sent < event["total"]:
        yield block
        sent += len(block)
        try:
            received = int(open(event["progress"]).read())
        except FileNotFoundError:
            pass
        lead = max(lead, sent - received)
    yield b"|" + str(lead).encode()
'''


def make_lambda(task: Path, handler: str, python: Path | None = None, **config: Any) -> LocalLambda:
    task_root = write_function(task, {"app.py": APP})
    python = python or RUNTIME_PYTHONS["3.11"]
    return LocalLambda(on_bootstrap(task_root, python, handler=f"app.{handler}", **config))


def events(endpoint: str, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    response = lambda_client(endpoint).invoke_with_response_stream(
        FunctionName="test-function", Payload=json.dumps(event).encode()
    )
    assert response["StatusCode"] == 200
    yield from response["EventStream"]


def test_chunks_reach_the_caller_before_the_handler_ends(
    function_dir: Path, tmp_path: Path, runtime_python: Path
) -> None:
    gate = tmp_path / "gate"
    received: list[bytes] = []

    def on_chunk(chunk: bytes) -> None:
        received.append(chunk)
        gate.touch()  # the handler sends its second chunk only after this

    with make_lambda(function_dir, "gated", runtime_python) as lam:
        result = lam.invoke({"gate": str(gate)}, on_chunk=on_chunk)
    assert result.function_error is None
    assert received == [b"first", b"second"]


def test_boto3_sees_chunks_as_they_come(function_dir: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    seen: list[Any] = []
    with make_lambda(function_dir, "gated") as lam:
        for event in events(lam.endpoint, {"gate": str(gate)}):
            seen.append(event)
            gate.touch()
    assert seen[0] == {"PayloadChunk": {"Payload": b"first"}}
    assert seen[1] == {"PayloadChunk": {"Payload": b"second"}}
    assert seen[2]["InvokeComplete"].get("ErrorCode") is None


def test_streaming_slots_are_shared_out_over_a_process_per_cpu(
    function_dir: Path, tmp_path: Path
) -> None:
    n, cpus = 4, len(os.sched_getaffinity(0))
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    event = {"n": n, "dir": str(meeting)}
    lam = make_lambda(function_dir, "together", max_concurrency=n, timeout=40)
    with lam, ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: lam.invoke(event), range(n)))
    assert [result.function_error for result in results] == [None] * n
    assert all(result.payload.startswith(b"pid=") for result in results)
    per_process = Counter(result.payload for result in results)
    processes = min(n, cpus)  # each serving its share: n // processes here
    assert sorted(per_process.values()) == [n // processes] * processes, per_process


def test_error_after_the_first_byte_travels_in_the_trailers(function_dir: Path) -> None:
    with make_lambda(function_dir, "fails_midway") as lam:
        seen = list(events(lam.endpoint, {}))
        buffered = lam.invoke({})
    assert seen[0] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = seen[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Unhandled"
    error = json.loads(complete["ErrorDetails"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the source went away"
    # The buffered invoker sees the error the trailers carried, with its type.
    assert buffered.function_error == "Unhandled"
    assert buffered.error_type == "Function.ValueError"
    assert buffered.json()["errorMessage"] == "the source went away"


def test_error_before_the_first_byte_is_an_ordinary_error(function_dir: Path) -> None:
    chunks: list[bytes] = []
    with make_lambda(function_dir, "fails_first") as lam:
        result = lam.invoke({}, on_chunk=chunks.append)
        seen = list(events(lam.endpoint, {}))
    assert chunks == []
    assert result.error_type == "Function.KeyError"
    assert result.json()["errorType"] == "KeyError"
    assert [list(event) for event in seen] == [["InvokeComplete"]]
    assert json.loads(seen[0]["InvokeComplete"]["ErrorDetails"])["errorType"] == "KeyError"


def test_function_url_response_is_a_prelude_then_the_body(function_dir: Path) -> None:
    with make_lambda(function_dir, "function_url") as lam:
        result = lam.invoke({})
    prelude, separator, body = result.payload.partition(b"\x00" * 8)
    assert separator
    assert json.loads(prelude) == {
        "statusCode": 201,
        "headers": {"x-kind": "url"},
        "cookies": ["session=abc"],
    }
    assert body == b"hello world"


def test_a_decorated_sync_generator_streams(function_dir: Path) -> None:
    chunks: list[bytes] = []
    with make_lambda(function_dir, "sync_lines") as lam:
        result = lam.invoke({}, on_chunk=chunks.append)
    assert result.function_error is None
    assert b"".join(chunks) == b"line 0\nline 1\nline 2\n"


def test_a_sync_handler_writes_to_a_blocking_stream(function_dir: Path) -> None:
    with make_lambda(function_dir, "sync_writer") as lam:
        seen = list(events(lam.endpoint, {}))
        result = lam.invoke({})
    assert (
        b"".join(e["PayloadChunk"]["Payload"] for e in seen if "PayloadChunk" in e) == b"a,b\n1,2\n"
    )
    assert result.payload == b"a,b\n1,2\n"


def test_a_handler_returning_a_list_stays_json(function_dir: Path) -> None:
    with make_lambda(function_dir, "plain") as lam:
        assert lam.invoke({}).json() == ["stays", "json"]
        seen = list(events(lam.endpoint, {}))
    assert json.loads(seen[0]["PayloadChunk"]["Payload"]) == ["stays", "json"]
    assert "ErrorCode" not in seen[1]["InvokeComplete"]


def test_a_slow_reader_holds_the_handler_back(function_dir: Path, tmp_path: Path) -> None:
    """96 MB to a reader that takes its time: the handler is never more than a bounded
    amount ahead of what the reader has received (the kernel's buffers on two sockets,
    about 20 MB here, plus the local Lambda's 1 MB high-water mark), not the whole response."""
    total = 96 * 1024 * 1024
    progress = tmp_path / "progress"
    staged = tmp_path / "progress.new"
    received = 0
    tail = b""
    with make_lambda(function_dir, "race_reader", timeout=120) as lam:
        for event in events(
            lam.endpoint, {"block": 256 * 1024, "total": total, "progress": str(progress)}
        ):
            payload = event.get("PayloadChunk", {}).get("Payload", b"")
            received += len(payload)
            tail = (tail + payload)[-64:]
            staged.write_text(str(received))
            staged.replace(progress)  # atomic: the handler never reads a half-written count
            if received < total:
                time.sleep(0.002)  # a slow reader: not a timing assertion
    lead = int(tail.rpartition(b"|")[2])
    assert received > total
    assert lead < total // 3, f"the handler ran {lead} bytes ahead of its reader"


def test_the_200_mb_limit_is_a_clear_error() -> None:
    sent = 0

    class Counter:
        async def begin(self, content_type: str) -> None:
            pass

        async def write(self, chunk: bytes) -> None:
            nonlocal sent
            sent += len(chunk)

    async def write_too_much() -> None:
        stream = ResponseStream(Counter())
        block = memoryview(bytearray(8 * 1024 * 1024))
        for _ in range(MAX_STREAM_BYTES // len(block) + 1):
            await stream.write(block)

    with pytest.raises(ResponseTooLarge, match="limit of 209715200 bytes"):
        asyncio.run(write_too_much())
    assert sent <= MAX_STREAM_BYTES


def test_lambdaboot_invoke_prints_chunks_as_they_arrive(function_dir: Path, tmp_path: Path) -> None:
    import subprocess

    gate = tmp_path / "gate"
    write_function(function_dir, {"app.py": APP})
    proc = subprocess.Popen(
        [
            str(LAMBDABOOT),
            "invoke",
            str(function_dir),
            "--handler",
            "app.gated",
            "--event",
            json.dumps({"gate": str(gate)}),
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    first = proc.stdout.read(len(b"first"))  # printed while the handler still waits
    gate.touch()
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    assert (first, rest) == (b"first", b"second\n")


def test_a_function_url_streams_status_headers_cookies_and_body(
    function_dir: Path, tmp_path: Path
) -> None:
    import urllib.request

    from local_lambda.function_url import FunctionUrl

    gate = tmp_path / "gate"
    with make_lambda(function_dir, "url_gated") as lam, FunctionUrl(lam) as url:
        response = urllib.request.urlopen(f"{url.url}/orders?gate={gate}", timeout=60)
        first = response.read(len("first"))  # before the handler has finished
        gate.touch()
        rest = response.read()
    assert response.status == 202
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["x-path"] == "/orders"
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert (first, rest) == (b"first", b"second")


def test_a_function_url_answers_502_on_a_function_error(function_dir: Path) -> None:
    import urllib.error
    import urllib.request

    from local_lambda.function_url import FunctionUrl

    with (
        make_lambda(function_dir, "fails_first") as lam,
        FunctionUrl(lam) as url,
        pytest.raises(urllib.error.HTTPError) as raised,
    ):
        urllib.request.urlopen(url.url + "/", timeout=60)
    assert raised.value.code == 502


def test_lambdaboot_serve_streams_to_boto3_and_a_function_url(
    function_dir: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import urllib.request

    write_function(function_dir, {"app.py": APP})
    proc = subprocess.Popen(
        [
            str(LAMBDABOOT),
            "serve",
            str(function_dir),
            "--handler",
            "app.url_gated",
            "--function-url-port",
            "0",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        invoke_api = lines[0].split("Invoke API: ", 1)[1].split("/2015-03-31")[0]
        function_url = lines[2].split("Function URL: ", 1)[1].strip()
        gate = tmp_path / "gate"
        event = {"rawPath": "/", "queryStringParameters": {"gate": str(gate)}}
        payload = b""
        for item in events(invoke_api, event):
            payload += item.get("PayloadChunk", {}).get("Payload", b"")
            gate.touch()
        assert payload.partition(b"\x00" * 8)[2] == b"firstsecond"
        with urllib.request.urlopen(f"{function_url}?gate={gate}", timeout=60) as response:
            assert response.status == 202 and response.read() == b"firstsecond"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # 128 + SIGINT
    finally:
        proc.kill()
