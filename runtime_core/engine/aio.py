"""The async engine: ``async def`` and streaming handlers, on one uvloop loop.

The loop is created once and lives across invocations, so a client made at import time
or in one invocation is still usable in the next. Each of ``concurrency`` slots holds its
own ``AsyncRuntimeClient`` (its own connection) and serves one invocation at a time, so
with ``AWS_LAMBDA_MAX_CONCURRENCY=N`` there are N ``/next`` polls interleaved on the loop.
``runtime_core.main`` decides which handlers come here: besides ``async def`` and streaming
ones, plain sync handlers at concurrency > 1 only when ``LAMBDABOOT_SYNC_THREADS`` asks for
threads (by default each slot is a process, ``runtime_core.workers``). Whatever sync code
arrives (those handlers, sync streaming writers) runs on worker threads, never on the loop.

At concurrency 1 an invocation is the process's one (``Serving(invocation, alone=True)``,
as on the blocking engine). At concurrency > 1 only its ContextVar is set. There, on a
machine with several CPUs, this engine runs in several worker processes
(``runtime_core.workers``), each serving ``slots`` of the ``concurrency`` slots and
telling its parent (``track``) the request id each slot holds.

A slot's connection failure stays in its slot: its client reconnects with a bounded
backoff while the other slots serve on; a slot ends only when the API cannot be reached
from it at all, and the runtime exits when every slot has ended (each after posting what
it had in flight). An answer that says the environment is broken (500) ends it at once.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

from runtime_core import dispatch
from runtime_core.dispatch import ResponseStream, Serving
from runtime_core.engine.aio_client import AsyncRuntimeClient
from runtime_core.engine.report import log_exit, log_lost, runtime_failure
from runtime_core.handler_kind import is_streaming
from runtime_core.protocol import ApiGone
from runtime_core.serialize import after_response
from runtime_core.shutdown import exit_now, registered_hooks, run_hooks_async

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from runtime_core.invocation import Invocation
    from runtime_core.outcome import Outcome

__all__ = ["serve"]


def _call_sync(
    handler: Callable[..., Any], invocation: Invocation, margin: float | None, alone: bool
) -> Outcome:
    watch = None
    if margin is not None:
        from runtime_core.deadline import SyncWatch

        watch = SyncWatch(margin)
        watch.start(invocation)
    try:
        with Serving(invocation, alone):
            return dispatch.call_sync(handler, invocation)
    except Exception as exc:  # dispatch's own failure: still answer the invocation
        return runtime_failure(exc, invocation)
    except SystemExit as exc:  # exit here: raised through the loop, asyncio would log it again
        exit_now(log_exit(exc, invocation))
    finally:
        if watch is not None:
            watch.stop()


async def _guarded(
    call: Coroutine[Any, Any, Outcome], invocation: Invocation, margin: float | None
) -> Outcome:
    try:
        if margin is None:
            return await call
        from runtime_core.deadline import guard_async

        return await guard_async(call, invocation, margin)
    except Exception as exc:
        return runtime_failure(exc, invocation)
    except SystemExit as exc:  # exit here: raised through the loop, asyncio would log it again
        exit_now(log_exit(exc, invocation))


async def _serve_streaming(
    client: AsyncRuntimeClient,
    handler: Callable[..., Any],
    invocation: Invocation,
    margin: float | None,
) -> None:
    """Serve a streaming handler: stream its bytes as they come, or post its error with
    ``/error`` when it failed before the first byte."""
    streamed = client.stream(invocation)
    stream = ResponseStream(streamed)
    outcome = await _guarded(
        dispatch.call_streaming(handler, invocation, stream), invocation, margin
    )
    if not stream.started:
        if outcome.is_error:
            await client.post_error(invocation, outcome)
            return
        await stream.close()  # an empty stream is still a response
    await streamed.finish(outcome if outcome.is_error else None)


async def _slot(
    address: str,
    handler: Callable[..., Any],
    concurrency: int,
    margin: float | None,
    track: Callable[[str | None], None] | None,
) -> None:
    """One slot: next, call, post, until the API cannot be reached from it."""
    client = AsyncRuntimeClient(address)
    next_invocation = client.next
    post = client.post
    streaming = is_streaming(handler)
    handler_is_async = dispatch.is_async(handler)
    alone = concurrency == 1
    loop = asyncio.get_running_loop()
    while True:
        invocation = await next_invocation()
        if track is not None:
            track(invocation.request_id)
        if streaming:
            with Serving(invocation, alone):
                await _serve_streaming(client, handler, invocation, margin)
        elif handler_is_async:
            with Serving(invocation, alone):
                outcome = await _guarded(
                    dispatch.call_async(handler, invocation), invocation, margin
                )
            await post(invocation, outcome)
        else:
            outcome = await loop.run_in_executor(
                None, _call_sync, handler, invocation, margin, alone
            )
            await post(invocation, outcome)
        if track is not None:
            track(None)
        after_response()  # orjson once it pays, as on the blocking engine


async def _shutdown() -> None:
    await run_hooks_async()
    exit_now(0)


async def _serve(
    address: str,
    handler: Callable[..., Any],
    concurrency: int,
    margin: float | None,
    slots: int,
    track: Callable[[int, str | None], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    dispatch.use_loop(loop)  # sync handlers' awaitables run here, not on their threads
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=max(slots, 4), thread_name_prefix="lambdaboot")
    )
    if registered_hooks():
        shutting_down: list[asyncio.Task[None]] = []
        loop.add_signal_handler(
            signal.SIGTERM, lambda: shutting_down.append(loop.create_task(_shutdown()))
        )
    else:  # SIGTERM (containers, RIE) with no hooks: flush the log and exit 0 at once
        loop.add_signal_handler(signal.SIGTERM, exit_now, 0)
    tasks = {
        asyncio.create_task(_slot(address, handler, concurrency, margin, _tracker(track, index)))
        for index in range(slots)
    }
    gone: BaseException | None = None
    while tasks:
        done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.cancelled():
                # A CancelledError that reached the engine from a handler on a thread:
                # the slot is dead for good, so the environment must be replaced.
                log_lost(
                    "lambdaboot is exiting: an invocation worker ended cancelled "
                    "(a CancelledError reached the engine); Lambda will start a new environment"
                )
                exit_now(1)
            failure = task.exception()
            if isinstance(failure, ApiGone):  # this slot only
                gone = failure
                if tasks:
                    log_lost(f"one of {slots} slots ended: {failure}")
                continue
            task.result()  # the API said the environment is broken (500), or a bug: exit
    assert gone is not None
    raise gone  # every slot has found the API gone


def _tracker(
    track: Callable[[int, str | None], None] | None, index: int
) -> Callable[[str | None], None] | None:
    if track is None:
        return None
    return lambda request_id: track(index, request_id)


def serve(
    address: str,
    handler: Callable[..., Any],
    concurrency: int = 1,
    margin: float | None = None,
    slots: int | None = None,
    track: Callable[[int, str | None], None] | None = None,
) -> None:
    """Serve invocations on a uvloop loop until the Runtime API fails (``ApiError``).

    ``margin``: the deadline margin in seconds (``runtime_core.deadline``), None when off.
    ``slots``: how many of the runtime's ``concurrency`` slots this process serves (all
    of them by default); ``track``: told a slot's index and its request id before the
    handler runs, and None once it is answered (a worker process tells its parent).
    """
    import uvloop

    uvloop.run(_serve(address, handler, concurrency, margin, slots or concurrency, track))
