"""One execution environment: its Runtime API (the state) and its sandbox (the processes).

An :class:`Environment` is what Lambda creates on a cold start and throws away on a reset:
it inits once, runs invocations one after the other (or N at once on Managed Instances),
and ends with a shutdown phase. A function (:class:`~local_lambda.emulator.LocalLambda`)
owns its environments; nothing here knows about more than one, so a function may run
several side by side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import layers, log_level, protocol
from .extensions_api import deadline_in
from .lifecycle import Ended
from .model import FunctionConfig, InvokeOutcome, PendingInvoke, ShutdownResult
from .platform_log import PlatformLog
from .runtime_api import ApiSettings, Fault, RuntimeApi
from .sandbox import ExtensionLaunchError, Listeners, Sandbox, describe_exit
from .snapstart import Snapshot, credentials_body, snapstart_timeout
from .streaming import ResponseChunks

# Of the shutdown budget with external extensions, the runtime's share before SIGKILL
# (spec §5: 300 ms; 500 ms when an internal extension is registered).
RUNTIME_SHUTDOWN_SHARE_MS = 300

StreamReader = Callable[[ResponseChunks], Awaitable[None]]
# Takes the caller's answer the moment the runtime has posted it (the invocation goes on).
AnswerTaker = Callable[[InvokeOutcome], None]


@dataclass
class InitResult:
    """How init went: ``failure`` is None on success."""

    failure: InvokeOutcome | None
    duration_ms: float
    memory_mb: int = 0
    #: SnapStart: the restore's duration (``duration_ms`` is then init up to the snapshot).
    restore_ms: float | None = None


@dataclass
class Ending:
    """How one invocation ended for the platform: what the invoker gets, and the figures
    of its REPORT line."""

    outcome: InvokeOutcome
    duration_ms: float
    memory_mb: int


class Environment:
    """A runtime (with its extensions) and the Runtime API it talks to. Made ahead of time
    (its processes wait at their gate, see ``layers._GATE``); :meth:`init` lets them run."""

    def __init__(
        self,
        config: FunctionConfig,
        address: str,
        fs: layers.Filesystem,
        faults: list[Fault],
        finished: OrderedDict[str, str],
        emit: Callable[[str], None],
        snapshot: Snapshot | None = None,
        on_snapshot: Callable[[float], None] = lambda init_ms: None,
    ) -> None:
        """``snapshot``: SnapStart's, the function's (this environment takes it, or is made
        from it once taken); ``on_snapshot`` is told Init Duration when it is taken (for
        INIT_REPORT)."""
        self.config = config
        self._emit = emit
        self._snapshot = snapshot
        self._on_snapshot = on_snapshot
        self._snapshot_forked = False  # this environment's runtime was forked at the snapshot
        self.api = RuntimeApi(
            ApiSettings(
                config.function_name,
                config.handler,
                timeout_s=config.timeout,
                concurrency=config.max_concurrency,
                initialization_type=config.initialization_type,
                freezes=config.freeze and not config.managed_instances,
                function_version=config.function_version,
            ),
            faults,
            finished,
            # The sandbox is made below (its listeners feed this API's telemetry).
            on_freeze=lambda frozen: self.sandbox.freeze(frozen),
            on_snapshot=self._take_snapshot if snapshot is not None else None,
            credentials=self._credentials if snapshot is not None else None,
        )
        telemetry = self.api.telemetry
        app_level = log_level.threshold(config.log_format, config.log_level)

        def function_line(line: str, level: int | None) -> None:
            """One event of the function's output, unless Lambda's log level drops it
            (Telemetry subscribers get it either way)."""
            if log_level.keeps(line, level, app_level):
                emit(line)
            telemetry.function_line(line)

        def extension_line(line: str) -> None:
            emit(line)
            telemetry.extension_line(line)

        self.sandbox = Sandbox(
            config,
            address,
            fs,
            Listeners(function_line, extension_line, self._extension_exited),
            snapshot,
        )
        self.sandbox.exited.add_done_callback(lambda _: self.api.runtime_exited())

    def _take_snapshot(self, port: int) -> bool:
        """SnapStart: init is over; snapshot the runtime waiting on ``restore/next`` from
        ``port`` (False if it cannot be: it is then restored in place)."""
        assert self._snapshot is not None
        self._on_snapshot((self.api.snapshot_ns - self.api.init_started_ns) / 1e6)
        internal = [ext for ext in self.api.extensions.values() if not ext.external]
        registered = [e for e in internal if not e.events]
        self._snapshot_forked = self._snapshot.take(self.sandbox.pid, port, registered)
        return self._snapshot_forked

    def _credentials(self) -> tuple[bytes | None, str]:
        """SnapStart: what the container-credentials endpoint serves, and its token."""
        token = self.sandbox.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        return credentials_body(self.sandbox.credentials), token

    @property
    def alive(self) -> bool:
        return self.sandbox.alive

    @property
    def restored(self) -> bool:
        """SnapStart: made from the snapshot (no init: a restore only)."""
        return self.sandbox.restored

    def _extension_exited(self, name: str, status: int) -> None:
        if self.api.ext_api.shutting_down:
            return
        self._emit(f"EXTENSION {name} exited: {describe_exit(status)}")
        self.api.fail_extension(
            "Extension.Crash", f"Extension {name} exited: {describe_exit(status)}"
        )

    # init
    async def init(self, request_id: str) -> InitResult:
        """Start the extensions, wait for them to register, open the runtime's gate and wait
        for init to end (``request_id`` names the invocation that waits for it, if any)."""
        api, sandbox, config = self.api, self.sandbox, self.config
        await sandbox.ready()
        started_ns = time.perf_counter_ns()
        api.init_started(started_ns, sandbox.extension_names())
        if sandbox.restored and self._snapshot is not None:
            api.ext_api.restored(self._snapshot.extensions)
        go = await self._start_extensions()
        if sandbox.restored:  # SnapStart: a copy of the snapshot, let go now
            api.restore_begun(time.perf_counter_ns())
            sandbox.open_gate(go)
        else:
            sandbox.open_gate(go)
            waiting = (api.init_ready, api.init_error, api.snapshot_taken, sandbox.exited)
            await _first(config.init_timeout, *waiting)
        if api.restore_started_ns:  # SnapStart: the restore has its own limit
            await self._restore()
        elapsed_ms = (time.perf_counter_ns() - started_ns) / 1e6
        restore_ms = None
        if api.snapshot_ns:  # SnapStart: init ended at the snapshot, then the restore
            elapsed_ms = (api.snapshot_ns - started_ns) / 1e6
        if api.restore_started_ns:
            ended_ns = api.init_ready.result() if api.init_ready.done() else time.perf_counter_ns()
            restore_ms = (ended_ns - api.restore_started_ns) / 1e6
        if api.init_ready.done():
            if restore_ms is not None:
                return InitResult(None, elapsed_ms, restore_ms=restore_ms)
            return InitResult(None, (api.init_ready.result() - started_ns) / 1e6)
        if api.init_error.done():
            outcome = api.init_error.result()
            if outcome.http_status == 200:
                # The runtime should exit after reporting; give it a moment, then reset.
                await _first(1.0, sandbox.exited)
        elif sandbox.exited.done():
            outcome = _platform_error(
                request_id,
                "Runtime.ExitError",
                "Runtime exited with error: " + describe_exit(sandbox.exited.result()),
            )
        else:
            detail = f"Init timed out after {config.init_timeout:.2f} seconds"
            outcome = _platform_error(request_id, "Sandbox.Timedout", detail, "timeout")
        memory = await sandbox.peak_memory_mb()
        await self.discard()
        return InitResult(outcome, elapsed_ms, memory, restore_ms)

    async def _restore(self) -> None:
        """SnapStart: wait for the restore (after-restore hooks, up to the first ``/next``)
        to end within ``config.restore_timeout`` of its start, else fail it as Lambda does.
        In the environment that took the snapshot the restore begins when its copy asks
        ``restore/next``: before that the snapshot is being taken (the holder's start, then
        the copy's fork), which has init's limit, so that a holder slow to start on a
        loaded machine does not eat the restore's."""
        api, sandbox, config = self.api, self.sandbox, self.config
        ended = (api.init_ready, api.init_error, sandbox.exited)
        if self._snapshot_forked:
            left_s = config.init_timeout - (time.perf_counter_ns() - api.snapshot_ns) / 1e9
            await _first(max(left_s, 0.0), api.copy_restoring, *ended)
            if not api.copy_restoring.done() and not any(f.done() for f in ended):
                api.restore_deadline_passed(snapstart_timeout())
                return
        left_s = config.restore_timeout - (time.perf_counter_ns() - api.restore_started_ns) / 1e9
        await _first(max(left_s, 0.0), *ended)
        if not any(f.done() for f in ended):
            api.restore_deadline_passed(snapstart_timeout())

    async def _start_extensions(self) -> bool:
        """Start /opt/extensions/* and wait until each has registered; False if one failed."""
        api = self.api
        names = self.sandbox.extension_names()
        if not names:
            return True
        try:
            await self.sandbox.start_extensions()
        except ExtensionLaunchError as exc:
            api.fail_extension("Extension.LaunchError", str(exc))
            return False
        registered = api.ext_api.wait_registered(len(names))
        waiting: set[asyncio.Future[Any]] = {registered, api.init_error}
        await asyncio.wait(waiting, timeout=self.config.init_timeout, return_when="FIRST_COMPLETED")
        return registered.done() and not api.init_error.done()

    # invoke
    async def invoke(
        self,
        inv: PendingInvoke,
        on_stream: StreamReader | None = None,
        on_answer: AnswerTaker | None = None,
    ) -> Ending:
        """Run ``inv`` until it is over for the platform: the runtime (and every extension)
        has asked for the next event, or the timeout, or the runtime's exit. Duration runs
        from the event's delivery to that moment, which is what Lambda bills. The caller's
        answer is known earlier, when the runtime posts it: ``on_answer`` gets it then
        (what happens after cannot change its payload or its function error)."""
        api, sandbox, config = self.api, self.sandbox, self.config
        watch = api.submit(inv)
        if on_answer is not None:
            take = on_answer

            def posted(future: asyncio.Future[InvokeOutcome]) -> None:
                if not future.cancelled():
                    take(future.result())

            watch.outcome.add_done_callback(posted)
        reader: asyncio.Future[None] | None = None
        if on_stream is not None:

            def stream_started(future: asyncio.Future[ResponseChunks]) -> None:
                nonlocal reader
                if not future.cancelled():
                    reader = asyncio.ensure_future(on_stream(future.result()))

            watch.stream.add_done_callback(stream_started)
        await _first(config.timeout, watch.ended, sandbox.exited)
        if not watch.ended.done():
            if sandbox.exited.done():
                api.runtime_exited()
            else:
                api.deadline_passed(inv)
        ended: Ended = watch.ended.result()
        if sandbox.alive:
            sandbox.drain()  # what it wrote before asking for the next event is this invoke's
        answered = watch.outcome.result() if watch.outcome.done() else None
        api.release(inv)
        if reader is not None:
            await reader
        outcome = self._outcome(inv, ended, answered)
        if ended.how == "timeout":
            duration_ms = config.timeout * 1000.0  # Lambda reports the timeout itself
        elif inv.timings.next_answered_ns:
            duration_ms = (ended.at_ns - inv.timings.next_answered_ns) / 1e6
        else:
            duration_ms = 0.0
        return Ending(outcome, max(duration_ms, 0.0), await sandbox.peak_memory_mb())

    def _outcome(
        self, inv: PendingInvoke, ended: Ended, answered: InvokeOutcome | None
    ) -> InvokeOutcome:
        """What the invoker gets, given how the invocation ended."""
        if ended.how == "timeout":
            self._emit(PlatformLog.timed_out(inv.request_id, self.config.timeout))
            if answered is not None:  # answered, then still busy at the deadline
                return dataclasses.replace(
                    answered, status="timeout", error_type="Sandbox.Timedout"
                )
            detail = f"Task timed out after {self.config.timeout:.2f} seconds"
            return _platform_error(inv.request_id, "Sandbox.Timedout", detail, "timeout")
        if ended.how == "failed" and answered is not None:
            return dataclasses.replace(answered, status="error", error_type=ended.error_type)
        if answered is not None:
            return answered
        detail = "Runtime exited with error: " + describe_exit(self.sandbox.exited.result())
        self._emit(f"RequestId: {inv.request_id} Error: {detail}")
        self._emit("Runtime.ExitError")
        return _platform_error(inv.request_id, "Runtime.ExitError", detail)

    @property
    def must_go(self) -> str | None:
        """Why this environment must be replaced before its next invocation, if it must."""
        if not self.sandbox.alive:
            return "failure"
        return self.api.shutdown_reason

    # the end
    async def shut_down(self, reason: str, graceful: bool) -> ShutdownResult:
        """The shutdown phase (spec §5). With external extensions: SIGTERM to the runtime,
        SIGKILL after its share; SHUTDOWN to the extensions, SIGKILL for all when the budget
        is spent. ``graceful`` (a spin-down, not a reset): the runtime also gets SIGTERM and
        its budget when only internal extensions registered."""
        api, sandbox, config = self.api, self.sandbox, self.config
        api.shutdown_started()  # nothing more is delivered; the environment thaws
        started = time.perf_counter()
        await sandbox.awake()
        signals: list[str] = []
        told: list[str] = []
        if api.has_external_extensions and sandbox.extensions_alive():
            # (a runtime that crashed or was stopped mid-invocation is gone already; its
            # extensions still get SHUTDOWN, with reason failure, as on Lambda)
            if sandbox.alive:
                has_internal = any(not e.external for e in api.extensions.values())
                share_ms = (
                    config.shutdown_internal_ms if has_internal else RUNTIME_SHUTDOWN_SHARE_MS
                )
                signals.append("SIGTERM")
                sandbox.signal(signal.SIGTERM)
                if not await sandbox.wait_exited(share_ms / 1000):
                    signals.append("SIGKILL")
                    sandbox.signal(signal.SIGKILL)
                    await sandbox.exited
            await api.telemetry.flush_all(timeout=0.2)
            budget_ms = config.shutdown_external_ms
            remaining_ms = max(budget_ms - (time.perf_counter() - started) * 1000, 0.0)
            told = api.ext_api.shutdown(reason, deadline_in(remaining_ms))
            # Those that took SHUTDOWN may use the rest of the budget; the others are killed.
            if not await sandbox.wait_extensions(told, remaining_ms / 1000):
                signals.append("SIGKILL")
        elif graceful and api.extensions and sandbox.alive:
            signals.append("SIGTERM")
            sandbox.signal(signal.SIGTERM)
            await sandbox.wait_exited(config.shutdown_internal_ms / 1000)
        if sandbox.alive:
            signals.append("SIGKILL")
            status = await sandbox.kill()
        else:
            status = sandbox.exited.result()
            await sandbox.finish()
        api.telemetry.reset()  # what is still buffered is sent
        elapsed_ms = (time.perf_counter() - started) * 1000
        return ShutdownResult(signals, status, elapsed_ms, shutdown_sent_to=told)

    async def interrupt(self) -> None:
        """The user stopped the command: SIGTERM now, even mid-invocation, then SIGKILL for
        the whole environment once the shutdown budget is spent (the invocation then ends
        as the runtime exits)."""
        config, sandbox = self.config, self.sandbox
        external = self.api.has_external_extensions
        budget_ms = config.shutdown_external_ms if external else config.shutdown_internal_ms
        await sandbox.awake()
        sandbox.signal(signal.SIGTERM)
        if not await sandbox.wait_exited(budget_ms / 1000):
            sandbox.kill_all()

    async def discard(self) -> None:
        """End an environment that never served (a spare, or a failed init)."""
        self.api.telemetry.reset()  # (a failed delivery is not tried again once it is gone)
        if self.sandbox.alive:
            await self.sandbox.kill()
        else:
            await self.sandbox.finish()


def _platform_error(
    request_id: str, error_type: str, detail: str, status: str = "error"
) -> InvokeOutcome:
    body = protocol.platform_error(request_id, error_type, detail)
    return InvokeOutcome(body, "Unhandled", error_type, status)


async def _first(timeout: float, *futures: asyncio.Future[Any]) -> None:
    """Wait until one of ``futures`` is done or ``timeout`` seconds have passed."""
    await asyncio.wait(set(futures), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
