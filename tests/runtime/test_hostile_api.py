"""Every fault of a hostile Runtime API, against both engines and at concurrency 8.

Each test asserts what the promise says: every invocation the runtime received got
exactly one result or error (``answers_per_invocation``), the runtime is still serving
afterwards, and it does not spin while it waits (CPU time, not wall time).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hostile_api import HostileApi, cpu_seconds
from tests.runtime.conftest import RuntimeProcess, Start

SYNC = {
    "app.py": """
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        if event.get("fail"):
            raise ValueError("asked to fail")
        return event
"""
}
ASYNC = {
    "app.py": """
    import asyncio

    async def handler(event, context):
        await asyncio.sleep(event.get("sleep", 0))
        if event.get("fail"):
            raise ValueError("asked to fail")
        return event
"""
}
STREAMING = {
    "app.py": """
    import asyncio
    from runtime_core import streaming_response

    @streaming_response
    async def handler(event, stream, context):
        await asyncio.sleep(event.get("sleep", 0))
        if event.get("fail"):
            raise ValueError("asked to fail")
        await stream.write(b"part one, ")
        await stream.write(b"part two")
"""
}
#: (id, handler files, AWS_LAMBDA_MAX_CONCURRENCY)
ENGINES = [
    ("blocking", SYNC, 1),
    ("blocking-unpipelined", SYNC, 1),
    ("uvloop", ASYNC, 1),
    ("uvloop-x8", ASYNC, 8),
    ("processes-x8", SYNC, 8),
]

# (request kind, fault, options, event fields): the fault hits the first request of that
# kind after the runtime is warm. Events sleep where the fault needs the handler running.
FAULTS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("next", "reset", {}, {}),
    ("next", "reset_mid_answer", {}, {}),
    ("next", "close_after", {}, {}),
    ("next", "close_later", {"delay": 0.05}, {"sleep": 0.3}),
    ("next", "reset_later", {"delay": 0.05}, {"sleep": 0.3}),
    ("next", "interim", {}, {}),
    ("next", "slow", {"delay": 0.1}, {}),  # 2 ms between bytes
    ("next", "malformed", {}, {}),
    ("next", "unsolicited", {"delay": 0.05}, {"sleep": 0.3}),
    ("next", "close_delimited", {}, {}),
    ("next", "truncated", {}, {}),
    ("response", "reset", {}, {}),
    ("response", "reset", {"taken": True}, {}),
    ("response", "reset_mid_answer", {}, {}),
    ("response", "close_after", {}, {}),
    ("response", "interim", {}, {}),
    ("response", "slow", {"delay": 0.1}, {}),
    ("response", "close_delimited", {}, {}),
    ("response", "truncated", {}, {}),
    ("error", "reset", {"taken": True}, {"fail": True}),
    ("error", "close_after", {}, {"fail": True}),
]


@pytest.fixture
def runtime_python() -> Path:
    """The suite's own interpreter only: the fault handling is the same Python code on
    every version, and the other versions are covered by the rest of tests/runtime."""
    return Path(sys.executable)


@pytest.fixture
def api() -> Iterator[HostileApi]:
    """Overrides tests.runtime.conftest's ``api``: ``start_runtime`` points at this one."""
    server = HostileApi()
    yield server
    server.close()


def _start(
    start_runtime: Start, files: dict[str, str], concurrency: int, engine: str = ""
) -> RuntimeProcess:
    env = {"AWS_LAMBDA_MAX_CONCURRENCY": str(concurrency)} if concurrency > 1 else {}
    if engine == "blocking-unpipelined":  # one request at a time: post, then next
        env["LAMBDABOOT_PIPELINE"] = "0"
    return start_runtime(files, env=env)


def _warm(api: HostileApi, concurrency: int) -> str:
    """One invocation answered and every slot parked on /next: the fault then hits a
    reused keep-alive connection."""
    request_id = api.invoke({"warm": True})
    api.wait_answered(1)
    api.wait_parked(concurrency + 1)
    return request_id


def assert_idle_without_spinning(runtime: RuntimeProcess) -> None:
    """While it waits for work, the runtime (and its workers) use almost no CPU: a busy
    loop would use most of the window (CPU is counted in 10 ms clock ticks)."""
    before = cpu_seconds(runtime.process.pid)
    time.sleep(0.25)
    used = cpu_seconds(runtime.process.pid) - before
    assert used < 0.1, f"the runtime used {used:.2f} s of CPU in 0.25 s of waiting: a busy loop"


def assert_one_answer_each(api: HostileApi, count: int) -> None:
    api.wait_answered(count)
    answers = api.answers_per_invocation()
    assert len(answers) == count, answers
    assert set(answers.values()) == {1}, answers  # exactly one result or error each


@pytest.mark.parametrize(("engine", "files", "concurrency"), ENGINES, ids=[e[0] for e in ENGINES])
@pytest.mark.parametrize(
    ("kind", "fault", "options", "event"),
    FAULTS,
    ids=[f"{k}-{f}{'-taken' if o.get('taken') else ''}" for k, f, o, _ in FAULTS],
)
def test_every_invocation_is_answered_once_through_the_fault(
    api: HostileApi,
    start_runtime: Start,
    engine: str,
    files: dict[str, str],
    concurrency: int,
    kind: str,
    fault: str,
    options: dict[str, Any],
    event: dict[str, Any],
) -> None:
    runtime = _start(start_runtime, files, concurrency, engine)
    warm = _warm(api, concurrency)
    api.fault(kind, fault, **options)
    rounds = max(3, concurrency)
    for n in range(rounds):
        api.invoke({"n": n, **event})
    # At concurrency 8 every slot is parked before the fault is scripted, so a /next
    # fault hits the first slot to ask again: a second round goes through that request.
    api.wait_answered(1 + rounds)
    api.wait_faults_applied()
    for n in range(rounds):
        api.invoke({"n": rounds + n, **event})
    assert_one_answer_each(api, 1 + 2 * rounds)
    expected = "error" if event.get("fail") else "response"
    kinds = {posted.kind for rid, (posted,) in api.accepted.items() if rid != warm}
    assert kinds == {expected}
    assert runtime.process.poll() is None, runtime.output()
    assert_idle_without_spinning(runtime)


@pytest.mark.parametrize(("engine", "files", "concurrency"), ENGINES, ids=[e[0] for e in ENGINES])
def test_a_bad_deadline_is_answered_with_an_error_and_the_loop_goes_on(
    api: HostileApi, start_runtime: Start, engine: str, files: dict[str, str], concurrency: int
) -> None:
    runtime = _start(start_runtime, files, concurrency, engine)
    bad = api.invoke({"n": 0}, Lambda_Runtime_Deadline_Ms="soon")
    good = api.invoke({"n": 1})
    assert_one_answer_each(api, 2)
    (error,) = api.accepted[bad]
    assert error.kind == "error"
    assert error.headers["lambda-runtime-function-error-type"] == "Runtime.InvalidDeadline"
    assert error.json()["errorType"] == "Runtime.InvalidDeadline"
    assert api.accepted[good][0].json() == {"n": 1}
    assert runtime.process.poll() is None


@pytest.mark.parametrize(("engine", "files", "concurrency"), ENGINES, ids=[e[0] for e in ENGINES])
@pytest.mark.parametrize(
    "header", ["Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"]
)
def test_a_malformed_context_header_is_answered_with_awslambdarics_error(
    api: HostileApi,
    start_runtime: Start,
    engine: str,
    files: dict[str, str],
    concurrency: int,
    header: str,
) -> None:
    runtime = _start(start_runtime, files, concurrency, engine)
    bad = api.invoke({"n": 0}, **{header.replace("-", "_"): "{not json"})
    api.invoke({"n": 1})
    assert_one_answer_each(api, 2)
    (error,) = api.accepted[bad]
    assert error.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"  # as awslambdaric
    assert runtime.process.poll() is None


@pytest.mark.parametrize(
    ("kind", "fault"), [("stream", "reset"), ("stream", "close_after"), ("next", "close_later")]
)
def test_streamed_responses_survive_the_fault(
    api: HostileApi, start_runtime: Start, kind: str, fault: str
) -> None:
    runtime = start_runtime(STREAMING)
    _warm(api, 1)
    api.fault(kind, fault, delay=0.05)
    for n in range(3):
        api.invoke({"n": n, "sleep": 0.2 if fault == "close_later" else 0})
    api.wait_answered(4)
    assert api.pending_faults() == [], "the fault was never applied"
    answers = api.answers_per_invocation()
    assert set(answers.values()) == {1}, answers
    if fault != "reset":  # a reset stream cannot be sent again: it is reported, once
        for (posted,) in api.accepted.values():
            assert posted.body == b"part one, part two"
    assert runtime.process.poll() is None


@pytest.mark.parametrize(("engine", "files", "concurrency"), ENGINES, ids=[e[0] for e in ENGINES])
def test_the_runtime_exits_only_when_the_api_is_gone_for_every_slot(
    api: HostileApi, start_runtime: Start, engine: str, files: dict[str, str], concurrency: int
) -> None:
    runtime = _start(start_runtime, files, concurrency, engine)
    _warm(api, concurrency)
    api.close()
    assert runtime.wait(timeout=30) == 1
    output = runtime.output()
    assert "cannot be reached" in output
    assert "Traceback" not in output


HOOKED = {
    "app.py": """
    from runtime_core import on_shutdown

    @on_shutdown
    def bye():
        pass

    def handler(event, context):
        return event
"""
}


@pytest.mark.parametrize("fault", ["reset", "close_after", "interim"])
def test_the_shutdown_extensions_calls_survive_the_fault(
    api: HostileApi, start_runtime: Start, fault: str
) -> None:
    """Extension calls go through the same client: a register reset before any answer is
    sent again, and the runtime then serves as usual."""
    api.fault("register", fault)
    runtime = start_runtime(HOOKED)
    request_id = api.invoke({"n": 1})
    api.wait_answered(1)
    assert api.accepted[request_id][0].json() == {"n": 1}
    registers = [s for s in api.seen if s.kind == "register"]
    assert len(registers) == (2 if fault == "reset" else 1)
    assert runtime.process.poll() is None


@pytest.mark.parametrize("fault", ["reset", "close_delimited", "interim"])
def test_the_init_error_is_delivered_through_the_fault(
    api: HostileApi, start_runtime: Start, fault: str
) -> None:
    api.fault("init/error", fault)
    runtime = start_runtime({"app.py": "raise ImportError('missing piece')\n"})
    assert runtime.wait(timeout=20) == 1
    (report,) = api.init_errors  # the reset one was never taken; its copy was
    assert "missing piece" in report.body.decode()


@pytest.mark.parametrize(
    ("engine", "files", "concurrency"), ENGINES[-2:], ids=[e[0] for e in ENGINES[-2:]]
)
def test_when_the_api_goes_the_in_flight_invocations_finish_before_the_exit(
    api: HostileApi, start_runtime: Start, engine: str, files: dict[str, str], concurrency: int
) -> None:
    """The API gone while three handlers run: the runtime waits for them, and each one's
    post fails on its own (one record naming its request id) before the exit."""
    runtime = _start(start_runtime, files, concurrency, engine)
    _warm(api, concurrency)
    running = [api.invoke({"n": n, "sleep": 0.5}) for n in range(3)]
    api.wait(lambda: len(api.delivered) == 4, what="3 invocations delivered")
    api.close()
    assert runtime.wait(timeout=30) == 1
    output = runtime.output()
    for request_id in running:
        assert f"invocation {request_id}: POST /response was lost" in output, output
    assert "cannot be reached" in output


BIG = "x" * 200_000  # above protocol.BIG_BODY: read into a buffer of its own, posted uncopied


@pytest.mark.parametrize(
    ("engine", "files", "concurrency"), ENGINES[:3], ids=[e[0] for e in ENGINES[:3]]
)
@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("next", "truncated"),
        ("next", "reset_mid_answer"),
        ("response", "reset"),
        ("response", "close_after"),
    ],
)
def test_big_events_and_results_survive_the_fault(
    api: HostileApi,
    start_runtime: Start,
    engine: str,
    files: dict[str, str],
    concurrency: int,
    kind: str,
    fault: str,
) -> None:
    runtime = _start(start_runtime, files, concurrency, engine)
    _warm(api, concurrency)
    api.fault(kind, fault)
    ids = [api.invoke({"n": n, "pad": BIG}) for n in range(3)]
    assert_one_answer_each(api, 4)
    assert api.pending_faults() == [], "the fault was never applied"
    for n, request_id in enumerate(ids):
        assert api.accepted[request_id][0].json() == {"n": n, "pad": BIG}
    assert runtime.process.poll() is None, runtime.output()


GENERATOR_STREAMING = {
    "app.py": """
    import asyncio

    async def handler(event, context):
        await asyncio.sleep(event.get("sleep", 0))
        yield b"part one, "
        yield b"part two"
"""
}
#: (id, handler files): both ways of writing a streaming handler, on the async engine.
STREAMING_HANDLERS = [("streaming_response", STREAMING), ("async-generator", GENERATOR_STREAMING)]


@pytest.mark.parametrize(
    ("style", "files"), STREAMING_HANDLERS, ids=[s[0] for s in STREAMING_HANDLERS]
)
@pytest.mark.parametrize(
    ("kind", "fault", "options"),
    [
        ("stream", "reset", {}),  # the streaming POST reset before any answer
        ("stream", "reset", {"taken": True}),  # taken, then reset: the report is refused
        ("stream", "close_after", {}),  # closed right after the stream's 202
        ("next", "close_after", {}),  # a stale keep-alive before the stream
    ],
    ids=["stream-reset", "stream-reset-taken", "stream-close_after", "next-close_after"],
)
def test_streamed_responses_survive_the_fault_at_concurrency_8(
    api: HostileApi,
    start_runtime: Start,
    style: str,
    files: dict[str, str],
    kind: str,
    fault: str,
    options: dict[str, Any],
) -> None:
    runtime = _start(start_runtime, files, 8)
    warm = _warm(api, 8)
    api.fault(kind, fault, **options)
    for n in range(8):
        api.invoke({"n": n})
    # Every slot is parked before the fault is scripted: a /next fault hits the first slot
    # to ask again, so a second round goes through that request (as in the test above).
    api.wait_answered(9)
    api.wait_faults_applied()
    for n in range(8):
        api.invoke({"n": 8 + n})
    assert_one_answer_each(api, 17)
    streamed = {rid for rid, (posted,) in api.accepted.items() if posted.kind == "stream"}
    for rid in streamed:
        assert api.accepted[rid][0].body == b"part one, part two"
    reported = {rid: posted for rid, (posted,) in api.accepted.items() if rid not in streamed}
    if fault == "reset" and not options:
        # A stream reset before any answer cannot be sent again: its invocation gets one
        # error instead, and every other one its stream.
        ((rid, error),) = reported.items()
        assert error.kind == "error"
        assert error.json()["errorType"] == error.headers["lambda-runtime-function-error-type"]
        assert "streamed response was lost" in error.json()["errorMessage"]
        assert [s.kind for s in api.seen if s.request_id == rid] == ["stream", "error"]
        assert warm in streamed
    else:
        assert reported == {}
    if options.get("taken"):  # the error report for the taken stream got the API's 400
        assert [posted.kind for posted in api.duplicates] == ["error"]
    assert runtime.process.poll() is None, runtime.output()
    assert_idle_without_spinning(runtime)
