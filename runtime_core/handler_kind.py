"""What kind of callable a handler is, read off its code object: ``async def`` or not.

A module of its own because both ``dispatch`` (which calls handlers) and ``streaming``
(which runs streaming ones) need it, and ``dispatch`` reaches ``streaming`` through
native handlers: with it in either of them, the two would import each other.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["is_async"]

_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


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
