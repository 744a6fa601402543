"""One invocation in, one outcome out: enter it, call the user's handler, leave it.

This is the one door the engines use per invocation: ``Serving`` around the call (the
invocation's ids where logging, threads and X-Ray SDKs look for them), then
``call_sync``, ``call_async`` or ``call_streaming``. None of them raises for anything the
handler or its data does: a result, a handler exception, a bad event, a bad context
header or an unserialisable result all come back as an ``Outcome`` to post. That includes
an ``asyncio.CancelledError`` an ``async def`` handler raises itself (it is a
``BaseException``): only a cancellation of the engine's own making goes on up.

A streaming handler writes to a ``ResponseStream``, which lives here beside the call that
runs it, so that following a streamed invocation from the engine to the bytes on their
way is one file too: the stream alone knows whether the first byte has left, and hands
the bytes to the engine's sink (``engine.aio_client.AsyncStreamedResponse``).
``runtime_core.streaming`` is the public face of all this (the decorator, the types).

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

import os

from runtime_core.context import ContextUnmarshalError, LambdaContext
from runtime_core.errors import (
    LAMBDA_CONTEXT_UNMARSHAL_ERROR,
    MARSHAL_ERROR,
    UNMARSHAL_ERROR,
    exception_message,
    exception_outcome,
    fault_outcome,
)
from runtime_core.handler_kind import is_async, takes_stream
from runtime_core.invocation import ALONE, CURRENT
from runtime_core.outcome import STREAMED, Outcome
from runtime_core.serialize import MarshalError, UnmarshalError, decode_event, encode_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Token
    from typing import Any, Protocol

    from runtime_core.function_url import FunctionUrlResponse
    from runtime_core.invocation import Invocation

    class StreamSink(Protocol):
        """Where a stream's bytes go: the engine's streamed ``/response``."""

        async def begin(self, content_type: str) -> None: ...
        async def write(self, data: bytes) -> None: ...


__all__ = [
    "MAX_STREAM_BYTES",
    "BlockingResponseStream",
    "Outcome",
    "ResponseStream",
    "ResponseTooLarge",
    "Serving",
    "call_async",
    "call_streaming",
    "call_sync",
    "is_async",
    "use_loop",
]

_TRACE_ENV = "_X_AMZN_TRACE_ID"
#: Lambda's limit on one streamed response (spec §2).
MAX_STREAM_BYTES = 200 * 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"


# --- entering and leaving one invocation -------------------------------------------------


class Serving:
    """``with Serving(invocation, alone):`` around one handler call: the one place that
    enters and leaves an invocation.

    Always: the ContextVar that ``current_invocation()`` and log records read
    (``invocation.CURRENT``). When the invocation is ``alone`` in the process (concurrency
    1, or a process per slot): also ``_X_AMZN_TRACE_ID`` (X-Ray SDKs read it; removed when
    Lambda sent none) and the process-wide value that threads the handler starts see
    (``invocation.ALONE``), as under awslambdaric. With several in flight those two would
    be wrong for all but one, so they are left alone. A class, not
    ``contextlib.contextmanager``: it is on the warm path and the start-up path.
    """

    __slots__ = ("_alone", "_invocation", "_token")

    def __init__(self, invocation: Invocation, alone: bool = False) -> None:
        self._invocation = invocation
        self._alone = alone
        self._token: Token[Invocation | None] | None = None

    def __enter__(self) -> Invocation:
        invocation = self._invocation
        self._token = CURRENT.set(invocation)
        if self._alone:
            environ = os.environ
            trace_id = invocation.trace_id
            if trace_id:
                environ[_TRACE_ENV] = trace_id
            elif _TRACE_ENV in environ:
                del environ[_TRACE_ENV]
            ALONE[0] = invocation
        return invocation

    def __exit__(self, *exc_info: object) -> None:
        if self._alone:
            ALONE[0] = None
        if self._token is not None:
            CURRENT.reset(self._token)
            self._token = None


# --- calling the handler: one invocation in, one outcome out ------------------------------

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
    prepared = _prepare(invocation)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        await _run_streaming(handler, *prepared, stream)
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


# --- the stream a streaming handler writes to, and running the handler into it ------------


class ResponseTooLarge(Exception):
    """The handler wrote more than Lambda accepts in one streamed response (200 MB)."""


class ResponseStream:
    """What a streaming handler writes its response to (``write``, ``close``).

    ``sink`` is the engine's: ``begin`` with the content type (fixed by the first write),
    then ``write`` for each chunk; each returns once the bytes are on their way.
    """

    __slots__ = ("_closed", "_http", "_sink", "bytes_written", "content_type", "started")

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self._closed = False
        self._http: FunctionUrlResponse | None = None
        #: The ``Content-Type`` the invoker gets; settable until the first write.
        self.content_type = DEFAULT_CONTENT_TYPE
        #: True once the first bytes have gone out (errors then go in trailers).
        self.started = False
        self.bytes_written = 0

    def set_http_response(self, response: FunctionUrlResponse) -> None:
        """Answer a Function URL with this status, headers and cookies (before the first write)."""
        if self.started:
            raise RuntimeError("set_http_response() must come before the first write()")
        from runtime_core.function_url import HTTP_INTEGRATION_CONTENT_TYPE

        self._http = response
        self.content_type = HTTP_INTEGRATION_CONTENT_TYPE

    async def write(self, data: bytes | bytearray | memoryview | str) -> None:
        """Send ``data`` now; waits while the reader is slower than the handler."""
        if self._closed:
            raise RuntimeError("write() on a closed ResponseStream")
        chunk = data.encode() if isinstance(data, str) else bytes(data)
        begin = not self.started
        if begin:
            if self._http is not None:
                chunk = self._http.prelude() + chunk
        elif not chunk:
            return
        self.bytes_written += len(chunk)
        if self.bytes_written > MAX_STREAM_BYTES:
            raise ResponseTooLarge(
                f"the streamed response passed Lambda's limit of {MAX_STREAM_BYTES} bytes "
                f"({self.bytes_written} written): stream less, or write it to S3 and return a link"
            )
        if begin:
            self.started = True
            await self._sink.begin(self.content_type)
        await self._sink.write(chunk)

    async def close(self) -> None:
        """End the response (the engine also ends it when the handler returns)."""
        if not self.started:
            await self.write(b"")
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed


async def _run_streaming(
    handler: Callable[..., Any], event: Any, context: LambdaContext, stream: ResponseStream
) -> None:
    """Call a streaming handler and send everything it produces through ``stream``."""
    from runtime_core.function_url import FunctionUrlResponse

    if takes_stream(handler) and not is_async(handler):
        await _run_sync_writer(handler, event, context, stream)
        return
    args = (event, stream, context) if takes_stream(handler) else (event, context)
    result = handler(*args)
    if hasattr(result, "__await__"):
        result = await result
    if isinstance(result, FunctionUrlResponse):
        stream.set_http_response(result)
        result = result.body
    await _pump(result, stream)
    if not stream.closed:
        await stream.close()


class BlockingResponseStream:
    """What a sync handler that takes the stream gets: the same calls, blocking. It runs on
    a worker thread, and each write waits until the loop has sent the bytes."""

    __slots__ = ("_loop", "_stream")

    def __init__(self, stream: ResponseStream, loop: Any) -> None:
        self._stream = stream
        self._loop = loop

    @property
    def content_type(self) -> str:
        return self._stream.content_type

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._stream.content_type = value

    def set_http_response(self, response: FunctionUrlResponse) -> None:
        self._stream.set_http_response(response)

    def write(self, data: bytes | bytearray | memoryview | str) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self._stream.write(data), self._loop).result()

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self._stream.close(), self._loop).result()


async def _run_sync_writer(
    handler: Callable[..., Any], event: Any, context: LambdaContext, stream: ResponseStream
) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    blocking = BlockingResponseStream(stream, loop)
    await loop.run_in_executor(None, handler, event, blocking, context)
    if not stream.closed:
        await stream.close()


async def _pump(result: Any, stream: ResponseStream) -> None:
    if result is None:
        return
    if isinstance(result, (bytes, bytearray, memoryview, str)):
        await stream.write(result)
    elif hasattr(result, "__aiter__"):
        async for item in result:
            await stream.write(item)
    elif hasattr(result, "__iter__") and not isinstance(result, (dict, list, tuple)):
        await _pump_sync_iterator(iter(result), stream)
    else:  # a dict, list or other value: stream its JSON
        body, content_type = encode_result(result)
        if not stream.started:
            stream.content_type = content_type
        await stream.write(body)


async def _pump_sync_iterator(iterator: Any, stream: ResponseStream) -> None:
    """A sync generator is stepped on a worker thread: its code may block."""
    import asyncio

    loop = asyncio.get_running_loop()
    done = object()
    while True:
        item: Any = await loop.run_in_executor(None, next, iterator, done)
        if item is done:
            return
        await stream.write(item)
