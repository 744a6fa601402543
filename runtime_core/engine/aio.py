"""The async engine: ``async def`` and streaming handlers, on one uvloop loop.

The loop is created once and lives across invocations, so a client made at import time
or in one invocation is still usable in the next. Each of ``concurrency`` workers holds
its own connection and serves one invocation at a time, so with
``AWS_LAMBDA_MAX_CONCURRENCY=N`` there are N ``/next`` polls interleaved on the loop.
``runtime_core.main`` decides which handlers come here: besides ``async def`` and streaming
ones, plain sync handlers at concurrency > 1 only when ``LAMBDABOOT_SYNC_THREADS`` asks for
threads (by default each slot is a process, ``runtime_core.workers``). Whatever sync code
arrives (those handlers, sync streaming writers) runs on worker threads, never on the loop.

At concurrency 1 an invocation is the process's one, as on the blocking engine: it sets
``_X_AMZN_TRACE_ID`` and the process-wide invocation that threads the handler starts see.
At concurrency > 1 both are left alone: with several invocations in flight they would be
wrong for all but one. Each invocation's ids live in ``current_invocation()`` (a
ContextVar per task) and in every log record.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

from runtime_core import dispatch
from runtime_core.engine.client import (
    log_lost,
    outcome_request,
    runtime_failure,
    set_trace_env,
    transport_kind,
)
from runtime_core.invocation import _current, set_process_wide
from runtime_core.protocol import (
    RuntimeProtocol,
    parse_invocation,
    post_verdict,
    stream_chunk,
    stream_end,
)
from runtime_core.serialize import preload
from runtime_core.shutdown import exit_now, registered_hooks, run_hooks_async
from runtime_core.streaming import is_streaming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from runtime_core.dispatch import Outcome
    from runtime_core.invocation import Invocation
    from runtime_core.protocol import Request, Response
    from runtime_core.transport.aio import AsyncTransport

    class AsyncDriver(Protocol):
        async def send(self, request: Request) -> Response: ...
        def close(self) -> None: ...


__all__ = ["serve"]


def _make_transport(address: str) -> AsyncDriver:
    if transport_kind() == "httpx":
        from runtime_core.transport.httpx_driver import AsyncHttpxTransport

        return AsyncHttpxTransport(address)
    from runtime_core.transport.aio import AsyncTransport

    return AsyncTransport(address)


def _call_sync(
    handler: Callable[..., Any], invocation: Invocation, margin: float | None
) -> Outcome:
    token = _current.set(invocation)
    watch = None
    if margin is not None:
        from runtime_core.deadline import SyncWatch

        watch = SyncWatch(margin)
        watch.start(invocation)
    try:
        return dispatch.call_sync(handler, invocation)
    except Exception as exc:  # dispatch's own failure: still answer the invocation
        return runtime_failure(exc, invocation)
    finally:
        if watch is not None:
            watch.stop()
        _current.reset(token)


async def _call_async(
    handler: Callable[..., Any], invocation: Invocation, margin: float | None
) -> Outcome:
    token = _current.set(invocation)
    try:
        call = dispatch.call_async(handler, invocation)
        if margin is None:
            return await call
        from runtime_core.deadline import guard_async

        return await guard_async(call, invocation, margin)
    except Exception as exc:
        return runtime_failure(exc, invocation)
    finally:
        _current.reset(token)


class _StreamedResponse:
    """One streamed ``/response`` on the worker's connection: the head goes with the first
    bytes, so that an error before them can still be an ordinary ``/error``."""

    def __init__(
        self, transport: AsyncTransport, protocol: RuntimeProtocol, invocation: Invocation
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._invocation = invocation
        self.begun = False

    async def send(self, data: bytes, content_type: str) -> None:
        if not self.begun:
            self.begun = True
            await self._transport.begin(self._protocol.stream_head(self._invocation, content_type))
        if data:
            await self._transport.write(stream_chunk(data))

    async def finish(self, error: Outcome | None) -> Response:
        if error is None:
            return await self._transport.finish(stream_end())
        return await self._transport.finish(stream_end(error.error_type, error.body))


async def _call_streaming(
    handler: Callable[..., Any],
    invocation: Invocation,
    protocol: RuntimeProtocol,
    transport: AsyncTransport,
    margin: float | None,
) -> Outcome | None:
    """Serve a streaming handler; returns the outcome still to post (an error before the
    first byte), or None when the streamed response has been sent and answered."""
    from runtime_core.streaming import ResponseStream

    streamed = _StreamedResponse(transport, protocol, invocation)
    stream = ResponseStream(streamed.send)
    token = _current.set(invocation)
    try:
        call = dispatch.call_streaming(handler, invocation, stream)
        if margin is None:
            error = await call
        else:
            from runtime_core.deadline import guard_async

            error = await guard_async(_none_as_ok(call), invocation, margin)
            error = error if error.is_error else None
    except Exception as exc:
        error = runtime_failure(exc, invocation)
    finally:
        _current.reset(token)
    if not streamed.begun:
        if error is not None:
            return error
        await streamed.send(b"", stream.content_type)  # an empty stream is still a response
    problem = post_verdict("/response (streamed)", await streamed.finish(error))
    # "Close the underlying connection after it has successfully written the response."
    transport.close()
    if problem is not None:
        log_lost(f"invocation {invocation.request_id}: {problem}")
    return None


async def _none_as_ok(call: Any) -> Outcome:
    from runtime_core.outcome import Outcome

    return await call or Outcome(False, b"")


async def _worker(
    address: str, handler: Callable[..., Any], concurrency: int, margin: float | None
) -> None:
    protocol = RuntimeProtocol(address)
    streaming = is_streaming(handler)
    if streaming:
        from runtime_core.transport.aio import AsyncTransport

        stream_transport = AsyncTransport(address)
        transport: AsyncDriver = stream_transport
    else:
        transport = _make_transport(address)
    send = transport.send
    next_request = protocol.next_request
    handler_is_async = dispatch.is_async(handler)
    one_at_a_time = concurrency == 1
    loop = asyncio.get_running_loop()
    first = True
    while True:
        invocation = parse_invocation(await send(next_request))
        if one_at_a_time:
            set_trace_env(invocation)
            set_process_wide(invocation)
        outcome: Outcome | None
        try:
            if streaming:
                outcome = await _call_streaming(
                    handler, invocation, protocol, stream_transport, margin
                )
            elif handler_is_async:
                outcome = await _call_async(handler, invocation, margin)
            else:
                outcome = await loop.run_in_executor(None, _call_sync, handler, invocation, margin)
        finally:
            if one_at_a_time:
                set_process_wide(None)
        if outcome is not None:  # None: a streamed response, already sent and answered
            what, request = outcome_request(protocol, invocation, outcome)
            problem = post_verdict(what, await send(request))
            if problem is not None:
                log_lost(f"invocation {invocation.request_id}: {problem}")
        if first:  # orjson now, as the blocking engine does: after the first answer
            first = False
            preload()


async def _shutdown() -> None:
    await run_hooks_async()
    exit_now(0)


async def _serve(
    address: str, handler: Callable[..., Any], concurrency: int, margin: float | None
) -> None:
    loop = asyncio.get_running_loop()
    dispatch.use_loop(loop)  # sync handlers' awaitables run here, not on their threads
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=max(concurrency, 4), thread_name_prefix="lambdaboot")
    )
    if registered_hooks():
        shutting_down: list[asyncio.Task[None]] = []
        loop.add_signal_handler(
            signal.SIGTERM, lambda: shutting_down.append(loop.create_task(_shutdown()))
        )
    workers = [
        asyncio.create_task(_worker(address, handler, concurrency, margin))
        for _ in range(concurrency)
    ]
    # A worker ends only by raising, so the first to end ends the runtime. FIRST_COMPLETED,
    # not FIRST_EXCEPTION: a worker that ends cancelled (a CancelledError that reached it
    # from a handler on a thread) counts too, instead of leaving its slot dead for good.
    done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task.cancelled():
            log_lost(
                "lambdaboot is exiting: an invocation worker ended cancelled "
                "(a CancelledError reached the engine); Lambda will start a new environment"
            )
            exit_now(1)
        task.result()  # re-raises the ApiError that ended this worker


def serve(
    address: str, handler: Callable[..., Any], concurrency: int = 1, margin: float | None = None
) -> None:
    """Serve invocations on a uvloop loop until the Runtime API fails (``ApiError``).

    ``margin``: the deadline margin in seconds (``runtime_core.deadline``), None when off.
    """
    import uvloop

    uvloop.run(_serve(address, handler, concurrency, margin))
