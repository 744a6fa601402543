"""Many functions behind one invoke endpoint, each scaling out in its own pool.

The endpoint (:class:`~local_lambda.devloop.router.Router`) runs on a thread of its own with its
own event loop, like one ``LocalLambda``'s APIs do; each environment is a
``LocalLambda`` with its own thread, so a slow init or a long invocation in one never
holds up another. :meth:`FunctionSet.replace` swaps in new functions (a reload under
``--watch``): new invocations go to new environments at once, and the old environments
finish what they are running and then shut down, as when a function's code is updated
on Lambda.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..httpserver import HttpServer
from ..model import FunctionConfig
from .pool import LogListener, Pool
from .router import Router

T = TypeVar("T")


@dataclass(frozen=True)
class ServedFunction:
    """A function to serve: how it runs, every name it answers to, its environment limit."""

    config: FunctionConfig
    names: tuple[str, ...]
    limit: int


class FunctionSet:
    """Use as a context manager; ``endpoint`` is boto3's ``endpoint_url``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, on_log: LogListener | None = None
    ) -> None:
        self._host, self._port, self._on_log = host, port, on_log
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: HttpServer | None = None
        self.router = Router()
        self._retired: set[Pool] = set()  # replaced, finishing what they run
        self.endpoint = ""

    def __enter__(self) -> FunctionSet:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> str:
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="function-set", daemon=True
        )
        self._thread.start()
        self._server = self._call(self.router.open(self._host, self._port))
        self.endpoint = "http://" + self._server.address
        return self.endpoint

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def replace(
        self,
        functions: Iterable[ServedFunction],
        refusals: dict[str, str] | None = None,
        renew: set[str] | None = None,
    ) -> None:
        """Serve ``functions`` from now on; names no longer served get a 404. A function
        that is unchanged and not in ``renew`` (logical ids; None: all) keeps its warm
        environments."""

        async def swap() -> None:
            current = {pool.name: pool for pool in self.router.pools.values()}
            pools: dict[str, Pool] = {}
            for function in functions:
                name = function.names[0]
                pool = current.get(name)
                same = pool is not None and (pool.config, pool.limit) == (
                    function.config,
                    function.limit,
                )
                if pool is None or not same or renew is None or name in renew:
                    made = pool.made if pool is not None else 0
                    pool = Pool(function.config, function.limit, name, self._on_log, made)
                for alias in function.names:
                    pools[alias] = pool
            kept = set(pools.values())
            old = {pool for pool in current.values() if pool not in kept}
            self.router.pools = pools
            self.router.refusals = dict(refusals or {})
            for pool in old:
                pool.retire()
            self._retired = {pool for pool in self._retired | old if not pool.ended}

        self._call(swap())

    def environments(self, name: str) -> list[str]:
        """The labels of the environments a function has now (for tests and the console)."""

        async def labels() -> list[str]:
            pool = self.router.pools.get(name)
            return [slot.label for slot in pool.slots] if pool is not None else []

        return self._call(labels())

    def interrupt(self, force: bool = False) -> None:
        """Ctrl-C: end every environment's init or invocation in flight now (``force``:
        SIGKILL); ``close`` then runs the shutdown phases. Thread-safe."""
        pools = {*self.router.pools.values(), *self._retired}
        for pool in pools:
            for slot in list(pool.slots):
                slot.lam.interrupt(force=force)

    def close(self) -> None:
        """Shut every environment down (their shutdown phases), then stop the endpoint."""
        if self._thread is None:
            return

        async def stop() -> None:
            await self.router.close()
            pools = set(self.router.pools.values()) | self._retired
            self.router.pools = {}
            await asyncio.gather(*(pool.close() for pool in pools))
            if self._server is not None:
                self._server.close()

        try:
            self._call(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._thread = None
