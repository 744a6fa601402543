"""A plain ``def`` handler that returns an awaitable has it awaited, on a persistent loop.

That is what a synchronous decorator makes of an ``async def`` (Powertools'
``inject_lambda_context``, a hand-written ``functools.wraps`` wrapper): awslambdaric fails
it with ``Runtime.MarshalError``; lambdaboot awaits it, in both engines, on one loop that
lives across invocations (so a client made in one invocation works in the next), and the
blocking engine imports asyncio only once such an awaitable shows up. An async generator
returned that way streams, when the function declares streaming.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_lambda import LocalLambda
from local_lambda.testing import LambdaFactory
from runtime_core.dispatch import call_sync
from runtime_core.testing import make_invocation
from tests.conftest import on_bootstrap, write_function

APP = """
    import asyncio, functools, sys, threading

    from aws_lambda_powertools import Logger

    logger = Logger(service="t")
    seen_loops = []


    def sync_wrapper(fn):
        @functools.wraps(fn)
        def wrapper(event, context):
            return fn(event, context)  # a coroutine, or an async generator
        return wrapper


    @logger.inject_lambda_context
    async def powertools(event, context):
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        if not seen_loops:
            seen_loops.append(loop)
            seen_loops.append(asyncio.Event())  # bound to this loop on first use below
        await asyncio.wait_for(asyncio.shield(asyncio.sleep(0)), 1)
        return {
            "event": event,
            "same loop": seen_loops[0] is loop,
            "main thread": threading.current_thread() is threading.main_thread(),
            "request": context.aws_request_id,
        }


    @sync_wrapper
    async def fails(event, context):
        await asyncio.sleep(0)
        raise ValueError("from the coroutine")


    @sync_wrapper
    async def stream(event, context):
        yield b"one "
        await asyncio.sleep(0)
        yield b"two"
"""

PLAIN = """
    import sys

    def handler(event, context):
        return {"asyncio loaded": "asyncio" in sys.modules}
"""


@pytest.fixture
def lam_for(
    runtime_python: Path, function_dir: Path, local_lambda_factory: LambdaFactory
) -> Callable[..., LocalLambda]:
    def make(handler: str, env: dict[str, str] | None = None, **config: Any) -> LocalLambda:
        write_function(function_dir, {"app.py": APP, "plain.py": PLAIN})
        config = {"timeout": 10.0, **config}
        return local_lambda_factory(
            on_bootstrap(function_dir, runtime_python, env, handler=handler, **config)
        )

    return make


def test_blocking_engine_awaits_on_one_loop_and_loads_asyncio_only_then(
    lam_for: Callable[..., LocalLambda],
) -> None:
    plain = lam_for("plain.handler")
    assert plain.invoke({}).json() == {"asyncio loaded": False}
    lam = lam_for("app.powertools")
    first, second = lam.invoke({"n": 1}), lam.invoke({"n": 2})
    assert first.function_error is None, first.payload
    assert first.json() == {
        "event": {"n": 1},
        "same loop": True,
        "main thread": True,
        "request": first.request_id,
    }
    assert second.json()["same loop"] is True  # the loop outlives the invocation
    assert lam.output.count("INIT_START") == 1


def test_async_engine_awaits_on_its_own_loop(lam_for: Callable[..., LocalLambda]) -> None:
    # Sync handlers on threads of the uvloop engine (Managed Instances, threads asked for):
    # the coroutine runs on the engine's loop, on the main thread, not on the handler's.
    lam = lam_for("app.powertools", {"LAMBDABOOT_SYNC_THREADS": "1"}, max_concurrency=2)
    first, second = lam.invoke({"n": 1}), lam.invoke({"n": 2})
    assert first.function_error is None, first.payload
    assert (first.json()["same loop"], first.json()["main thread"]) == (True, True)
    assert second.json()["same loop"] is True


def test_an_exception_from_the_awaitable_is_the_handlers_error(
    lam_for: Callable[..., LocalLambda], function_dir: Path
) -> None:
    result = lam_for("app.fails").invoke({})
    body = result.json()
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "from the coroutine")
    # The coroutine's frame: not asyncio's, nor the runtime's.
    assert [entry.split(",")[0] for entry in body["stackTrace"]] == [
        f'  File "{function_dir / "app.py"}"'
    ]
    assert "raise ValueError" in body["stackTrace"][-1]


def test_an_async_generator_returned_by_a_sync_wrapper_streams(
    lam_for: Callable[..., LocalLambda],
) -> None:
    lam = lam_for("app.stream")
    result = lam.invoke({})
    assert result.function_error is None, result.payload
    assert result.payload == b"one two"


def test_in_process_a_returned_coroutine_is_awaited() -> None:
    async def handler(event: Any, context: Any) -> Any:
        return {"got": event}

    def sync_wrapper(event: Any, context: Any) -> Any:
        return handler(event, context)

    outcome = call_sync(sync_wrapper, make_invocation(raw=b'{"a": 1}'))
    assert (outcome.is_error, json.loads(outcome.body)) == (False, {"got": {"a": 1}})


def test_in_process_a_cancelled_error_from_the_awaitable_is_the_handlers_error() -> None:
    import asyncio

    async def handler(event: Any, context: Any) -> Any:
        raise asyncio.CancelledError("gave up")

    def sync_wrapper(event: Any, context: Any) -> Any:
        return handler(event, context)

    outcome = call_sync(sync_wrapper, make_invocation({}))
    body = json.loads(outcome.body)
    assert (body["errorType"], body["errorMessage"]) == ("CancelledError", "gave up")
    again = call_sync(lambda e, c: asyncio.sleep(0, result="fine"), make_invocation({}))
    assert json.loads(again.body) == "fine"  # the same loop serves the next one
