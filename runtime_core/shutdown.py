"""Shutdown hooks: what runs when Lambda ends the execution environment.

Lambda sends SIGTERM to the runtime only when some extension is registered, so
registering a hook is what makes the runtime register an internal extension (with no
events) before its first ``/next``. This module keeps the hooks, runs them within
Lambda's budget, and does that registration; the engines install the SIGTERM handling.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from typing import NoReturn

    ShutdownHook = Callable[[], None] | Callable[[], Awaitable[None]]

__all__ = [
    "exit_now",
    "install_sigterm_blocking",
    "on_shutdown",
    "register_internal_extension",
    "registered_hooks",
    "run_hooks_async",
    "run_hooks_blocking",
]

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


# What Lambda gives the runtime between SIGTERM and SIGKILL when an internal extension is
# registered is 500 ms; keep a margin for flushing and exiting.
BUDGET_S = 0.45


def _report(message: str) -> None:
    from runtime_core.logs import runtime_log

    runtime_log("ERROR", message)


def _call_hook(hook: ShutdownHook) -> Coroutine[None, None, None] | None:
    """Call ``hook``, reporting what it raises; for an ``async def`` hook, the coroutine
    that awaits it (reporting what that raises) is returned for the caller's loop to run.

    One place for both engines, so a failing hook reads the same whichever one ran it.
    """
    try:
        result = hook()
    except Exception as exc:
        _report_raised(hook, exc)
        return None
    if result is None or not hasattr(result, "__await__"):
        return None

    async def finish() -> None:
        try:
            await result
        except Exception as exc:
            _report_raised(hook, exc)

    return finish()


def _report_raised(hook: ShutdownHook, exc: Exception) -> None:
    _report(f"shutdown hook {getattr(hook, '__qualname__', hook)!r} raised {exc!r}")


def _report_overrun(budget_s: float) -> None:
    _report(f"shutdown hooks did not finish within {budget_s * 1000:.0f} ms; exiting anyway")


def run_hooks_blocking(budget_s: float = BUDGET_S) -> None:
    """Run every hook in order on a helper thread, giving up when the budget is spent.

    A helper thread (not the caller) so that a hook that hangs cannot stop the exit:
    Lambda would SIGKILL the process anyway, this way the runtime still exits 0.
    """
    import threading

    hooks = registered_hooks()

    def run_all() -> None:
        for hook in hooks:
            pending = _call_hook(hook)
            if pending is not None:
                import asyncio

                asyncio.run(pending)

    worker = threading.Thread(target=run_all, name="lambdaboot-shutdown", daemon=True)
    worker.start()
    worker.join(budget_s)
    if worker.is_alive():
        _report_overrun(budget_s)


async def run_hooks_async(budget_s: float = BUDGET_S) -> None:
    """Run every hook in order: ``async def`` ones on the running loop, sync ones on a
    worker thread.

    ``async def`` hooks run on the engine's own loop, so they can close clients that were
    created on it. A sync hook may block (a flush, a join), so it runs on a thread: the
    loop stays free to enforce the budget, and the runtime still exits in time.
    """
    import asyncio
    import inspect

    async def run_all() -> None:
        for hook in registered_hooks():
            if inspect.iscoroutinefunction(hook):
                pending = _call_hook(hook)
            else:
                pending = await asyncio.to_thread(_call_hook, hook)
            if pending is not None:
                await pending

    try:
        await asyncio.wait_for(run_all(), budget_s)
    except TimeoutError:
        _report_overrun(budget_s)


def exit_now(code: int) -> NoReturn:
    """Flush stdio and end the process at once, whatever threads are still running."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not stop the exit
            continue
    os._exit(code)


def install_sigterm_blocking() -> None:
    """On SIGTERM, run the hooks (if any, within the budget), flush stdio and exit 0: the
    blocking engine's way (containers and RIE send SIGTERM even with no extension).

    ``_signal``, the C module, not ``signal``: ``signal.py`` imports ``enum`` (~2 ms here)
    and this runs at every cold start of the blocking engine.
    """
    import _signal  # type: ignore[import-not-found]  # (no stubs: the C half of signal)

    def on_sigterm(signum: int, frame: object) -> None:
        if _hooks:
            run_hooks_blocking()
        exit_now(0)

    _signal.signal(_signal.SIGTERM, on_sigterm)


def register_internal_extension(address: str) -> None:
    """Register an internal extension with no events and keep it polling ``/event/next``.

    Lambda sends SIGTERM to the runtime only when some extension is registered, and its
    init ends only when every registered extension has called ``/event/next``; so this
    runs before the runtime's first ``/next``, and a daemon thread then waits on
    ``/event/next`` (on its own connection, through the same client as the engine's) for
    the rest of the process's life.
    """
    import threading

    from runtime_core.engine.client import RuntimeClient
    from runtime_core.protocol import EXTENSION_NAME, H_EXTENSION_ID, ApiError
    from runtime_core.transport.blocking import BlockingTransport

    client = RuntimeClient(address, BlockingTransport(address))
    response = client.register_extension(EXTENSION_NAME)
    extension_id = response.headers.get(H_EXTENSION_ID.lower())
    if response.status != 200 or not extension_id:
        raise ApiError(
            f"registering the shutdown extension failed ({response.status}): "
            f"{response.body[:300].decode('utf-8', 'replace')}; SIGTERM will not reach the hooks"
        )

    def poll() -> None:
        try:
            while client.next_extension_event(extension_id).status == 200:
                pass
        except ApiError:
            pass  # the environment is going away; nothing to report to

    threading.Thread(target=poll, name="lambdaboot-extension", daemon=True).start()
    # A forked child (a worker process per slot, or the handler's own) gets no poll thread,
    # only a copy of the connection: close it there, so the extension's connection is the
    # parent's alone and ends when the parent does.
    import os

    os.register_at_fork(after_in_child=client.close)
