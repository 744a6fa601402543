"""What the runtime does with each answer of the Runtime API, and the wire details it must
honour."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

MakeLambda = Callable[..., LocalLambda]


@pytest.fixture
def runtime_python() -> Path:
    """The suite's own interpreter only: what the runtime does with each Runtime API answer
    is the same Python code on every version (tests/runtime's other files and
    tests/dispatch cover what differs between versions)."""
    return Path(sys.executable)


ECHO = {
    "app.py": """
    def handler(event, context):
        return event
"""
}
ASYNC_ECHO = {
    "app.py": """
    async def handler(event, context):
        return event
"""
}
ENGINES = pytest.mark.parametrize("function", [ECHO, ASYNC_ECHO], ids=["blocking", "uvloop"])


@pytest.mark.parametrize("status", [400, 403, 410, 413])
def test_refused_response_is_logged_and_the_next_invocation_served(
    make_lambda: MakeLambda, status: int
) -> None:
    lam = make_lambda(ECHO)
    assert lam.invoke({"n": 0}).json() == {"n": 0}  # warm: the fault hits the next post
    lam.inject_fault("response", status=status)
    lost = lam.invoke({"n": 1})
    assert lost.function_error == "Unhandled"  # the platform never got a result
    assert lam.invoke({"n": 2}).json() == {"n": 2}
    # Logged before the next invocation is served (with GET /next pipelined behind the
    # post, Lambda may end the lost invocation just before the line is written).
    assert f"answered {status}" in lam.output


@ENGINES
@pytest.mark.parametrize("status", [400, 403, 410, 413])
def test_each_invocation_is_answered_exactly_once(
    api: FakeRuntimeApi, start_runtime: Start, status: int, function: dict[str, str]
) -> None:
    runtime = start_runtime(function)
    api.faults["/response"] = [(status, b'{"errorType":"Refused"}')]
    ids = [api.invoke({"n": n}) for n in range(3)]
    api.wait_for("/invocation/next", 4)  # all three served, and waiting for a fourth
    posted = Counter(s.path.split("/")[-2] for s in api.results())
    assert posted == Counter(ids)  # one post each: no /error after the refused /response
    assert all(s.path.endswith("/response") for s in api.results())
    assert runtime.process.poll() is None


def test_response_too_large_is_not_followed_by_an_error_post(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        def handler(event, context):
            return "x" * (7 * 1024 * 1024) if event == "big" else event
    """
        }
    )
    too_big = lam.invoke(b'"big"')
    assert too_big.error_type == "Function.ResponseSizeTooLarge"
    assert "answered 413" in lam.output
    assert lam.invoke(b'"small"').json() == "small"


@ENGINES
def test_server_error_makes_the_runtime_exit_promptly(
    api: FakeRuntimeApi, start_runtime: Start, function: dict[str, str]
) -> None:
    runtime = start_runtime(function)
    api.faults["/response"] = [(500, b'{"errorType":"InternalServerError"}')]
    api.invoke({"n": 1})
    started = time.monotonic()
    assert runtime.wait(timeout=10) != 0
    assert time.monotonic() - started < 5  # plausibility only: "promptly", not a benchmark
    assert "answered 500" in runtime.output()
    assert len(api.wait_for("/invocation/next", 1, timeout=1)) == 1  # it did not ask for more


@pytest.mark.parametrize("pipeline", ["0", "1"], ids=["one-at-a-time", "pipelined"])
def test_server_error_in_the_local_lambda(make_lambda: MakeLambda, pipeline: str) -> None:
    lam = make_lambda(ECHO, env={"LAMBDABOOT_PIPELINE": pipeline})
    lam.invoke({"n": 0})
    lam.inject_fault("response", status=500)
    result = lam.invoke({"n": 1})
    # One request at a time, Lambda sees the runtime exit; pipelined, it has already had
    # the next GET /next without a result, and may hand that GET the next invocation
    # before the runtime is gone, which the exiting runtime then takes down with it (the
    # documented cost of pipelining when Lambda itself fails). Then the platform starts
    # a fresh environment.
    if pipeline == "0":
        assert result.error_type == "Runtime.ExitError"
    else:
        assert result.error_type in ("Runtime.MissingResponse", "Runtime.ExitError")
        second = lam.invoke({"n": 2})
        assert second.error_type == "Runtime.ExitError" or second.json() == {"n": 2}
    assert lam.invoke({"n": 3}).json() == {"n": 3}
    assert "answered 500" in lam.output


@ENGINES
@pytest.mark.parametrize("endpoint", ["next", "response"])
def test_a_request_dropped_before_any_answer_is_sent_again(
    api: FakeRuntimeApi, start_runtime: Start, endpoint: str, function: dict[str, str]
) -> None:
    runtime = start_runtime(function)
    api.drops["/" + endpoint] = 1
    request_id = api.invoke({"n": 1})
    api.wait_for("/invocation/next", 2 + (endpoint == "next"))  # served, and asking again
    answered = [s for s in api.results() if s.path.split("/")[-2] == request_id]
    assert len(answered) == (2 if endpoint == "response" else 1)  # the dropped one, resent
    assert answered[-1].json() == {"n": 1}
    assert runtime.process.poll() is None


@ENGINES
def test_the_runtime_exits_with_a_clear_message_when_the_api_is_gone(
    api: FakeRuntimeApi, start_runtime: Start, function: dict[str, str]
) -> None:
    runtime = start_runtime(function)
    api.wait_for("/invocation/next", 1)
    api.close()  # the parked /next is cut off and nothing listens any more
    assert runtime.wait(timeout=20) == 1
    output = runtime.output()
    assert "cannot be reached" in output and "Runtime API" in output
    assert "Traceback" not in output


def test_dropped_connection_in_the_local_lambda(make_lambda: MakeLambda) -> None:
    lam = make_lambda(ECHO)
    lam.invoke({"n": 0})
    lam.inject_fault("response", drop=True)  # dropped before any answer: sent again
    assert lam.invoke({"n": 1}).json() == {"n": 1}
    assert lam.invoke({"n": 2}).json() == {"n": 2}


def test_wire_details(api: FakeRuntimeApi, start_runtime: Start) -> None:
    """One keep-alive connection, our User-Agent, the invocation id echoed only when sent."""
    start_runtime(ECHO)
    api.invoke({"n": 1}, Lambda_Runtime_Invocation_Id="nonce-1")
    api.invoke({"n": 2})
    api.invoke({"n": 3}, Lambda_Runtime_Invocation_Id="")
    first, second, third = api.wait_for("/response", 3)
    assert first.headers.get("lambda-runtime-invocation-id") == "nonce-1"
    assert "lambda-runtime-invocation-id" not in second.headers
    assert "lambda-runtime-invocation-id" not in third.headers
    assert first.headers["content-type"] == "application/json"
    api.wait_for("/invocation/next", 4)
    assert {s.headers["user-agent"] for s in api.seen} == {"lambdaboot/0.1.0"}
    assert len({s.client_port for s in api.seen}) == 1
