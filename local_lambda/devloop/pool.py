"""Scale-out like Lambda's: one function served by up to N execution environments.

Lambda gives each concurrent invocation of a function its own execution environment:
a free (warm) one if there is one, else a new one with its own cold start, up to the
function's concurrency limit (reserved concurrency); past it, a synchronous invoke is
throttled (429 ``TooManyRequestsException``) while asynchronous ones wait in Lambda's
queue. A :class:`Pool` does the same with :class:`~local_lambda.LocalLambda` instances,
one per environment (each its own Runtime API, its own process, its own cold start), so
nothing of the single-environment emulator changes to serve many.

An environment is busy from the moment an invocation is routed to it until its local
Lambda reports it idle: not when its answer has been passed on, but when its runtime and
every extension have asked for the next event, as Lambda counts it (an extension still
sending telemetry, or a runtime that posts and then keeps working, keeps it). An
environment that has answered is usually free a moment later, so a request with no free
environment waits up to :data:`WRAP_UP_GRACE_S` for one of those before it starts a new
environment (or is throttled at the limit): a client invoking in a loop reuses its warm
environment instead of starting another one for each request.

A SnapStart function's environments all restore from one snapshot, as those of a
published version do on Lambda: the pool owns the :class:`~local_lambda.snapstart.Snapshot`
and the one Runtime API address its copies know
(:class:`~local_lambda.shared_runtime_api.SharedRuntimeApi`), and gives both to each
environment's local Lambda. The first environment's init takes the snapshot (init and
the before-snapshot hooks run once per pool, that is per version of the code); an
environment needed while that init runs waits for the snapshot, then is a copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ..emulator import LocalLambda
from ..model import FunctionConfig
from ..shared_runtime_api import SharedRuntimeApi
from ..snapstart import Snapshot
from .forward import Upstream

# Called with each log line of an environment and the environment's label ("Api#2").
LogListener = Callable[[str, str], None]
# How long a request waits for an environment that has answered to finish its invocation
# (runtime and extensions back at their next), before a new environment is started.
WRAP_UP_GRACE_S = 0.5


@dataclass(eq=False)
class Slot:
    """One execution environment of a pool."""

    lam: LocalLambda
    label: str  # "<function>#<n>", n counting from 1 in the order environments were made
    busy: int = 0  # invocations routed here and not over yet (1 but for queued Event ones)
    answering: int = 0  # of those, the ones whose answer is still being passed on
    upstream: Upstream | None = None  # the router's connections to its invoke API

    @property
    def wrapping_up(self) -> bool:
        """Every invocation here has answered; the environment is not idle yet."""
        return self.busy > 0 and self.answering == 0

    async def idle(self) -> None:
        """Until the environment's local Lambda reports no invocation in flight."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def reported() -> None:  # on the local Lambda's thread
            with contextlib.suppress(RuntimeError):  # this loop has closed: nobody waits
                loop.call_soon_threadsafe(settle)

        try:
            self.lam.when_idle(reported)
        except RuntimeError:  # its local Lambda has closed: nothing runs there any more
            return
        await done


class Pool:
    """Environments of one function: warm ones reused, new ones made up to ``limit``."""

    def __init__(
        self,
        config: FunctionConfig,
        limit: int,
        name: str,
        on_log: LogListener | None = None,
        made: int = 0,
    ) -> None:
        """``made``: environments the function had before (a pool replacing another goes
        on counting, so each label names one environment for the whole session)."""
        if limit < 1:
            raise ValueError(f"an environment limit must be at least 1, not {limit}")
        self.config = config
        self.limit = limit
        self.name = name
        self._on_log = on_log
        self.slots: list[Slot] = []
        self.made = made
        self._retired = False
        # Requests waiting for a free slot (or, SnapStart, for the snapshot).
        self._freed: list[asyncio.Future[None]] = []
        # SnapStart: the snapshot every environment restores from, and its address.
        self._snapshot: Snapshot | None = None
        self._runtime_api: SharedRuntimeApi | None = None
        self._closing: set[asyncio.Future[None]] = set()  # environments shutting down

    @property
    def retired(self) -> bool:
        return self._retired

    @property
    def ended(self) -> bool:
        """Retired, and every environment (and the snapshot, if any) has shut down."""
        return self._retired and not self.slots and not self._closing and self._snapshot is None

    async def take(self) -> Slot | None:
        """A free environment for an invocation (after a short wait for one that has
        answered, see the module's docstring; a new one if none is free and the limit
        allows), marked busy; None when every environment allowed is busy."""
        if self.config.snap_start:
            await self._while_publishing()
        slot = self._free()
        if slot is None and any(s.wrapping_up for s in self.slots):
            slot = await self._wait_free(WRAP_UP_GRACE_S)
        if slot is not None:
            self._mark(slot)
            return slot
        if len(self.slots) >= self.limit or self._retired:
            return None
        slot = self._new_slot()
        self._mark(slot)
        self.slots.append(slot)  # counted before it opens, so the limit holds meanwhile
        try:
            await asyncio.get_running_loop().run_in_executor(None, slot.lam.open)
        except BaseException:
            self.slots.remove(slot)
            self._wake()  # (a request waiting for its snapshot would wait for nothing)
            raise
        return slot

    async def any(self) -> Slot:
        """An environment for an asynchronous (Event) invoke: a free one, a new one, else
        the one least busy (the invocation then waits in its queue, as in Lambda's)."""
        slot = await self.take()
        if slot is None:
            slot = min(self.slots, key=lambda s: s.busy)
            self._mark(slot)
        return slot

    def _free(self) -> Slot | None:
        return next((slot for slot in self.slots if slot.busy == 0), None)

    @staticmethod
    def _mark(slot: Slot) -> None:
        slot.busy += 1
        slot.answering += 1

    async def _wait_free(self, timeout: float) -> Slot | None:
        """A free environment as soon as one is given back, or None after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (slot := self._free()) is None and loop.time() < deadline:
            freed: asyncio.Future[None] = loop.create_future()
            self._freed.append(freed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed, deadline - loop.time())
        return slot

    async def _while_publishing(self) -> None:
        """SnapStart: until the snapshot is taken, every invocation starts with an init
        (of a new environment, or again in one whose init failed), and two at once would
        both take it. So while one is being answered, wait for the snapshot, or for that
        answer (its init failed: the next one tries again); not when the runtime cannot be
        forked (no agent), where each environment runs init and restores in place."""
        while self._publishing():
            assert self._snapshot is not None
            changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._freed.append(changed)
            published = asyncio.ensure_future(self._snapshot.published.wait())
            await asyncio.wait({changed, published}, return_when=asyncio.FIRST_COMPLETED)
            published.cancel()

    def _publishing(self) -> bool:
        snapshot = self._snapshot
        if snapshot is None or snapshot.held or snapshot.in_place:
            return False
        return any(slot.answering for slot in self.slots)

    def _wake(self) -> None:
        freed, self._freed = self._freed, []
        for waiter in freed:
            if not waiter.done():
                waiter.set_result(None)

    def answered(self, slot: Slot) -> None:
        """The answer of one invocation on ``slot`` has been passed on (it may still run)."""
        slot.answering = max(slot.answering - 1, 0)
        if self.config.snap_start:
            self._wake()

    def give_back(self, slot: Slot) -> None:
        """One invocation on ``slot`` is over: its environment reported idle."""
        slot.busy = max(slot.busy - 1, 0)
        if self._retired and slot.busy == 0:
            self._close_later(slot)
        self._wake()

    def _new_slot(self) -> Slot:
        self.made += 1
        label = f"{self.name}#{self.made}"
        on_log = self._on_log
        listener = None if on_log is None else (lambda line: on_log(label, line))
        config = dataclasses.replace(self.config, env=dict(self.config.env), log_listener=listener)
        if not config.snap_start:
            return Slot(LocalLambda(config), label)
        if self._snapshot is None or self._runtime_api is None:
            self._snapshot, self._runtime_api = Snapshot(), SharedRuntimeApi()
        lam = LocalLambda(config, snapshot=self._snapshot, runtime_api=self._runtime_api)
        return Slot(lam, label)

    def retire(self) -> None:
        """Stop taking invocations (a newer pool has replaced this one): free environments
        shut down now, busy ones when their invocation ends."""
        self._retired = True
        for slot in list(self.slots):
            if slot.busy == 0:
                self._close_later(slot)

    def _close_later(self, slot: Slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)
            self._start_closing(slot)

    def _start_closing(self, slot: Slot) -> asyncio.Future[None]:
        if slot.upstream is not None:
            slot.upstream.close()
        closing = asyncio.get_running_loop().run_in_executor(None, slot.lam.close)
        self._closing.add(closing)
        closing.add_done_callback(self._closed)
        return closing

    def _closed(self, closing: asyncio.Future[None]) -> None:
        self._closing.discard(closing)
        if self._retired and not self.slots and not self._closing:
            self._end_snapshot()  # the last environment sharing it has shut down

    async def close(self) -> None:
        """The shutdown phase of every environment, side by side; then the snapshot ends."""
        self._retired = True
        slots, self.slots = self.slots, []
        for slot in slots:
            self._start_closing(slot)
        try:
            await asyncio.gather(*self._closing)
        finally:
            self._end_snapshot()

    def _end_snapshot(self) -> None:
        """The holder, its copies' records, the temporary folder, the cgroups: gone."""
        snapshot, api = self._snapshot, self._runtime_api
        self._snapshot = self._runtime_api = None
        if snapshot is not None:
            snapshot.close()
        if api is not None:
            api.close()
