"""The engines' door: ``is_async`` picks the engine, ``call_*`` never raise for user errors,
and existing handlers (Powertools-decorated ones included) work unchanged."""

from __future__ import annotations

import asyncio
import functools
import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from runtime_core import context as context_module
from runtime_core.dispatch import call_async, call_sync, is_async
from runtime_core.testing import make_invocation


def plain(event: Any, context: Any) -> Any:
    return event


async def coroutine(event: Any, context: Any) -> Any:
    return event


class SyncCallable:
    def __call__(self, event: Any, context: Any) -> Any:
        return event


class AsyncCallable:
    async def __call__(self, event: Any, context: Any) -> Any:
        return event


class Service:
    def handle(self, event: Any, context: Any) -> Any:
        return event

    async def ahandle(self, event: Any, context: Any) -> Any:
        return event


def _sync_wrapper(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(event: Any, context: Any) -> Any:
        return func(event, context)

    return wrapper


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (plain, False),
        (coroutine, True),
        (SyncCallable(), False),
        (AsyncCallable(), True),
        (Service().handle, False),
        (Service().ahandle, True),
        (functools.partial(plain), False),
        (functools.partial(coroutine), True),
        (_sync_wrapper(plain), False),
        (lambda event, context: event, False),
    ],
    ids=[
        "function",
        "async def",
        "callable",
        "async callable",
        "method",
        "async method",
        "partial",
        "async partial",
        "wrapped",
        "lambda",
    ],
)
def test_is_async(handler: Any, expected: bool) -> None:
    assert is_async(handler) is expected


@pytest.mark.parametrize("handler", [coroutine, AsyncCallable(), Service().ahandle, plain])
def test_call_async_serves_async_handlers_and_plain_ones(handler: Any) -> None:
    outcome = asyncio.run(call_async(handler, make_invocation(raw=b'{"x": [1, 2]}')))
    assert (outcome.is_error, outcome.body, outcome.content_type) == (
        False,
        b'{"x":[1,2]}',
        "application/json",
    )


def test_a_sync_handler_may_run_its_own_event_loop() -> None:
    def handler(event: Any, context: Any) -> Any:
        return asyncio.run(coroutine(event, context))

    outcome = call_sync(handler, make_invocation(raw=b'{"ran": "asyncio.run"}'))
    assert outcome.body == b'{"ran":"asyncio.run"}'


ORDERS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"


def test_powertools_decorated_handler_works_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools import Logger

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    context_module.read_function_env()
    stream = io.StringIO()
    logger = Logger(service="orders", stream=stream)

    @logger.inject_lambda_context
    def handler(event: Any, context: Any) -> Any:
        logger.info("handling")
        return {"ok": True}

    with redirect_stdout(io.StringIO()):
        outcome = call_sync(
            handler, make_invocation(raw=b"{}", request_id="req-42", function_arn=ORDERS_ARN)
        )
    assert outcome.body == b'{"ok":true}'
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["function_name"] == "orders"
    assert record["function_memory_size"] == "256"
    assert record["function_request_id"] == "req-42"
    assert record["function_arn"] == ORDERS_ARN
    assert record["cold_start"] in (True, False)
