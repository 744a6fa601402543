"""A synchronous invoke is answered when the runtime posts, not when the invocation ends.

On Lambda the caller of ``Invoke`` gets the response as soon as the runtime has posted it,
while the invocation (and its billed Duration) goes on until the runtime and every
extension ask for the next event. Here the scripted runtime posts, then waits for a file
that the test creates only after boto3 has returned: boto3 returning at all proves the
early answer (the invocation cannot end before the file exists), with no timed threshold.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from local_lambda import LocalLambda
from tests.conftest import lambda_client
from tests.local_lambda.conftest import read_records

# Posts its answer, records that it did, then asks for the next event only once $GO exists.
ANSWERS_THEN_WAITS = """
while True:
    status, headers, event = next_event()
    rid = headers["lambda-runtime-aws-request-id"]
    post(rid, "response", b'"answered"')
    record(posted=rid)
    while not os.path.exists(os.environ["GO"]):
        time.sleep(0.005)
    os.remove(os.environ["GO"])
"""

# Long enough never to be what ends a waiting invocation: a missing early answer shows
# as boto3's read timeout (a failure), not as a late pass.
FUNCTION_TIMEOUT_S = 120.0
CALLER_TIMEOUT_S = 60


def _report_of(lam: LocalLambda, request_id: str) -> dict[str, float]:
    """The figures of ``request_id``'s REPORT line, once the local Lambda has written it."""
    pattern = re.compile(rf"REPORT RequestId: {request_id}\t(.*)")
    deadline = time.monotonic() + CALLER_TIMEOUT_S
    while time.monotonic() < deadline:
        found = pattern.search(lam.output)
        if found:
            return {
                name: float(value)
                for name, value in re.findall(r"([A-Za-z ]+): ([\d.]+)", found.group(1))
            }
        time.sleep(0.01)
    raise AssertionError(f"no REPORT line for {request_id}:\n{lam.output}")


def test_boto3_gets_the_response_before_the_invocation_ends(
    scripted_lambda: Callable[..., LocalLambda], tmp_path: Path, record_file: Path
) -> None:
    go = tmp_path / "go"
    lam = scripted_lambda(ANSWERS_THEN_WAITS, env={"GO": str(go)}, timeout=FUNCTION_TIMEOUT_S)
    boto = lambda_client(lam.endpoint, read_timeout=CALLER_TIMEOUT_S, retries={"max_attempts": 1})
    for cold in (True, False):
        resp = boto.invoke(FunctionName="test-function", Payload=b"{}")
        # the runtime is still waiting for $GO: its invocation has not ended
        assert json.loads(resp["Payload"].read()) == "answered"
        assert "FunctionError" not in resp
        request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        assert f"REPORT RequestId: {request_id}" not in lam.output
        assert not go.exists()
        go.touch()
        figures = _report_of(lam, request_id)  # the invocation ends once $GO exists
        assert figures["Duration"] > 0
        assert ("Init Duration" in figures) is cold
        assert figures["Billed Duration"] >= figures["Duration"]
    assert [r["posted"] for r in read_records(record_file)][-1] == request_id


def test_with_a_log_tail_the_answer_waits_for_the_report(
    scripted_lambda: Callable[..., LocalLambda], tmp_path: Path, record_file: Path
) -> None:
    """``LogType: Tail`` returns the log's end, REPORT line included: it waits for it."""
    go = tmp_path / "go"
    lam = scripted_lambda(ANSWERS_THEN_WAITS, env={"GO": str(go)}, timeout=FUNCTION_TIMEOUT_S)

    def release_once_posted() -> None:
        while not read_records(record_file):
            time.sleep(0.005)
        go.touch()

    releaser = threading.Thread(target=release_once_posted, daemon=True)
    releaser.start()
    resp = lambda_client(lam.endpoint).invoke(
        FunctionName="test-function", Payload=b"{}", LogType="Tail"
    )
    releaser.join()
    assert json.loads(resp["Payload"].read()) == "answered"
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert f"REPORT RequestId: {resp['ResponseMetadata']['RequestId']}\t" in tail


# Answers at once, then works 0.3 s before asking for the next event.
WORKS_AFTER_ANSWERING = """
while True:
    status, headers, event = next_event()
    post(headers["lambda-runtime-aws-request-id"], "response", b'"answered"')
    time.sleep(0.3)
"""


def test_invoke_says_when_the_response_was_posted(
    scripted_lambda: Callable[..., LocalLambda],
) -> None:
    """``LocalLambda.invoke`` returns the whole invocation, and ``response_ms`` says when its
    answer was posted: on a cold start from the runtime's spawn (so Init is in it)."""
    lam = scripted_lambda(WORKS_AFTER_ANSWERING)
    for cold in (True, False):
        result = lam.invoke({})
        report, timings = result.report, result.timings
        assert result.json() == "answered" and report is not None
        assert timings.result_received_ns < timings.following_next_ns  # answered, then worked
        response_ms = result.response_ms
        assert response_ms is not None and response_ms > 0
        if cold:
            assert report.init_duration_ms is not None
            assert response_ms >= report.init_duration_ms  # spawn -> posted includes Init
            # the billed cold start runs on past the response (0.3 s of work after it)
            assert response_ms < report.init_duration_ms + report.duration_ms
        else:
            assert report.init_duration_ms is None
            assert (
                response_ms
                < report.duration_ms + (timings.next_answered_ns - timings.started_ns) / 1e6
            )
