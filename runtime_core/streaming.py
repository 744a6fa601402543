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
it, the error travels in the HTTP trailers (the engine's job, ``engine.aio``).

This module is the public face of streaming: the decorator, and the types a handler
meets. The stream itself lives in ``runtime_core.dispatch`` beside the call that runs a
streaming handler (one file to read from the engine to the bytes), the Function URL
response in ``runtime_core.function_url``; both are re-exported here, where users import
them from.
"""

from __future__ import annotations

from runtime_core.dispatch import (
    MAX_STREAM_BYTES,
    BlockingResponseStream,
    ResponseStream,
    ResponseTooLarge,
)
from runtime_core.function_url import HTTP_INTEGRATION_CONTENT_TYPE, FunctionUrlResponse
from runtime_core.handler_kind import STREAMING_MARK, is_streaming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "HTTP_INTEGRATION_CONTENT_TYPE",
    "MAX_STREAM_BYTES",
    "BlockingResponseStream",
    "FunctionUrlResponse",
    "ResponseStream",
    "ResponseTooLarge",
    "is_streaming",
    "streaming_response",
]


def streaming_response(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``handler`` as streaming its response (see the module's docstring for the forms)."""
    setattr(handler, STREAMING_MARK, True)
    return handler
