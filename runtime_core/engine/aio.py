"""The async engine: ``async def`` handlers (and concurrency > 1) on one uvloop loop.

The loop is created once and lives across invocations, so a client made at import time
or in one invocation is still usable in the next. Each of ``concurrency`` workers holds
its own connection and serves one invocation at a time; sync handlers run on worker
threads so that they never block the loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from runtime_core import dispatch
from runtime_core.engine.client import (
    log_lost,
    outcome_request,
    runtime_failure,
    set_trace_env,
)
from runtime_core.invocation import _current
from runtime_core.protocol import RuntimeProtocol, parse_invocation, post_verdict
from runtime_core.shutdown import exit_now, registered_hooks, run_hooks_async

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from runtime_core.dispatch import Outcome
    from runtime_core.invocation import Invocation
    from runtime_core.protocol import Request, Response

    class AsyncDriver(Protocol):
        async def send(self, request: Request) -> Response: ...
        def close(self) -> None: ...


__all__ = ["serve"]


def _make_transport(address: str) -> AsyncDriver:
    if os.environ.get("LAMBDABOOT_TRANSPORT", "").lower() == "httpx":
        from runtime_core.transport.httpx_driver import AsyncHttpxTransport

        return AsyncHttpxTransport(address)
    from runtime_core.transport.aio import AsyncTransport

    return AsyncTransport(address)


def _call_sync(handler: Callable[..., Any], invocation: Invocation) -> Outcome:
    token = _current.set(invocation)
    try:
        return dispatch.call_sync(handler, invocation)
    except Exception as exc:  # dispatch's own failure: still answer the invocation
        return runtime_failure(exc, invocation)
    finally:
        _current.reset(token)


async def _worker(address: str, handler: Callable[..., Any]) -> None:
    protocol = RuntimeProtocol(address)
    transport = _make_transport(address)
    send = transport.send
    next_request = protocol.next_request
    handler_is_async = dispatch.is_async(handler)
    loop = asyncio.get_running_loop()
    while True:
        invocation = parse_invocation(await send(next_request))
        set_trace_env(invocation)
        if handler_is_async:
            token = _current.set(invocation)
            try:
                outcome = await dispatch.call_async(handler, invocation)
            except Exception as exc:
                outcome = runtime_failure(exc, invocation)
            finally:
                _current.reset(token)
        else:
            outcome = await loop.run_in_executor(None, _call_sync, handler, invocation)
        what, request = outcome_request(protocol, invocation, outcome)
        problem = post_verdict(what, await send(request))
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")


async def _shutdown() -> None:
    await run_hooks_async()
    exit_now(0)


async def _serve(address: str, handler: Callable[..., Any], concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=max(concurrency, 4), thread_name_prefix="lambdaboot")
    )
    if registered_hooks():
        shutting_down: list[asyncio.Task[None]] = []
        loop.add_signal_handler(
            signal.SIGTERM, lambda: shutting_down.append(loop.create_task(_shutdown()))
        )
    workers = [asyncio.create_task(_worker(address, handler)) for _ in range(concurrency)]
    done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        task.result()  # re-raises the ApiError that ended this worker


def serve(address: str, handler: Callable[..., Any], concurrency: int = 1) -> None:
    """Serve invocations on a uvloop loop until the Runtime API fails (``ApiError``)."""
    import uvloop

    uvloop.run(_serve(address, handler, concurrency))
