"""Response streaming: the stream a handler writes to, the decorator that asks for it, and
the Function URL response type.

A handler streams only when it says so (so a handler returning a list, dict or string
stays JSON): it is an ``async def`` generator, or it is marked with
:func:`streaming_response`. A marked handler that takes three parameters is called as
``handler(event, response_stream, context)`` and writes to the :class:`ResponseStream`
(``await stream.write(...)``; a sync handler runs on a worker thread and gets a
:class:`BlockingResponseStream` whose ``write`` blocks instead); one that takes two
returns what to stream (bytes, str, an iterable or async iterable of them, or a
:class:`FunctionUrlResponse`).

Bytes leave as they are written: ``await stream.write(...)`` returns once the socket has
taken them, so a slow reader slows the handler instead of growing a buffer. Nothing is
sent before the first write, so an exception before it is an ordinary ``/error``; after
it, the error travels in the HTTP trailers (the engine's job, ``engine.aio``). Whether the
stream has started is known here only (``ResponseStream.started``): the sink it writes
to (``engine.aio_client.AsyncStreamedResponse``) is told to ``begin`` once, then ``write``.
"""

from __future__ import annotations

from runtime_core.handler_kind import is_async

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, Protocol

    from runtime_core.context import LambdaContext

    class StreamSink(Protocol):
        """Where a stream's bytes go: the engine's streamed ``/response``."""

        async def begin(self, content_type: str) -> None: ...
        async def write(self, data: bytes) -> None: ...


__all__ = [
    "MAX_STREAM_BYTES",
    "FunctionUrlResponse",
    "ResponseStream",
    "ResponseTooLarge",
    "is_streaming",
    "streaming_response",
]

#: Lambda's limit on one streamed response (spec §2).
MAX_STREAM_BYTES = 200 * 1024 * 1024
#: The content type that tells a Function URL to read a prelude first.
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_PRELUDE_END = b"\x00" * 8
_MARK = "__lambdaboot_streaming__"
_CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR, without importing inspect


class ResponseTooLarge(Exception):
    """The handler wrote more than Lambda accepts in one streamed response (200 MB)."""


class FunctionUrlResponse:
    """A Function URL's HTTP response: status, headers and cookies, then a (streamed) body.

    Return it from a streaming handler, or pass it to :meth:`ResponseStream.set_http_response`
    before the first write. ``body`` may be bytes, str, or an iterable or async iterable of them.
    """

    __slots__ = ("body", "cookies", "headers", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        cookies: Sequence[str] | None = None,
        body: Any = None,
    ) -> None:
        if not 100 <= status_code <= 599:
            raise ValueError(f"FunctionUrlResponse status_code must be 100-599, not {status_code}")
        self.status_code = status_code
        self.headers = dict(headers or {})
        self.cookies = list(cookies or ())
        self.body = body

    def prelude(self) -> bytes:
        """The JSON prelude and its 8-NUL terminator, as a Function URL reads them."""
        import json

        document: dict[str, Any] = {"statusCode": self.status_code}
        if self.headers:
            document["headers"] = self.headers
        if self.cookies:
            document["cookies"] = self.cookies
        encoded = json.dumps(document, separators=(",", ":")).encode()
        if b"\x00" in encoded:  # json escapes NUL in strings, so only a bug could get here
            raise ValueError("a FunctionUrlResponse prelude may not contain NUL bytes")
        return encoded + _PRELUDE_END


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


def streaming_response(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``handler`` as streaming its response (see the module's docstring for the forms)."""
    setattr(handler, _MARK, True)
    return handler


def is_streaming(handler: Callable[..., Any]) -> bool:
    """True for a handler that asked to stream: marked, or an ``async def`` generator,
    also behind a synchronous ``functools.wraps`` decorator (``__wrapped__``), whose
    wrapper returns the generator."""
    while handler is not None:
        if getattr(handler, _MARK, False):
            return True
        code = getattr(handler, "__code__", None)
        if code is not None and code.co_flags & _CO_ASYNC_GENERATOR:
            return True
        handler = getattr(handler, "__wrapped__", None)  # type: ignore[assignment]
    return False


def _takes_stream(handler: Callable[..., Any]) -> bool:
    """A marked handler with three parameters wants the stream as its second argument."""
    if not getattr(handler, _MARK, False):
        return False
    code = getattr(handler, "__code__", None)
    bound = getattr(handler, "__self__", None) is not None
    if code is None:  # an object with __call__
        code = getattr(type(handler).__call__, "__code__", None)
        bound = True
    return code is not None and code.co_argcount - bound >= 3


async def run(
    handler: Callable[..., Any], event: Any, context: LambdaContext, stream: ResponseStream
) -> None:
    """Call a streaming handler and send everything it produces through ``stream``."""
    if _takes_stream(handler) and not is_async(handler):
        await _run_sync_writer(handler, event, context, stream)
        return
    args = (event, stream, context) if _takes_stream(handler) else (event, context)
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
        from runtime_core.serialize import encode_result

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
