"""Deadline-aware handlers (``LAMBDABOOT_DEADLINE_MARGIN_MS``), end to end under the local Lambda.

An async handler past the margin is cancelled and answered with an error while there is
still time, and the environment serves the next invocation; a sync handler past it has
its stack logged before Lambda's timeout, on either engine. Off unless asked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from local_lambda import LocalLambda
from tests.conftest import on_bootstrap, write_function

APP = """
import asyncio, time

async def slow_async(event, context):
    if event.get("sleep"):
        await asyncio.sleep(event["sleep"])  # the line the stack must point at
    return {"done": True}

def slow_sync(event, context):
    time.sleep(event["sleep"])  # the line the stack must point at
    return {"done": True}

async def slow_stream(event, context):
    yield b"started"
    await asyncio.sleep(event["sleep"])
    yield b"never"
"""

ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


def make_lambda(task: Path, handler: str, margin_ms: str | None, **config: Any) -> LocalLambda:
    env = dict(config.pop("env", {}))
    if margin_ms is not None:
        env["LAMBDABOOT_DEADLINE_MARGIN_MS"] = margin_ms
    config = {"timeout": 2.0, **config}
    task_root = write_function(task, {"app.py": APP})
    return LocalLambda(on_bootstrap(task_root, env=env, handler=f"app.{handler}", **config))


def test_an_async_handler_is_cancelled_before_its_deadline(function_dir: Path) -> None:
    with make_lambda(function_dir, "slow_async", "800") as lam:
        late = lam.invoke({"sleep": 30})
        after = lam.invoke({})
        output = lam.output
    assert late.function_error == "Unhandled"
    assert late.error_type is not None and ERROR_TYPE.fullmatch(late.error_type)
    assert late.json()["errorType"] == "Function.DeadlineExceeded"
    assert "cancelled 800 ms before its deadline" in late.logs
    assert "in slow_async" in late.logs and "await asyncio.sleep" in late.logs
    # Answered in time: the runtime stays, and serves the next invocation.
    assert after.json() == {"done": True}
    assert output.count("INIT_START") == 1


def test_a_streaming_handler_past_the_margin_fails_in_the_trailers(function_dir: Path) -> None:
    chunks: list[bytes] = []
    with make_lambda(function_dir, "slow_stream", "800") as lam:
        result = lam.invoke({"sleep": 30}, on_chunk=chunks.append)
    assert chunks == [b"started"]
    assert result.error_type == "Function.DeadlineExceeded"


def test_a_sync_handler_has_its_stack_logged_before_the_timeout(function_dir: Path) -> None:
    with make_lambda(function_dir, "slow_sync", "800") as lam:
        result = lam.invoke({"sleep": 5})
    assert result.error_type == "Sandbox.Timedout"
    warning = result.logs.index("still running 800 ms before its deadline")
    assert "in slow_sync" in result.logs[warning:]
    assert warning < result.logs.index("Task timed out")


def test_a_sync_handler_on_a_thread_has_its_stack_logged_too(function_dir: Path) -> None:
    env = {"LAMBDABOOT_SYNC_THREADS": "1"}
    with make_lambda(function_dir, "slow_sync", "800", env=env, max_concurrency=2) as lam:
        result = lam.invoke({"sleep": 5})
    assert result.error_type == "Sandbox.Timedout"
    assert "still running 800 ms before its deadline" in result.logs
    assert "in slow_sync" in result.logs


def test_off_by_default(function_dir: Path) -> None:
    with make_lambda(function_dir, "slow_async", None, timeout=1.0) as lam:
        result = lam.invoke({"sleep": 30})
    assert result.error_type == "Sandbox.Timedout"
    assert "before its deadline" not in result.logs
