"""What kind of callable a handler is, read off its code object: ``async def`` or not,
streaming or not, and whether a streaming one takes the stream.

A module of its own because ``main`` and the engines choose an engine by it, ``dispatch``
calls handlers by it and ``streaming`` marks them for it: with it in any of them, the
others would import that one for a few lines (and ``dispatch`` and ``streaming`` each
other).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["STREAMING_MARK", "is_async", "is_streaming", "takes_stream"]

#: The attribute ``streaming.streaming_response`` sets on a handler that streams.
STREAMING_MARK = "__lambdaboot_streaming__"
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect
_CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR, without importing inspect


def is_async(handler: Callable[..., Any]) -> bool:
    """True for an ``async def`` handler (also a bound method, a partial or an object whose
    ``__call__`` is ``async def``), which must run on the event-loop engine."""
    code = getattr(handler, "__code__", None)
    if code is not None:
        return bool(code.co_flags & _CO_COROUTINE) or hasattr(handler, "_is_coroutine_marker")
    import inspect

    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__
    )


def is_streaming(handler: Callable[..., Any]) -> bool:
    """True for a handler that asked to stream: marked, or an ``async def`` generator,
    also behind a synchronous ``functools.wraps`` decorator (``__wrapped__``), whose
    wrapper returns the generator."""
    while handler is not None:
        if getattr(handler, STREAMING_MARK, False):
            return True
        code = getattr(handler, "__code__", None)
        if code is not None and code.co_flags & _CO_ASYNC_GENERATOR:
            return True
        handler = getattr(handler, "__wrapped__", None)  # type: ignore[assignment]
    return False


def takes_stream(handler: Callable[..., Any]) -> bool:
    """A marked handler with three parameters wants the stream as its second argument."""
    if not getattr(handler, STREAMING_MARK, False):
        return False
    code = getattr(handler, "__code__", None)
    bound = getattr(handler, "__self__", None) is not None
    if code is None:  # an object with __call__
        code = getattr(type(handler).__call__, "__code__", None)
        bound = True
    return code is not None and code.co_argcount - bound >= 3
