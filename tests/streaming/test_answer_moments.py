"""When the caller gets its answer: as Lambda sends it, not at the invocation's end.

On Lambda an invocation goes on after the runtime's post until the runtime and every
extension ask for the next event; the caller of ``InvokeWithResponseStream`` or of a
Function URL (``RESPONSE_STREAM``) gets each chunk as the runtime sends it and the end of
the answer when the runtime has finished posting. Here an external extension holds its
``/event/next`` after each INVOKE until the test creates a file: the answer (read by
boto3's own event-stream parser, or by httpx) arriving whole while the extension still
holds proves that it was not kept for the invocation's end, and the REPORT line not yet
written shows that the invocation really was still running. A handler that waits for a
file after its first chunk proves the first chunk comes before the handler finishes. No
timed assertions: a buffered answer would show as a read timeout (a failure).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_lambda import FunctionConfig, LocalLambda
from local_lambda.function_url import FunctionUrl
from local_lambda.testing import LambdaFactory
from tests.conftest import lambda_client, on_bootstrap, write_function
from tests.local_lambda.test_extensions_kit import extension, make_layer
from tests.streaming.test_streaming import APP

# Holds the environment after each INVOKE until $RELEASE exists (then removes it).
HOLDER = """
ident = register(["INVOKE"])
while True:
    event = next_event(ident)
    while not os.path.exists(os.environ["RELEASE"]):
        time.sleep(0.01)
    os.remove(os.environ["RELEASE"])
"""
# Long enough never to be what ends a held invocation; the caller gives up sooner.
FUNCTION_TIMEOUT_S = 120.0
CALLER_TIMEOUT_S = 60.0


@pytest.fixture
def held(
    function_dir: Path, tmp_path: Path, local_lambda_factory: LambdaFactory
) -> Iterator[Callable[..., tuple[LocalLambda, Path]]]:
    """``held(handler)``: a local Lambda running ``app.HANDLER`` of the streaming tests' app
    with the real bootstrap and the holding extension, and the file that releases it."""
    release = tmp_path / "release"
    layer = make_layer(tmp_path / "holder.zip", {"extensions/holder": extension(HOLDER)})

    def make(handler: str, **config: Any) -> tuple[LocalLambda, Path]:
        env = {"RELEASE": str(release), "RECORD": str(tmp_path / "record.jsonl")}
        config = {"timeout": FUNCTION_TIMEOUT_S, **config}
        task_root = write_function(function_dir, {"app.py": APP})
        lam = local_lambda_factory(
            on_bootstrap(task_root, env=env, handler=f"app.{handler}", layers=[layer], **config)
        )
        return lam, release

    yield make
    release.touch()  # a failed test may have left the extension holding (closed after this)


def strict_client(endpoint: str) -> Any:
    """boto3 for a local endpoint, one attempt and a bounded read: an answer held back
    fails the test (a read timeout) instead of hanging it or being retried elsewhere."""
    return lambda_client(
        endpoint, read_timeout=int(CALLER_TIMEOUT_S), retries={"total_max_attempts": 1}
    )


def _still_running(lam: LocalLambda, request_id: str) -> bool:
    return f"REPORT RequestId: {request_id}" not in lam.output


def test_a_stream_is_passed_on_as_it_comes_and_ends_before_the_invocation(
    held: Callable[..., tuple[LocalLambda, Path]], tmp_path: Path
) -> None:
    lam, release = held("gated")
    gate = tmp_path / "gate"
    response = strict_client(lam.endpoint).invoke_with_response_stream(
        FunctionName="test-function", Payload=json.dumps({"gate": str(gate)}).encode()
    )
    request_id = response["ResponseMetadata"]["RequestId"]
    seen = []
    for event in response["EventStream"]:
        seen.append(event)
        gate.touch()  # the handler sends its second chunk only once the first is here
    assert seen == [
        {"PayloadChunk": {"Payload": b"first"}},
        {"PayloadChunk": {"Payload": b"second"}},
        {"InvokeComplete": {}},
    ]
    assert _still_running(lam, request_id)  # the extension still holds the environment
    release.touch()


def test_a_buffered_answer_comes_as_one_chunk_at_its_post(
    held: Callable[..., tuple[LocalLambda, Path]],
) -> None:
    lam, release = held("plain")
    response = strict_client(lam.endpoint).invoke_with_response_stream(
        FunctionName="test-function", Payload=b"{}"
    )
    seen = list(response["EventStream"])
    assert [list(event) for event in seen] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(seen[0]["PayloadChunk"]["Payload"]) == ["stays", "json"]
    assert seen[1]["InvokeComplete"] == {}
    assert _still_running(lam, response["ResponseMetadata"]["RequestId"])
    release.touch()


def test_a_log_tail_waits_for_the_report(
    held: Callable[..., tuple[LocalLambda, Path]],
) -> None:
    """``LogType: Tail``: the chunks still come at once, but ``InvokeComplete`` carries the
    log's end, REPORT included, so it comes when the invocation has ended."""
    import base64

    lam, release = held("plain")
    response = strict_client(lam.endpoint).invoke_with_response_stream(
        FunctionName="test-function", Payload=b"{}", LogType="Tail"
    )
    events = iter(response["EventStream"])
    assert json.loads(next(events)["PayloadChunk"]["Payload"]) == ["stays", "json"]
    release.touch()  # only now can the invocation end
    complete = next(events)["InvokeComplete"]
    tail = base64.b64decode(complete["LogResult"]).decode()
    assert f"REPORT RequestId: {response['ResponseMetadata']['RequestId']}\t" in tail


def test_a_timeout_mid_stream_ends_the_event_stream_with_the_error(
    held: Callable[..., tuple[LocalLambda, Path]], tmp_path: Path
) -> None:
    lam, release = held("gated", timeout=1.0)
    release.touch()  # the extension lets the invocation end as soon as it can
    response = strict_client(lam.endpoint).invoke_with_response_stream(
        FunctionName="test-function", Payload=json.dumps({"gate": str(tmp_path / "never")}).encode()
    )
    seen = list(response["EventStream"])
    assert seen[0] == {"PayloadChunk": {"Payload": b"first"}}
    complete = seen[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Unhandled"
    assert json.loads(complete["ErrorDetails"])["errorType"] == "Sandbox.Timedout"


def test_a_function_url_streams_the_http_response_as_the_body_arrives(
    held: Callable[..., tuple[LocalLambda, Path]], tmp_path: Path
) -> None:
    lam, release = held("url_gated")
    gate = tmp_path / "gate"
    with (
        FunctionUrl(lam) as url,
        httpx.Client(timeout=CALLER_TIMEOUT_S) as http,
        http.stream("GET", f"{url.url}/orders", params={"gate": str(gate)}) as response,
    ):
        # status and headers come from the prelude, before the handler has finished
        assert response.status_code == 202
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["x-path"] == "/orders"
        assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
        body = b""
        for piece in response.iter_raw():
            body += piece
            gate.touch()
        assert body == b"firstsecond"
        assert "REPORT RequestId" not in lam.output  # the body ended; the invocation has not
    release.touch()


def test_a_function_url_answers_a_buffered_result_at_its_post(
    held: Callable[..., tuple[LocalLambda, Path]],
) -> None:
    lam, release = held("plain")
    with FunctionUrl(lam) as url:
        response = httpx.get(url.url + "/", timeout=CALLER_TIMEOUT_S)
        assert response.status_code == 200 and response.json() == ["stays", "json"]
        assert "REPORT RequestId" not in lam.output
        release.touch()


def test_a_function_url_cuts_the_body_short_on_an_error_mid_stream(
    held: Callable[..., tuple[LocalLambda, Path]],
) -> None:
    """The status line and the first bytes are out when the function fails: the body is
    never ended, so an HTTP client sees it incomplete instead of taking it as whole."""
    lam, release = held("fails_midway")
    release.touch()
    received = b""
    with (
        FunctionUrl(lam) as url,
        httpx.Client(timeout=CALLER_TIMEOUT_S) as http,
        http.stream("GET", url.url + "/") as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            for piece in response.iter_raw():
                received += piece
    assert received == b"partial"


# A runtime that starts a streamed response, then dies once the test has its first chunk.
DIES_MID_STREAM = """
import http.client, os, socket, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
conn.request("GET", "/2018-06-01/runtime/invocation/next")
answer = conn.getresponse()
answer.read()
request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
post = socket.create_connection((host, int(port)))
post.sendall(
    f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\\r\\n"
    "Host: runtime\\r\\nLambda-Runtime-Function-Response-Mode: streaming\\r\\n"
    "Transfer-Encoding: chunked\\r\\nContent-Type: text/plain\\r\\n\\r\\n"
    "7\\r\\npartial\\r\\n".encode()
)
while not os.path.exists(os.environ["GATE"]):
    time.sleep(0.01)
os._exit(1)
"""


def test_a_runtime_dying_mid_stream_ends_the_event_stream_with_an_error(
    function_dir: Path, tmp_path: Path
) -> None:
    import sys

    gate = tmp_path / "gate"
    script = function_dir / "runtime.py"
    script.write_text(DIES_MID_STREAM)
    config = FunctionConfig(
        command=[sys.executable, str(script)],
        task_root=function_dir,
        env={"GATE": str(gate)},
        timeout=FUNCTION_TIMEOUT_S,
    )
    with LocalLambda(config) as lam:
        response = strict_client(lam.endpoint).invoke_with_response_stream(
            FunctionName="test-function", Payload=b"{}"
        )
        events = iter(response["EventStream"])
        assert next(events) == {"PayloadChunk": {"Payload": b"partial"}}
        gate.touch()  # now the runtime dies, its stream unfinished
        rest = list(events)
    assert [list(event) for event in rest] == [["InvokeComplete"]]
    complete = rest[0]["InvokeComplete"]
    assert complete["ErrorCode"] == "Unhandled"
    # whichever the platform saw first: the broken stream or the runtime's exit
    error_type = json.loads(complete["ErrorDetails"])["errorType"]
    assert error_type in ("Runtime.TruncatedResponse", "Runtime.ExitError")
