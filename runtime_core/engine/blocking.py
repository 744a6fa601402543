"""The blocking engine: sync handlers at concurrency 1, on the main thread.

No event loop runs here, so a handler may call ``asyncio.run()``; and nothing here
imports asyncio, uvloop, structlog or httpx, which is most of the cold-start saving over
an event-loop runtime (see docs/architecture.md). The same steps as the async engine's
slots (``next``, ``Serving``, call, ``post``), through the blocking twin of its client.
"""

from __future__ import annotations

from runtime_core.dispatch import Serving, call_sync
from runtime_core.engine.report import log_exit, runtime_failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runtime_core.deadline import SyncWatch
    from runtime_core.engine.client import RuntimeClient

__all__ = ["serve"]


def serve(
    client: RuntimeClient,
    handler: Callable[..., Any],
    margin: float | None = None,
    track: Callable[[str | None], None] | None = None,
) -> None:
    """Serve invocations until the Runtime API fails (``ApiError``) or the process is ended.

    ``margin``: the deadline margin in seconds (``runtime_core.deadline``), None when off.
    ``track``: told each request id before its handler runs and None once it is posted
    (a worker process tells its parent, ``runtime_core.workers``).
    """
    from runtime_core.serialize import after_response

    client.pipeline()
    post_then_next = client.post_then_next
    watch = _deadline_watch(margin)
    invocation = client.next()
    while True:
        if track is not None:
            track(invocation.request_id)
        if watch is not None:
            watch.start(invocation)
        # One invocation in the whole process: ``alone``, so threads the handler starts
        # log its request id too, and X-Ray SDKs find its trace id, as under awslambdaric.
        try:
            with Serving(invocation, True):  # alone (by position: ~0.3 µs less per call)
                outcome = call_sync(handler, invocation)
        except Exception as exc:  # call_sync reports handler errors itself; this is its own failure
            outcome = runtime_failure(exc, invocation)
        except SystemExit as exc:
            log_exit(exc, invocation)
            raise
        finally:
            if watch is not None:
                watch.stop()
        # GET /next pipelined behind the post (unless LAMBDABOOT_PIPELINE=0); orjson, once
        # it pays, is imported between the post's answer and reading the next invocation.
        invocation = post_then_next(invocation, outcome, after_response)


def _deadline_watch(margin: float | None) -> SyncWatch | None:
    """The opt-in deadline watch (``runtime_core.deadline``), imported only when asked for."""
    if margin is None:
        return None
    from runtime_core.deadline import SyncWatch

    return SyncWatch(margin)
