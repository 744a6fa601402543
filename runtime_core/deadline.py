"""Deadline-aware handlers (opt-in): act at a margin before Lambda's timeout, not after it.

Off unless ``LAMBDABOOT_DEADLINE_MARGIN_MS`` is set, so behaviour matches awslambdaric
unless asked. With it, ``margin`` milliseconds before the invocation's deadline:

- an ``async def`` handler is cancelled, its stack logged, and ``Function.DeadlineExceeded``
  posted, so the runtime is free for the next invocation instead of being reset;
- a sync handler cannot be interrupted safely, so its thread's stack is logged: the timeout
  that follows can then be diagnosed from the log.
"""

from __future__ import annotations

import os
import threading
import time

from runtime_core.setting_names import MARGIN_ENV

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping
    from typing import Any

    from runtime_core.invocation import Invocation
    from runtime_core.outcome import Outcome

__all__ = [
    "DEADLINE_ERROR",
    "MARGIN_ENV",
    "SyncWatch",
    "guard_async",
    "margin_seconds",
    "seconds_left",
]

#: The error type posted for a cancelled handler (it matches
#: ``(Runtime|Function)\.[A-Z][a-zA-Z]+``).
DEADLINE_ERROR = "Function.DeadlineExceeded"


def margin_seconds(environ: Mapping[str, str]) -> float | None:
    """The configured margin in seconds, or None when the feature is off."""
    value = environ.get(MARGIN_ENV, "").strip()
    if not value:
        return None
    try:
        margin_ms = float(value)
    except ValueError:
        margin_ms = -1.0
    if margin_ms < 0:
        raise ValueError(
            f"{MARGIN_ENV} must be a number of milliseconds >= 0 (e.g. 500), got {value!r}"
        )
    return margin_ms / 1000


def seconds_left(invocation: Invocation, margin: float) -> float:
    """Seconds until ``margin`` s before the invocation's deadline (0 once there)."""
    return max(invocation.remaining_ms() / 1000 - margin, 0.0)


async def guard_async(
    call: Coroutine[Any, Any, Outcome], invocation: Invocation, margin: float
) -> Outcome:
    """Await ``call`` (a dispatch call); cancel it ``margin`` s before the deadline."""
    import asyncio

    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=seconds_left(invocation, margin))
    if done:
        return task.result()
    stack = _task_stack(task)
    task.cancel()
    # A handler that swallows the cancellation is left to finish on its own: the
    # invocation is answered now, while there is still time.
    await asyncio.wait({task}, timeout=min(margin, 1.0) / 2 or None)
    return _deadline_outcome(invocation, margin, stack)


def _task_stack(task: Any) -> list[str]:
    """Where a suspended task is, outermost first: its chain of awaited coroutines (a
    task's own ``get_stack`` shows only the outermost frame of a suspended coroutine)."""
    import traceback

    lines: list[str] = []
    awaited = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        frame = frame or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        summary = traceback.extract_stack(frame, limit=1)
        lines.extend(line.rstrip() for line in traceback.format_list(summary))
        awaited = (
            getattr(awaited, "cr_await", None)
            or getattr(awaited, "ag_await", None)
            or getattr(awaited, "gi_yieldfrom", None)
        )
    return lines


def _deadline_outcome(invocation: Invocation, margin: float, stack: list[str]) -> Outcome:
    from runtime_core.errors import fault_outcome
    from runtime_core.logs import runtime_log

    runtime_log(
        "ERROR",
        f"the handler was cancelled {margin * 1000:.0f} ms before its deadline; "
        "it was at:\n" + "\n".join(stack),
    )
    message = (
        f"RequestId: {invocation.request_id} the handler was still running "
        f"{margin * 1000:.0f} ms before the deadline and was cancelled"
    )
    return fault_outcome(DEADLINE_ERROR, message, invocation.request_id)


class SyncWatch:
    """Logs a sync handler's stack if it is still running ``margin`` s before its deadline.

    Used by both engines, for the handler running on the calling thread. The waiting is
    done by one long-lived thread for the whole process (``_Watcher``), so a watched
    invocation costs a dictionary entry, not a thread started and stopped each time.
    """

    __slots__ = ("_margin",)

    def __init__(self, margin: float) -> None:
        self._margin = margin

    def start(self, invocation: Invocation) -> None:
        due = time.monotonic() + seconds_left(invocation, self._margin)
        _watcher().watch(self, due, (threading.get_ident(), invocation, self._margin))

    def stop(self) -> None:
        _watcher().forget(self)


class _Watcher:
    """The thread that fires every ``SyncWatch`` that is still due (at most one per thread
    serving invocations, so a scan of a small dictionary finds the next one)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: dict[SyncWatch, tuple[float, tuple[int, Invocation, float]]] = {}
        threading.Thread(target=self._run, name="lambdaboot-deadline", daemon=True).start()

    def watch(self, key: SyncWatch, due: float, args: tuple[int, Invocation, float]) -> None:
        with self._changed:
            self._due[key] = (due, args)
            self._changed.notify()

    def forget(self, key: SyncWatch) -> None:
        with self._changed:
            self._due.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                fired = self._wait_for_due()
            for args in fired:
                _log_thread_stack(*args)

    def _wait_for_due(self) -> list[tuple[int, Invocation, float]]:
        while True:
            now = time.monotonic()
            fired = [key for key, (due, _) in self._due.items() if due <= now]
            if fired:
                return [self._due.pop(key)[1] for key in fired]
            nearest = min((due for due, _ in self._due.values()), default=None)
            self._changed.wait(None if nearest is None else nearest - now)


_the_watcher: _Watcher | None = None
_watcher_pid = 0
_watcher_lock = threading.Lock()


def _watcher() -> _Watcher:
    """The process's watcher, started on first use (again in a forked child: threads do
    not survive ``fork``)."""
    global _the_watcher, _watcher_pid
    with _watcher_lock:
        if _the_watcher is None or _watcher_pid != os.getpid():
            _the_watcher = _Watcher()
            _watcher_pid = os.getpid()
        return _the_watcher


def _log_thread_stack(thread_id: int, invocation: Invocation, margin: float) -> None:
    import sys
    import traceback

    from runtime_core.dispatch import Serving
    from runtime_core.logs import runtime_log

    frame = sys._current_frames().get(thread_id)
    stack = traceback.format_stack(frame) if frame is not None else ["(the thread has ended)"]
    with Serving(invocation):  # so the record carries the invocation's request id
        runtime_log(
            "WARNING",
            f"the handler is still running {margin * 1000:.0f} ms before its deadline "
            f"(Lambda will time it out); it is at:\n{''.join(stack)}",
        )
