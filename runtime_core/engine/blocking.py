"""The blocking engine: sync handlers at concurrency 1, on the main thread.

No event loop runs here, so a handler may call ``asyncio.run()``; and nothing here
imports asyncio, uvloop, structlog or httpx, which is most of the cold-start saving over
an event-loop runtime (see ``design.md``'s import budget).
"""

from __future__ import annotations

from runtime_core.engine.client import RuntimeClient, runtime_failure, set_trace_env
from runtime_core.invocation import set_process_wide

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runtime_core.deadline import SyncWatch

__all__ = ["serve"]


def serve(client: RuntimeClient, handler: Callable[..., Any], margin: float | None = None) -> None:
    """Serve invocations until the Runtime API fails (``ApiError``) or the process is ended.

    ``margin``: the deadline margin in seconds (``runtime_core.deadline``), None when off.
    """
    from runtime_core.dispatch import call_sync
    from runtime_core.serialize import preload

    next_invocation = client.next
    post = client.post
    watch = _deadline_watch(margin)
    first = True
    while True:
        invocation = next_invocation()
        set_trace_env(invocation)
        # One invocation in the whole process: a process-wide value (not only a ContextVar)
        # so that threads the handler starts log its request id too, as under awslambdaric.
        set_process_wide(invocation)
        if watch is not None:
            watch.start(invocation)
        try:
            outcome = call_sync(handler, invocation)
        except Exception as exc:  # call_sync reports handler errors itself; this is its own failure
            outcome = runtime_failure(exc, invocation)
        finally:
            set_process_wide(None)
            if watch is not None:
                watch.stop()
        post(invocation, outcome)
        if first:  # orjson now: the first caller has its answer, the next one waits for none
            first = False
            preload()


def _deadline_watch(margin: float | None) -> SyncWatch | None:
    """The opt-in deadline watch (``runtime_core.deadline``), imported only when asked for."""
    if margin is None:
        return None
    from runtime_core.deadline import SyncWatch

    return SyncWatch(margin)
