"""Call the user's handler for one invocation and turn whatever happens into an ``Outcome``.

This is the one door the engines use: ``load_handler`` at init, ``is_async`` (and
``streaming.is_streaming``) to choose an engine, then ``call_sync``, ``call_async`` or
``call_streaming`` per invocation. None of them raises for anything the handler or its
data does: a result, a handler exception, a bad event, a bad context header or an
unserialisable result all come back as an ``Outcome`` to post. That includes an
``asyncio.CancelledError`` an ``async def`` handler raises itself (it is a
``BaseException``): only a cancellation of the engine's own making goes on up.

A plain ``def`` handler that returns an awaitable (what a synchronous decorator, such as
Powertools' ``inject_lambda_context``, makes of an ``async def``) has it awaited, on a
persistent loop: the async engine's own loop, or on the blocking engine one made the
first time an awaitable shows up (so asyncio is imported only then). awslambdaric fails
such a handler with ``Runtime.MarshalError``; this is a deliberate difference.

Two exceptions pass through on purpose, as in awslambdaric: ``SystemExit`` and
``KeyboardInterrupt`` raised by a handler end the process (Lambda then reports
``Runtime.ExitError`` for the invocation), since ``sys.exit()`` in a handler means it.

Start-up cost: this module imports only ``runtime_core`` modules and the stdlib pieces
already loaded at interpreter start; orjson, ``json``, ``traceback`` and ``inspect`` are
imported on the first call that needs them.
"""

from __future__ import annotations

from runtime_core.context import ContextUnmarshalError, LambdaContext
from runtime_core.errors import (
    LAMBDA_CONTEXT_UNMARSHAL_ERROR,
    MARSHAL_ERROR,
    UNMARSHAL_ERROR,
    InitError,
    exception_message,
    exception_outcome,
    fault_outcome,
)
from runtime_core.handler_kind import is_async
from runtime_core.handler_loader import load_handler
from runtime_core.outcome import STREAMED, Outcome
from runtime_core.serialize import MarshalError, UnmarshalError, decode_event, encode_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runtime_core.invocation import Invocation
    from runtime_core.streaming import ResponseStream

__all__ = [
    "InitError",
    "Outcome",
    "call_async",
    "call_streaming",
    "call_sync",
    "is_async",
    "load_handler",
    "use_loop",
]


#: The loop that awaits what sync handlers return: the async engine's (``use_loop``), or
#: one of the blocking engine's own, made on first need. None until then.
_engine_loop: Any = None
_own_loop: Any = None


def use_loop(loop: Any) -> None:
    """Await sync handlers' awaitables on ``loop`` (the async engine's, running on another
    thread than the handlers), so that what they create lives on one loop across calls."""
    global _engine_loop
    _engine_loop = loop


def call_sync(handler: Callable[..., Any], invocation: Invocation) -> Outcome:
    """Decode the event, build the context, call the handler and encode its result."""
    prepared = _prepare(invocation)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        result = handler(*prepared)
        if hasattr(result, "__await__"):  # a sync wrapper around an async def
            result = _await(result)
    except Exception as exc:
        return exception_outcome(exc, invocation.request_id)
    except _AwaitableCancelled as wrapped:
        return exception_outcome(wrapped.cancelled, invocation.request_id)
    return _finish(result, invocation.request_id)


class _AwaitableCancelled(BaseException):
    """A CancelledError raised by a sync handler's awaitable (not by the handler itself,
    which ends the process as under awslambdaric): the handler's error, as on the async
    engine."""

    def __init__(self, cancelled: BaseException) -> None:
        super().__init__()
        self.cancelled = cancelled


def _await(awaitable: Any) -> Any:
    """The awaitable's result, awaited on the persistent loop (see ``_engine_loop``)."""
    import asyncio

    if _engine_loop is not None:  # a worker thread of the async engine: its loop runs it
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), _engine_loop).result()
    global _own_loop
    if _own_loop is None:
        # Not the thread's current loop: a later handler may still call asyncio.run().
        _own_loop = asyncio.new_event_loop()
    try:
        return _own_loop.run_until_complete(awaitable)
    except asyncio.CancelledError as exc:
        raise _AwaitableCancelled(exc) from None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def call_async(handler: Callable[..., Any], invocation: Invocation) -> Outcome:
    """``call_sync`` for an ``async def`` handler: the same outcomes, awaited."""
    prepared = _prepare(invocation)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        result = handler(*prepared)
        if hasattr(result, "__await__"):
            result = await result
    except Exception as exc:
        return exception_outcome(exc, invocation.request_id)
    except BaseException as exc:
        if not _cancelled_by_handler(exc):
            raise
        return exception_outcome(exc, invocation.request_id)
    return _finish(result, invocation.request_id)


async def call_streaming(
    handler: Callable[..., Any], invocation: Invocation, stream: ResponseStream
) -> Outcome:
    """Run a streaming handler into ``stream``; ``STREAMED`` when it ended well, else the
    error (to post to ``/error`` if nothing was sent yet, or as trailers if
    ``stream.started``)."""
    from runtime_core.streaming import run

    prepared = _prepare(invocation)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        await run(handler, *prepared, stream)
    except Exception as exc:
        return exception_outcome(exc, invocation.request_id, streamed=True)
    except BaseException as exc:
        if not _cancelled_by_handler(exc):
            raise
        return exception_outcome(exc, invocation.request_id, streamed=True)
    return STREAMED


def _cancelled_by_handler(exc: BaseException) -> bool:
    """True for a ``CancelledError`` that the handler raised or let out (its own task, or
    one it awaited, was cancelled), not the engine cancelling the task running it (the
    deadline guard, the loop shutting down). The first is the handler's error, to report
    like any other; the second must go on up, or the task would never end cancelled.
    Only called on the event-loop engine, where asyncio is already loaded."""
    import asyncio

    if not isinstance(exc, asyncio.CancelledError):
        return False  # SystemExit, KeyboardInterrupt: they end the process, on purpose
    task = asyncio.current_task()
    return task is None or task.cancelling() == 0


def _prepare(invocation: Invocation) -> tuple[Any, LambdaContext] | Outcome:
    """The handler's arguments, or the fault to post instead of calling it."""
    try:
        context = LambdaContext(invocation)
    except ContextUnmarshalError as exc:
        return fault_outcome(
            LAMBDA_CONTEXT_UNMARSHAL_ERROR, str(exc), invocation.request_id, header=False
        )
    try:
        event = decode_event(invocation.body, invocation.content_type)
    except UnmarshalError as exc:
        return fault_outcome(UNMARSHAL_ERROR, str(exc), invocation.request_id, header=False)
    return event, context


def _finish(result: Any, request_id: str) -> Outcome:
    try:
        body, content_type = encode_result(result)
    except MarshalError as exc:
        return fault_outcome(MARSHAL_ERROR, str(exc), request_id, header=False)
    except Exception as exc:  # e.g. an _asdict() that raises while encoding
        message = f"Unable to marshal response: {exception_message(exc)}"
        return fault_outcome(MARSHAL_ERROR, message, request_id, header=False)
    return Outcome(False, body, content_type)
