"""A handler that raises ``asyncio.CancelledError`` itself still gets its invocation answered.

``CancelledError`` is a ``BaseException``, so a plain ``except Exception`` lets it through:
at concurrency 1 that crashed the runtime (``Runtime.ExitError``), and under
``AWS_LAMBDA_MAX_CONCURRENCY`` it ended the worker task silently, so the invocation hung
until Lambda's timeout and the slot was lost for good. Now it is the handler's error, like
any other, and the environment goes on serving. The engine's own cancellation (the
deadline guard) is a different thing and keeps its own outcome:
``tests/concurrency/test_deadlines.py``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local_lambda import LocalLambda

MakeLambda = Callable[..., LocalLambda]
ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")

APP = """
import asyncio, os, time
from runtime_core import streaming_response

async def handler(event, context):
    if event.get("cancel"):
        raise asyncio.CancelledError("the handler gave up")
    if event.get("meet"):  # returns only once event["n"] invocations are in flight at once
        open(os.path.join(event["meet"], context.aws_request_id), "w").close()
        for _ in range(1000):
            if len(os.listdir(event["meet"])) >= event["n"]:
                break
            await asyncio.sleep(0.01)
    return {"pid": os.getpid()}

async def awaits_a_cancelled_task(event, context):
    task = asyncio.ensure_future(asyncio.sleep(10))
    asyncio.get_running_loop().call_soon(task.cancel)
    await task  # someone else cancelled what the handler waits for
    return "never"

async def streams(event, context):
    if event.get("after_first"):
        yield b"partial"
    raise asyncio.CancelledError("the stream gave up")
    yield b"never"

def sync_handler(event, context):
    if event.get("cancel"):
        raise asyncio.CancelledError("a sync handler on a thread")
    return {"pid": os.getpid()}
"""


def test_async_handler_raising_cancelled_error_gets_an_error(make_lambda: MakeLambda) -> None:
    lam = make_lambda({"app.py": APP}, handler="app.handler")
    cancelled = lam.invoke({"cancel": True})
    after = lam.invoke({})
    assert cancelled.function_error == "Unhandled"
    assert cancelled.error_type == "Runtime.Unknown"  # no error-type header, as awslambdaric
    body = cancelled.json()
    assert body["errorType"] == "CancelledError"
    assert body["errorMessage"] == "the handler gave up"
    assert any("raise asyncio.CancelledError" in line for line in body["stackTrace"])
    # The same environment (no crash, no reset) serves the next invocation.
    assert after.function_error is None
    assert lam.output.count("INIT_START") == 1


def test_awaiting_a_task_someone_else_cancelled_is_the_handlers_error(
    make_lambda: MakeLambda,
) -> None:
    lam = make_lambda({"app.py": APP}, handler="app.awaits_a_cancelled_task")
    result = lam.invoke({})
    assert result.json()["errorType"] == "CancelledError"
    assert lam.invoke({}).json()["errorType"] == "CancelledError"  # still the same runtime
    assert lam.output.count("INIT_START") == 1


def test_streaming_handler_raising_cancelled_error_gets_an_error(make_lambda: MakeLambda) -> None:
    lam = make_lambda({"app.py": APP}, handler="app.streams")
    before = lam.invoke({})
    after_first = lam.invoke({"after_first": True})
    assert before.error_type == "Function.CancelledError"
    assert before.json()["errorMessage"] == "the stream gave up"
    # After the first byte the error travels in the trailers, with the same type.
    assert after_first.error_type == "Function.CancelledError"
    assert lam.output.count("INIT_START") == 1


def test_managed_instances_keep_every_slot_after_a_cancelled_error(
    make_lambda: MakeLambda, tmp_path: Path
) -> None:
    n = 2
    lam = make_lambda({"app.py": APP}, handler="app.handler", max_concurrency=n, timeout=10.0)
    # Two at once, so each slot answers one: before the fix each hung until the timeout.
    with ThreadPoolExecutor(n) as pool:
        cancelled = list(pool.map(lambda _: lam.invoke({"cancel": True}), range(n)))
    assert [result.json()["errorType"] for result in cancelled] == ["CancelledError"] * n
    # Both slots still serve: this meeting needs n invocations in flight at once.
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    event = {"meet": str(meeting), "n": n}
    with ThreadPoolExecutor(n) as pool:
        met = list(pool.map(lambda _: lam.invoke(event), range(n)))
    assert [result.function_error for result in met] == [None] * n
    assert len(os.listdir(meeting)) == n
    assert lam.output.count("platform.initStart") == 1


def test_a_worker_ended_by_cancelled_error_ends_the_runtime_at_once(
    make_lambda: MakeLambda,
) -> None:
    """A sync handler on a worker thread (``LAMBDABOOT_SYNC_THREADS``) that raises
    ``CancelledError`` ends the runtime as on the blocking engine (as under awslambdaric):
    the invocation gets ``Runtime.ExitError`` now, not a timeout with its slot gone."""
    lam = make_lambda(
        {"app.py": APP},
        handler="app.sync_handler",
        env={"LAMBDABOOT_SYNC_THREADS": "1"},
        max_concurrency=2,
        timeout=20.0,
    )
    first = lam.invoke({})
    crashed = lam.invoke({"cancel": True})
    after = lam.invoke({})
    assert first.function_error is None
    assert crashed.error_type == "Runtime.ExitError"
    records = [json.loads(line) for line in lam.output.splitlines() if '"lambdaboot"' in line]
    assert any("worker ended cancelled" in record["message"] for record in records)
    assert after.function_error is None  # a new environment
    assert after.json()["pid"] != first.json()["pid"]
    assert ERROR_TYPE.fullmatch(crashed.error_type)
