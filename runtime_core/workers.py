"""Worker processes under ``AWS_LAMBDA_MAX_CONCURRENCY=N`` (Managed Instances).

A sync handler was written for one invocation per process: module globals, the
``_X_AMZN_TRACE_ID`` variable and libraries that keep per-process state assume it. So,
as AWS's own Python runtime does there, N processes each serve one invocation at a time
on the blocking engine. Threads on the async engine are the opt-in
(``LAMBDABOOT_SYNC_THREADS=1``) for handlers known to be thread-safe.

Async and streaming handlers get the uvloop engine, whose loop is one CPU's worth of
work: on a machine with several CPUs the N slots are shared out over
``min(N, CPUs)`` processes (``LAMBDABOOT_ASYNC_PROCESSES`` sets the count; 1 keeps them in
one process), each a loop serving its share (shares differ by at most one). A worker
is a group of slots; everything below holds for a group as for one slot.

Unlike awslambdaric (which spawns N fresh interpreters, each importing the function), the
workers are forked after the handler is loaded: init runs once, and its memory is shared
copy-on-write until a worker writes to it. The parent only supervises, by these rules
(docs/reliability.md states them for users):

- A worker that cannot reach the Runtime API any more (its client's bounded backoff ran
  out) ends with ``EXIT_API_GONE`` and its slot is abandoned; the siblings serve on. The
  runtime exits (status 1) when every slot is abandoned.
- A worker that ends any other way (the handler called ``os._exit``, a signal, a crash)
  is replaced at once by a new fork of the parent. The parent is the state right after
  init, never touched by an invocation, so the replacement runs no init again and
  cannot fail one (there is no valid ``/init/error`` after init, and none is needed).
  Each invocation the dead worker had in flight gets ``Runtime.ExitError`` from the
  parent, which reads their request ids from a small memory page it shares with the
  worker (a line per slot).
  A slot whose workers keep dying within ``CRASH_LOOP_S`` of starting is abandoned after
  ``CRASH_LOOP_LIMIT`` tries.
- A worker that got an answer saying the environment is broken (500) ends with
  ``EXIT_API_BROKEN``: the parent stops the others and exits 1, as Lambda asked.
- SIGTERM (the shutdown phase) is passed on to every worker and all are waited for.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import time

from runtime_core.engine import blocking
from runtime_core.engine.client import RuntimeClient
from runtime_core.engine.report import log_lost
from runtime_core.protocol import ApiError, ApiGone
from runtime_core.shutdown import exit_now, install_sigterm_blocking

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "EXIT_API_BROKEN",
    "EXIT_API_GONE",
    "PROCESSES_ENV",
    "THREADS_ENV",
    "process_count",
    "serve",
    "shares",
    "wants_threads",
]

THREADS_ENV = "LAMBDABOOT_SYNC_THREADS"
PROCESSES_ENV = "LAMBDABOOT_ASYNC_PROCESSES"
#: A worker's status when the API cannot be reached from it: its slot is abandoned.
EXIT_API_GONE = 3
#: A worker's status when the API said the environment is broken: the runtime exits.
EXIT_API_BROKEN = 4
#: A worker that dies this soon after starting, this many times in a row, loses its slot.
CRASH_LOOP_S = 1.0
CRASH_LOOP_LIMIT = 3
_PAGE = 256  # a slot's line: a request id is a UUID (36 bytes); the first byte is the length


def wants_threads(environ: Any) -> bool:
    """True when the user asked for sync handlers on threads instead of processes;
    ``ValueError`` naming the accepted values for anything else."""
    value = environ.get(THREADS_ENV, "")
    answer = value.strip().lower()
    if answer in ("1", "true", "yes"):
        return True
    if answer in ("", "0", "false", "no"):
        return False
    raise ValueError(
        f"{THREADS_ENV} must be 1, true or yes (threads), or 0, false or no, got {value!r}"
    )


def process_count(environ: Any, concurrency: int) -> int:
    """How many processes serve an async handler's ``concurrency`` slots: the
    ``LAMBDABOOT_ASYNC_PROCESSES`` setting, else one per CPU this process may run on,
    never more than the slots; ``ValueError`` naming what it accepts for a bad setting."""
    value = environ.get(PROCESSES_ENV, "")
    if not value.strip():
        return min(concurrency, len(os.sched_getaffinity(0)))
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(
            f"{PROCESSES_ENV} must be a positive integer (1: every slot in one process), "
            f"got {value!r}"
        )
    return min(concurrency, count)


def shares(concurrency: int, processes: int) -> list[int]:
    """``concurrency`` slots shared out over ``processes`` workers, differing by at most one."""
    base, extra = divmod(concurrency, processes)
    return [base + (index < extra) for index in range(processes)]


def serve(
    address: str,
    handler: Callable[..., Any],
    concurrency: int,
    margin: float | None = None,
    processes: int | None = None,
) -> None:
    """Fork workers serving ``handler``'s ``concurrency`` slots; return only by exiting.

    ``processes`` None: a sync handler, a blocking engine per slot. Otherwise the handler
    is async or streaming and ``processes`` uvloop engines share the slots out.

    SIGTERM is forwarded from before the first fork: one that arrives in the middle of
    forking stops it and reaches every worker already started, instead of ending the parent
    and leaving those workers serving on, never told. It is blocked on this thread while
    forking so that a worker, until it has its own handling, cannot run the parent's.
    """
    on_loop = processes is not None
    if on_loop:
        # Imported once, before forking: shared by the workers, and never half-way
        # through in a worker that SIGTERM reaches then (its hooks would wait on it).
        import uvloop  # noqa: F401

        from runtime_core.engine import aio  # noqa: F401
    groups = shares(concurrency, processes) if processes is not None else [1] * concurrency
    supervisor = _Supervisor(address, handler, margin, concurrency if on_loop else None)
    held = {signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    signal.signal(signal.SIGTERM, supervisor.forward)
    for group, slots in enumerate(groups):
        if supervisor.terminating:  # (run on this thread even while blocked, if another took it)
            break
        supervisor.start(group, slots, held)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)  # one held back is forwarded now
    supervisor.supervise(held)


class _Worker:
    __slots__ = ("group", "page", "pid", "slots", "started", "strikes")

    def __init__(
        self, pid: int, group: int, slots: int, page: mmap.mmap, started: float, strikes: int
    ):
        self.pid = pid
        self.group = group
        self.slots = slots
        #: Shared with the worker: a line per slot, the request id it is serving (empty
        #: between invocations).
        self.page = page
        self.started = started
        self.strikes = strikes


class _Supervisor:
    def __init__(
        self,
        address: str,
        handler: Callable[..., Any],
        margin: float | None,
        loop_concurrency: int | None,
    ) -> None:
        self.address = address
        self.handler = handler
        self.margin = margin
        #: The runtime's whole concurrency when the workers are uvloop engines, else None.
        self.loop_concurrency = loop_concurrency
        self.workers: dict[int, _Worker] = {}
        self.told: set[int] = set()
        self.terminating: list[int] = []

    def forward(self, signum: int, frame: object) -> None:
        self.terminating.append(signum)
        for pid in list(self.workers):
            if pid not in self.told:
                self.told.add(pid)
                _signal(pid, signal.SIGTERM)

    def start(self, group: int, slots: int, held: set[signal.Signals], strikes: int = 0) -> None:
        page = mmap.mmap(-1, _PAGE * slots)  # anonymous and shared: the child writes, we read
        pid = os.fork()
        if pid == 0:  # a worker: an engine, with a connection of its own per slot
            # Until the uvloop engine installs its own (it replaces this one), SIGTERM
            # runs the hooks and exits here too: never the parent's forwarding.
            install_sigterm_blocking()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
            _work(self.address, self.handler, self.margin, page, slots, self.loop_concurrency)
        self.workers[pid] = _Worker(pid, group, slots, page, time.monotonic(), strikes)
        if self.terminating:  # it came between the fork and the line above
            self.forward(signal.SIGTERM, None)

    def supervise(self, held: set[signal.Signals]) -> None:
        """Wait for the workers and apply the module's rules to each one that ends."""
        while self.workers:
            pid, status = os.wait()
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            in_flight = _in_flight(worker.page, worker.slots)
            worker.page.close()
            if self.terminating:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == EXIT_API_BROKEN:
                self._stop_all()
                exit_now(1)
            for request_id in in_flight:
                self._answer_for_dead_worker(request_id, code)
            if code == EXIT_API_GONE:
                continue  # its slots are abandoned; the others serve on
            quick = time.monotonic() - worker.started < CRASH_LOOP_S
            strikes = worker.strikes + 1 if quick else 0
            if strikes >= CRASH_LOOP_LIMIT:
                log_lost(
                    f"{_named(worker)} abandoned: its workers ended {strikes} times "
                    f"within {CRASH_LOOP_S:.0f} s of starting (last status {code})"
                )
                continue
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
            try:
                self.start(worker.group, worker.slots, held, strikes)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        if self.terminating:
            exit_now(0)
        log_lost("lambdaboot is exiting: no worker slot is left")
        exit_now(1)

    def _answer_for_dead_worker(self, request_id: str, code: int) -> None:
        """``Runtime.ExitError`` for the invocation a dead worker had in flight."""
        import json

        from runtime_core.invocation import Invocation
        from runtime_core.outcome import Outcome

        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
        body = json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode()
        client = RuntimeClient(self.address)
        try:
            client.post_error(
                Invocation(request_id, 0, "", b""),
                Outcome(True, body, None, "Runtime.ExitError"),
            )
        except ApiError as exc:
            log_lost(f"invocation {request_id}: could not report its worker's exit: {exc}")
        finally:
            client.close()

    def _stop_all(self) -> None:
        for pid in self.workers:
            _signal(pid, signal.SIGKILL)


def _named(worker: _Worker) -> str:
    if worker.slots == 1:
        return f"worker slot {worker.group}"
    return f"worker {worker.group} ({worker.slots} slots)"


def _work(
    address: str,
    handler: Callable[..., Any],
    margin: float | None,
    page: mmap.mmap,
    slots: int,
    loop_concurrency: int | None,
) -> None:
    """A worker's life: serve, keeping the request ids in flight on the shared page."""

    def track(slot: int, request_id: str | None) -> None:
        data = (request_id or "").encode()[: _PAGE - 1]
        start = slot * _PAGE
        page[start + 1 : start + 1 + len(data)] = data
        page[start] = len(data)  # written last: the parent never reads half an id

    try:
        if loop_concurrency is None:
            blocking.serve(RuntimeClient(address), handler, margin, lambda rid: track(0, rid))
        else:
            from runtime_core.engine import aio

            aio.serve(address, handler, loop_concurrency, margin, slots, track)
    except ApiGone as exc:
        log_lost(f"a worker is exiting: {exc}")
        exit_now(EXIT_API_GONE)
    except ApiError as exc:
        log_lost(f"lambdaboot is exiting: {exc}")
        exit_now(EXIT_API_BROKEN)
    exit_now(0)  # not reached: serve returns only by raising


def _in_flight(page: mmap.mmap, slots: int) -> list[str]:
    """The request ids a worker was serving when it ended, a slot's line each."""
    found = []
    for slot in range(slots):
        start = slot * _PAGE
        length = page[start]
        if length:
            found.append(page[start + 1 : start + 1 + length].decode("utf-8", "replace"))
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
