"""Scale-out like Lambda's: one function served by up to N execution environments.

Lambda gives each concurrent invocation of a function its own execution environment:
a free (warm) one if there is one, else a new one with its own cold start, up to the
function's concurrency limit (reserved concurrency); past it, a synchronous invoke is
throttled (429 ``TooManyRequestsException``) while asynchronous ones wait in Lambda's
queue. A :class:`Pool` does the same with :class:`~local_lambda.LocalLambda` instances,
one per environment (each its own Runtime API, its own process, its own cold start), so
nothing of the single-environment emulator changes to serve many.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ..emulator import LocalLambda
from ..model import FunctionConfig
from .forward import Upstream

# Called with each log line of an environment and the environment's label ("Api#2").
LogListener = Callable[[str, str], None]


@dataclass(eq=False)
class Slot:
    """One execution environment of a pool."""

    lam: LocalLambda
    label: str  # "<function>#<n>", n counting from 1 in the order environments were made
    busy: int = 0  # synchronous invocations in flight (at most 1: one at a time, as Lambda)
    upstream: Upstream | None = None  # the router's connections to its invoke API


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

    @property
    def retired(self) -> bool:
        return self._retired

    async def take(self) -> Slot | None:
        """A free environment for a synchronous invoke (a new one if none is free and the
        limit allows), marked busy; None when every environment allowed is busy."""
        for slot in self.slots:
            if slot.busy == 0:
                slot.busy = 1
                return slot
        if len(self.slots) >= self.limit or self._retired:
            return None
        slot = self._new_slot()
        slot.busy = 1
        self.slots.append(slot)  # counted before it opens, so the limit holds meanwhile
        try:
            await asyncio.get_running_loop().run_in_executor(None, slot.lam.open)
        except BaseException:
            self.slots.remove(slot)
            raise
        return slot

    async def any(self) -> Slot:
        """An environment for an asynchronous (Event) invoke: a free one, a new one, else
        the one least busy (the invocation then waits in its queue, as in Lambda's)."""
        slot = await self.take()
        if slot is not None:
            slot.busy = 0  # Event invokes are answered at once; not held against the limit
            return slot
        return min(self.slots, key=lambda s: s.busy)

    def give_back(self, slot: Slot) -> None:
        slot.busy = max(slot.busy - 1, 0)
        if self._retired and slot.busy == 0:
            self._close_later(slot)

    def _new_slot(self) -> Slot:
        self.made += 1
        label = f"{self.name}#{self.made}"
        on_log = self._on_log
        listener = None if on_log is None else (lambda line: on_log(label, line))
        config = dataclasses.replace(self.config, env=dict(self.config.env), log_listener=listener)
        return Slot(LocalLambda(config), label)

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
            if slot.upstream is not None:
                slot.upstream.close()
            asyncio.get_running_loop().run_in_executor(None, slot.lam.close)

    async def close(self) -> None:
        """The shutdown phase of every environment, side by side."""
        self._retired = True
        slots, self.slots = self.slots, []
        for slot in slots:
            if slot.upstream is not None:
                slot.upstream.close()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, s.lam.close) for s in slots))
