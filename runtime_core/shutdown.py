"""Shutdown hooks: what runs when Lambda ends the execution environment.

Lambda sends SIGTERM to the runtime only when some extension is registered, so
registering a hook is what makes the runtime register an internal extension (with no
events) before its first ``/next``. The engines own that registration and the
signal handling; this module only keeps the hooks.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    ShutdownHook = Callable[[], None] | Callable[[], Awaitable[None]]

__all__ = ["on_shutdown", "registered_hooks"]

_hooks: list[ShutdownHook] = []


def on_shutdown(fn: ShutdownHook) -> ShutdownHook:
    """Run ``fn`` (sync or ``async def``) when the environment shuts down, within Lambda's budget.

    Usable as a decorator. Hooks run in registration order; one that raises is logged and
    the others still run.
    """
    _hooks.append(fn)
    return fn


def registered_hooks() -> list[ShutdownHook]:
    """The hooks registered so far (a copy)."""
    return list(_hooks)
