"""``LocalLambda``: one function, its execution environment, driven the way Lambda drives it.

The Runtime API and the invoke API run on a background thread with their own event loop
(uvloop when importable), so tests and benchmarks call :meth:`LocalLambda.invoke` from
ordinary synchronous code. Init is lazy (the first invoke) as on Lambda; a timeout, a
crash or an init error ends the environment (:mod:`local_lambda.environment`) and the
next invoke starts a fresh one. Invocations run one at a time, or up to
``max_concurrency`` at once on Managed Instances, through the one path of :meth:`run`.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import math
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from . import layers, log_level, protocol
from .answer_relay import relay
from .environment import AnswerTaker, Environment, InitResult, StreamReader
from .httpserver import HttpRequest, HttpServer, serve
from .invoke_api import InvokeApi
from .model import (
    FunctionConfig,
    InvokeOutcome,
    InvokeResult,
    PendingInvoke,
    Report,
    ShutdownResult,
)
from .platform_log import PlatformLog, readable
from .runtime_api import Fault
from .sandbox import RuntimeStartError, prepare_filesystem
from .shared_runtime_api import SharedRuntimeApi
from .snapstart import Snapshot
from .worker_log_socket import LOG_SOCKET_ENV, WorkerLogSocket

T = TypeVar("T")
# Managed Instances: where a runtime's worker processes may send their output (spec §4.1).


class LocalLambda:
    """A local Lambda for one function. Use as a context manager; see docs/local_lambda.md.

    It owns the function's environments: the one serving (``None`` before the first
    invoke and after a reset) and a spare made ahead of time, so that a cold start pays
    neither the spawn nor the cgroup joins.

    SnapStart with ``snapshot`` and ``runtime_api`` given: the snapshot is shared with the
    other local Lambdas of the function (the dev loop runs one per environment), which
    give their environments one Runtime API address, ``runtime_api``'s, as every copy of
    a snapshot knows the address its runtime had at init. Their owner closes them, after
    every local Lambda sharing them."""

    def __init__(
        self,
        config: FunctionConfig,
        host: str = "127.0.0.1",
        runtime_port: int = 0,
        invoke_port: int = 0,
        *,
        snapshot: Snapshot | None = None,
        runtime_api: SharedRuntimeApi | None = None,
    ) -> None:
        if (snapshot is None) != (runtime_api is None):
            raise ValueError("a shared snapshot needs a shared Runtime API address, and back")
        self.config = config
        self.function_arn = protocol.function_arn(config.region, config.function_name)
        self._host = host
        self._ports = (runtime_port, invoke_port)
        self._plog = PlatformLog(
            config.json_logs,
            config.function_name,
            self.function_arn,
            config.initialization_type,
            config.runtime_version,
            config.function_version,
        )
        self._output: list[str] = []
        self._output_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._sinks: list[list[str]] = []  # one per invocation in flight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[HttpServer] = []
        self._env: Environment | None = None
        self._spare: Environment | None = None
        self._fs: layers.Filesystem | None = None
        self._faults: list[Fault] = []
        self._finished: OrderedDict[str, str] = OrderedDict()  # shared by its environments
        self._last: Environment | None = None  # answers late requests after a reset
        self._init_ms: float | None = None
        # SnapStart: the function's snapshot, taken by its first environment's runtime;
        # every environment after it is a copy (it outlives them, as a published version).
        self._snapshot: Snapshot | None = snapshot
        self._shared_api = runtime_api
        # Managed Instances: where the runtime's worker processes write their output.
        self._worker_logs: WorkerLogSocket | None = None
        self.runtime_api = ""
        self.endpoint = ""

    # lifecycle of the emulator itself
    def __enter__(self) -> LocalLambda:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Start the Runtime API and the invoke API (ephemeral ports unless given)."""
        with self._open_lock:
            if self._thread is None:
                self._loop = _new_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="local-lambda", daemon=True
                )
                self._thread.start()
                atexit.register(self._kill_leftover)
                self._call(self._open())

    def _kill_leftover(self) -> None:
        """At interpreter exit, don't leave a runtime behind if close() was never called."""
        for env in (self._env, self._spare):
            if env is not None and env.alive:
                with contextlib.suppress(OSError):
                    env.sandbox.kill_all()
        if self._snapshot is not None:
            self._snapshot.kill()

    async def _open(self) -> None:
        self._lock = asyncio.Lock()  # changes of environment (init, reset, shutdown)
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self._invoke_api = InvokeApi(self)
        runtime = await serve(
            self._runtime_request,
            "127.0.0.1",  # the Runtime and Extensions APIs never leave the machine, as on Lambda
            self._ports[0],
            protocol.MAX_PAYLOAD_BYTES,
            time.perf_counter_ns,
            early=self._early,
        )
        invoke = await serve(
            self._invoke_api.handle,
            self._host,
            self._ports[1],
            protocol.MAX_INVOKE_REQUEST_BYTES,
            time.perf_counter_ns,
        )
        self._servers = [runtime, invoke]
        self.runtime_api = runtime.address
        if self._shared_api is not None:  # its environments' connections come through it
            self.runtime_api = self._shared_api.address
            self._shared_api.join(self)
        self.endpoint = "http://" + invoke.address
        if self.config.managed_instances:
            level = log_level.threshold(self.config.log_format, self.config.log_level)

            def worker_line(text: str) -> None:
                if log_level.keeps(text, None, level):
                    self._emit(text)

            self._worker_logs = WorkerLogSocket(worker_line)
            self.config.env[LOG_SOCKET_ENV] = await self._worker_logs.open()
        if self.config.snap_start and self._snapshot is None:
            self._snapshot = Snapshot()
        self._prepare_spare()

    def _runtime_request(self, request: HttpRequest) -> None:
        """The Runtime API's address stays the same across environments: requests go to
        the environment serving (or starting)."""
        env = self._env or self._last or self._spare
        if env is None:
            request.respond(403, protocol.invalid_state("NoEnvironment", "Request"))
        else:
            env.api.handle(request)

    def _early(self, request: HttpRequest) -> bool:
        env = self._env or self._last or self._spare
        return env is not None and env.api.is_early(request)

    def process_groups(self) -> set[int]:
        """The process groups of this function's environments (the runtime and its
        extensions share one): how a shared Runtime API address tells whose a connection
        is (``local_lambda.shared_runtime_api``). Thread-safe."""
        envs = (self._env, self._last, self._spare)
        return {env.sandbox.pid for env in envs if env is not None and env.sandbox.pid}

    def adopt_runtime_connection(self, sock: socket.socket) -> None:
        """Serve ``sock``, a connection to the shared Runtime API address from one of this
        function's environments, on its own Runtime API. Thread-safe."""
        loop = self._loop
        try:
            if loop is None:
                raise RuntimeError("closed")
            loop.call_soon_threadsafe(self._adopt, sock)
        except RuntimeError:  # closed meanwhile
            sock.close()

    def _adopt(self, sock: socket.socket) -> None:
        if self._servers:
            self._servers[0].adopt(sock)
        else:
            sock.close()

    def _new_environment(self) -> Environment:
        if self._fs is None:  # once per function (a LayerError is the caller's to see)
            self._fs = prepare_filesystem(self.config, self._emit)
        return Environment(
            self.config,
            self.runtime_api,
            self._fs,
            self._faults,
            self._finished,
            self._emit,
            self._snapshot,
            self._snapshot_taken,
        )

    def _prepare_spare(self) -> None:
        if self._spare is None:
            with contextlib.suppress(RuntimeStartError):  # reported when init needs it
                self._spare = self._new_environment()

    async def _take_spare(self) -> Environment:
        """The spare if it is still waiting at its gate, else a new environment."""
        env, self._spare = self._spare, None
        if env is None or not env.alive:
            if env is not None:
                await env.discard()
            env = self._new_environment()
        return env

    def close(self) -> None:
        """Run the shutdown phase if an environment is up, then stop the servers."""
        if self._thread is None or self._loop is None:
            return
        atexit.unregister(self._kill_leftover)
        try:
            self._call(self._invoke_api.drain())
            self.shutdown()
            self._call(self._close_servers())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._thread = self._loop = None

    async def _close_servers(self) -> None:
        if self._spare is not None:
            await self._spare.discard()
            self._spare = None
        if self._shared_api is not None:
            self._shared_api.leave(self)
        for server in self._servers:
            server.close()
        self._servers = []
        if self._snapshot is not None and self._shared_api is None:  # its own: it ends here
            self._snapshot.close()
        self._snapshot = None
        if self._worker_logs is not None:
            self._worker_logs.close()
            self._worker_logs = None

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError("LocalLambda is not open: use `with LocalLambda(config) as lam:`")
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "LocalLambda's blocking methods cannot be called from its own event loop"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the local Lambda's thread) once no invocation that came
        through the invoke API is in flight: the environment is free as Lambda counts it,
        not at the answer but when its runtime and every extension have asked for the
        next event. Thread-safe: the dev loop's router frees an environment on it."""
        if self._loop is None:
            callback()
        else:
            self._loop.call_soon_threadsafe(self._invoke_api.when_idle, callback)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the local Lambda's event loop and wait for its result: for
        driving :meth:`run` from synchronous code (e.g. many invocations at once)."""
        self.open()
        return self._call(coro)

    # the public API
    @property
    def filesystem(self) -> layers.Filesystem | None:
        """The function's /opt and task root as the runtime sees them (None before the
        first environment is made)."""
        self.open()
        return self._fs

    @property
    def filesystem_mode(self) -> str:
        """How /opt and the task root are provided: 'namespace' (read-only bind mounts at
        the real paths), 'directories' (read-only temporary directories) or 'host' (the
        function runs in place: no layers, no runtime given). See local_lambda/layers.py."""
        fs = self.filesystem
        return fs.mode if fs is not None else "host"

    @property
    def output(self) -> str:
        """All log text so far: the platform's lines and the runtime's output."""
        with self._output_lock:
            return "".join(line + "\n" for line in self._output)

    def start(self) -> float | None:
        """Init eagerly (as provisioned concurrency would); returns the init duration in ms,
        None on failure."""
        self.open()
        return self._call(self._start())

    async def _start(self) -> float | None:
        async with self._lock:
            if self._env is None:
                init = await self._init("")
                if init.failure is not None:
                    return None
                self._init_ms = init.duration_ms
            return self._init_ms

    def invoke(
        self,
        event: Any = None,
        client_context: dict[str, Any] | str | None = None,
        tenant_id: str | None = None,
        trace_id: str | None = None,
        log_tail: bool = False,
        cognito_identity: dict[str, Any] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> InvokeResult:
        """Invoke the function and wait for the result (thread-safe; invocations queue).

        ``event`` may be bytes, a str (sent as is) or any JSON-able value. ``log_tail`` also
        fills ``InvokeResult.log_result`` as the invoke API's X-Amz-Log-Result would be
        (``InvokeResult.logs`` always holds the whole log). With ``on_chunk``, the chunks
        of a streamed response are passed to it as they arrive (on the local Lambda's
        thread, so it must be quick) instead of being kept in ``InvokeResult.payload``.
        """
        self.open()
        inv = PendingInvoke(
            _event_bytes(event),
            self.function_arn,
            trace_id=trace_id or protocol.new_trace_id(),
            client_context=(
                client_context
                if isinstance(client_context, str) or client_context is None
                else json.dumps(client_context)
            )
            or "",
            tenant_id=tenant_id or "",
            cognito_identity=json.dumps(cognito_identity) if cognito_identity else "",
        )
        if on_chunk is None:
            result = self._call(self.run(inv))
        else:
            result = self._call(relay(self, inv, _ChunkSink(on_chunk)))
            if result.function_error is None:
                result.payload = b""  # it went to ``on_chunk``
        if log_tail:
            result.log_result = self.log_tail(result)
        return result

    def inject_fault(
        self,
        endpoint: str,
        status: int = 500,
        body: bytes | None = None,
        drop: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status`` (RIE's body unless
        ``body``), or close their connection if ``drop``. ``endpoint``: next, response, error,
        init_error, register or event_next. The request is otherwise ignored."""
        allowed = ("next", "response", "error", "init_error", "register", "event_next")
        if endpoint not in allowed:
            raise ValueError(f"unknown endpoint {endpoint!r}: use one of {', '.join(allowed)}")
        fault = Fault(endpoint, status, body, drop, times)
        if self._loop is None:
            self._faults.append(fault)
        else:
            self._loop.call_soon_threadsafe(self._faults.append, fault)

    def interrupt(self, force: bool = False) -> None:
        """The user pressed Ctrl-C (or sent SIGTERM): end the environment now, even in the
        middle of an invocation, which then fails as the runtime exits. SIGTERM, the shutdown
        budget (Lambda's 500 ms, 2,000 ms with external extensions), then SIGKILL; ``force``:
        SIGKILL at once (a second Ctrl-C). Does nothing while no init or invocation runs
        (``shutdown`` then does it as Lambda would). Thread-safe; ``close`` still follows."""
        env = self._env
        busy = self._lock.locked() or bool(self._sinks)  # an init, or invocations in flight
        if self._loop is None or env is None or not (force or busy):
            return
        if force:
            self._kill_leftover()
            return
        self._call(env.interrupt())

    def shutdown(self) -> ShutdownResult:
        """The shutdown phase: SIGTERM then SIGKILL if an extension registered, else SIGKILL
        at once."""
        if self._loop is None:
            return ShutdownResult([], None, 0.0, ran=False)
        return self._call(self._shutdown())

    async def _shutdown(self) -> ShutdownResult:
        slots = self.config.max_concurrency
        for _ in range(slots):  # invocations in flight end first
            await self._slots.acquire()
        try:
            async with self._lock:
                env, self._env = self._env, None
                if env is None:
                    return ShutdownResult([], None, 0.0, ran=False)
                return await env.shut_down("spindown", graceful=True)
        finally:
            for _ in range(slots):
                self._slots.release()

    # logs
    def _emit(self, line: str) -> None:
        with self._output_lock:
            self._output.append(line)
        for sink in self._sinks:
            sink.append(line)
        if self.config.echo_logs:
            print(readable(line), file=sys.stderr, flush=True)
        if self.config.log_listener is not None:
            self.config.log_listener(line)

    # init and invoke
    async def _init(self, request_id: str) -> InitResult:
        """Make a fresh environment the serving one and wait for its init to end."""
        try:
            env = await self._take_spare()
        except RuntimeStartError as exc:
            self._emit(self._plog.init_start())
            self._emit(str(exc))
            outcome = InvokeOutcome(
                protocol.platform_error(request_id, "Runtime.InvalidEntrypoint", str(exc)),
                "Unhandled",
                "Runtime.InvalidEntrypoint",
                "failure",
            )
            return InitResult(outcome, 0.0)
        self._env = self._last = env
        self._plog.listener = env.api.telemetry.publish
        if env.restored:  # SnapStart: made from the snapshot, it only restores
            self._emit(self._plog.restore_start())
        else:
            self._emit(self._plog.init_start())
        init = await env.init(request_id)
        failure = init.failure
        if init.restore_ms is not None:  # SnapStart: this cold start's restore has ended
            status, error_type = (
                ("success", None) if failure is None else (failure.status, failure.error_type)
            )
            self._emit(self._plog.restore_report(init.restore_ms, status, error_type))
        elif failure is not None:
            self._emit(self._plog.init_report(init.duration_ms, failure.status, failure.error_type))
        if failure is not None:
            self._env = None
            self._prepare_spare()
        return init

    def _snapshot_taken(self, init_ms: float) -> None:
        """SnapStart: init is over (INIT_REPORT) and the restore begins."""
        self._emit(self._plog.init_report(init_ms, "success", None))
        self._emit(self._plog.restore_start())

    async def run(
        self,
        inv: PendingInvoke,
        on_stream: StreamReader | None = None,
        *,
        on_answer: AnswerTaker | None = None,
    ) -> InvokeResult:
        """Run one invocation to its end: init first if no environment serves, then the
        invocation (queued behind others when ``max_concurrency`` are in flight); a
        streamed response's chunks go to ``on_stream`` as they arrive. ``on_answer`` gets
        the caller's answer as soon as the runtime has posted it, before the invocation
        ends (the invoke API answers there, as Lambda does); not called when init failed
        (the result is then the answer)."""
        inv.timings.started_ns = inv.timings.started_ns or time.perf_counter_ns()
        async with self._slots:
            logs: list[str] = []
            self._sinks.append(logs)
            try:
                return await self._run(inv, on_stream, on_answer, logs)
            finally:
                self._sinks = [sink for sink in self._sinks if sink is not logs]

    async def _run(
        self,
        inv: PendingInvoke,
        on_stream: StreamReader | None,
        on_answer: AnswerTaker | None,
        logs: list[str],
    ) -> InvokeResult:
        init_ms: float | None = None
        restore_ms: float | None = None
        async with self._lock:
            env = self._env
            if env is not None and env.must_go is not None:
                await self._reset(env, env.must_go)
                env = None
            if env is None:
                init = await self._init(inv.request_id)
                init_ms = self._init_ms = init.duration_ms
                if init.restore_ms is not None:  # SnapStart: REPORT has the restore instead
                    init_ms, restore_ms = None, init.restore_ms
                if init.failure is not None:
                    self._emit(self._plog.start(inv.request_id, inv.tenant_id or None))
                    return self._finish(
                        inv, init.failure, 0.0, init_ms, init.memory_mb, logs, restore_ms
                    )
                env = self._env
                assert env is not None
                # A cold start's caller waits from the runtime's spawn (see response_ms).
                inv.timings.started_ns = env.api.restore_started_ns or env.api.init_started_ns
        self._emit(self._plog.start(inv.request_id, inv.tenant_id or None))
        ending = await env.invoke(inv, on_stream, on_answer)
        result = self._finish(
            inv, ending.outcome, ending.duration_ms, init_ms, ending.memory_mb, logs, restore_ms
        )
        if env.must_go is not None:
            async with self._lock:
                if self._env is env:
                    await self._reset(env, env.must_go)
        return result

    async def _reset(self, env: Environment, reason: str) -> None:
        """End a failed environment; the next invoke starts a fresh one. External extensions
        get SHUTDOWN with ``reason`` (timeout or failure) first, as on Lambda."""
        if self._env is env:
            self._env = None
        await env.shut_down(reason, graceful=False)
        self._prepare_spare()

    def _finish(
        self,
        inv: PendingInvoke,
        outcome: InvokeOutcome,
        duration_ms: float,
        init_ms: float | None,
        memory_mb: int,
        logs: list[str],
        restore_ms: float | None = None,
    ) -> InvokeResult:
        # Custom runtimes are billed for init too: Init Duration + the first Duration.
        # (SnapStart bills the restore apart: REPORT's Billed Restore Duration.)
        billed = math.ceil(duration_ms + (init_ms or 0.0))
        report = Report(
            inv.request_id,
            duration_ms,
            max(billed, 1),
            self.config.memory_mb,
            memory_mb,
            init_ms,
            restore_ms,
        )
        status = outcome.status
        if self.config.managed_instances and outcome.function_error and status == "success":
            # On Managed Instances AWS's RAPID reports the runtime's /error as an error of
            # that type (on demand it is a success: test_report_line.py has both sources).
            status = "error"
        self._emit(self._plog.end(inv.request_id, status, duration_ms, len(outcome.payload)))
        self._emit(self._plog.report(report, status, outcome.error_type))
        if self.config.managed_instances:
            # Lines of the other invocations in flight are not this one's (JSON records and
            # platform lines carry their request id).
            logs = [line for line in logs if inv.request_id in line]
        return InvokeResult(
            request_id=inv.request_id,
            payload=outcome.payload,
            function_error=outcome.function_error,
            report=report,
            logs="".join(line + "\n" for line in logs),
            timings=inv.timings,
            status_code=outcome.http_status,
            error_type=outcome.error_type,
            log_events=list(logs),
        )

    def log_tail(self, result: InvokeResult) -> str:
        """The X-Amz-Log-Result value: the last 4 KB of the invocation's log, base64."""
        return base64.b64encode(result.logs.encode()[-protocol.LOG_TAIL_BYTES :]).decode()


def _event_bytes(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return json.dumps(event).encode()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _ChunkSink:
    """The :class:`~local_lambda.answer_relay.AnswerSink` of ``invoke(on_chunk=...)``: the
    body's bytes go to the caller's callback as the relay passes them on; an error's body
    stays in the result."""

    def __init__(self, take: Callable[[bytes], None]) -> None:
        self._take = take

    def start(self, content_type: str | None) -> None:
        pass

    async def chunk(self, data: bytes) -> None:
        self._take(data)

    def complete(self, outcome: InvokeOutcome, result: InvokeResult | None) -> None:
        pass
