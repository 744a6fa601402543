"""``LocalLambda``: one function's execution environment, driven the way Lambda drives it.

The Runtime API and the invoke API run on a background thread with their own event loop
(uvloop when importable), so tests and benchmarks call :meth:`LocalLambda.invoke` from
ordinary synchronous code. Invocations queue one at a time. Init is lazy (the first
invoke) as on Lambda; a timeout, a crash or an init error ends the environment and the
next invoke starts a fresh one.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from . import log_level, protocol
from .httpserver import HttpServer, serve
from .invoke_api import InvokeApi
from .model import FunctionConfig, InvokeResult, Report, ShutdownResult
from .platform_log import PlatformLog, readable
from .runtime_api import Fault, Invocation, Outcome, RuntimeApi
from .sandbox import RuntimeStartError, Sandbox, describe_exit

T = TypeVar("T")
# Managed Instances: where a runtime's worker processes may send their output (spec §4.1).
LOG_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"


class LocalLambda:
    """A local Lambda for one function. Use as a context manager; see docs/local_lambda.md."""

    def __init__(
        self,
        config: FunctionConfig,
        host: str = "127.0.0.1",
        runtime_port: int = 0,
        invoke_port: int = 0,
    ) -> None:
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
        )
        self._output: list[str] = []
        self._output_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._sink: list[str] | None = None
        self._sinks: list[list[str]] = []  # one per invocation in flight (Managed Instances)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[HttpServer] = []
        self._sandbox: Sandbox | None = None
        # A gated runtime process made ahead of time, so that a cold start pays neither the
        # spawn nor the cgroup join (see sandbox._GATE).
        self._spare: Sandbox | None = None
        self._init_duration_ms: float | None = None
        self._pending_faults: list[Fault] = []
        self._failed_init_memory_mb = 0
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
                self._open_locked()

    def _open_locked(self) -> None:
        self._loop = _new_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="local-lambda", daemon=True
        )
        self._thread.start()
        atexit.register(self._kill_leftover)
        self._call(self._open())

    def _kill_leftover(self) -> None:
        """At interpreter exit, don't leave a runtime behind if close() was never called."""
        for sandbox in (self._sandbox, self._spare):
            if sandbox is not None and sandbox.alive:
                with contextlib.suppress(OSError):
                    os.killpg(sandbox.pid, signal.SIGKILL)

    async def _open(self) -> None:
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self._api = RuntimeApi(self.config.function_name, self.config.handler)
        self._api.concurrency = self.config.max_concurrency
        self._api.initialization_type = self.config.initialization_type
        self._api.ext_api.invoke_events_allowed = not self.config.managed_instances
        self._api.faults = self._pending_faults
        self._plog.listener = self._api.telemetry.publish
        self._invoke_api = InvokeApi(self)
        runtime = await serve(
            self._api.handle,
            "127.0.0.1",  # the Runtime and Extensions APIs never leave the machine, as on Lambda
            self._ports[0],
            protocol.MAX_PAYLOAD_BYTES,
            time.perf_counter_ns,
            early=self._api.is_early,
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
        self.endpoint = "http://" + invoke.address
        if self.config.managed_instances:
            await self._open_log_socket()
        self._prepare_spare()

    async def _open_log_socket(self) -> None:
        """Managed Instances give the runtime a Unix socket to send worker processes'
        output to (awslambdaric's workers connect to it and write their stdout/stderr)."""
        import tempfile

        self._log_dir = tempfile.mkdtemp(prefix="lambdaboot-logs-")
        path = os.path.join(self._log_dir, "log.sock")

        level = log_level.threshold(self.config.log_format, self.config.log_level)

        async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if log_level.keeps(text, None, level):
                    self._emit(text)
            writer.close()

        self._log_server = await asyncio.start_unix_server(take, path)
        self.config.env[LOG_SOCKET_ENV] = path

    def _prepare_spare(self) -> None:
        if self._spare is None:
            with contextlib.suppress(RuntimeStartError):  # reported when init needs it
                self._spare = Sandbox(self.config, self.runtime_api, self._emit, self._api)

    async def _take_sandbox(self) -> Sandbox:
        """The spare if it is still waiting at its gate, else a new one; its gate opened."""
        sandbox, self._spare = self._spare, None
        if sandbox is None or not sandbox.alive:
            if sandbox is not None:
                await sandbox.finish()
            sandbox = Sandbox(self.config, self.runtime_api, self._emit, self._api)
        await sandbox.start()
        return sandbox

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
            self._thread = None

    async def _close_servers(self) -> None:
        if self._spare is not None:
            await self._spare.kill()
            self._spare = None
        for server in self._servers:
            server.close()
        self._servers = []
        log_server = getattr(self, "_log_server", None)
        if log_server is not None:
            log_server.close()
            import shutil

            shutil.rmtree(self._log_dir, ignore_errors=True)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError("LocalLambda is not open: use `with LocalLambda(config) as lam:`")
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "LocalLambda's blocking methods cannot be called from its own event loop"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # the public API
    @property
    def filesystem_mode(self) -> str:
        """How /opt and the task root are provided: 'namespace' (read-only bind mounts at
        the real paths), 'directories' (read-only temporary directories) or 'host' (the
        function runs in place: no layers, no runtime given). See local_lambda/layers.py."""
        self.open()
        fs = self._api.filesystem
        return fs.mode if fs is not None else "host"

    @property
    def output(self) -> str:
        """All log text so far: the platform's lines and the runtime's output."""
        with self._output_lock:
            return "".join(line + "\n" for line in self._output)

    def start(self) -> float | None:
        """Init eagerly (as provisioned concurrency would); returns the init duration in ms, None on failure."""
        self.open()
        return self._call(self._start())

    async def _start(self) -> float | None:
        async with self._lock:
            if self._sandbox is None:
                failure = await self._init(Invocation(b"", self.function_arn))
                if failure is not None:
                    return None
            return self._init_duration_ms

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
        if isinstance(event, bytes):
            payload = event
        elif isinstance(event, str):
            payload = event.encode()
        else:
            payload = json.dumps(event).encode()
        context = (
            client_context
            if isinstance(client_context, str) or client_context is None
            else json.dumps(client_context)
        )
        identity = json.dumps(cognito_identity) if cognito_identity else ""
        result = self._call(
            self._invoke_new(
                payload,
                trace_id or protocol.new_trace_id(),
                context or "",
                tenant_id or "",
                identity,
                on_chunk,
            )
        )
        if log_tail:
            result.log_result = self.log_tail(result)
        return result

    async def _invoke_new(
        self,
        payload: bytes,
        trace_id: str,
        client_context: str,
        tenant_id: str,
        identity: str,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> InvokeResult:
        inv = Invocation(
            payload,
            self.function_arn,
            trace_id=trace_id,
            client_context=client_context,
            tenant_id=tenant_id,
            cognito_identity=identity,
        )
        if on_chunk is None:
            return await self.run(inv)

        async def take(chunk: bytes) -> None:
            on_chunk(chunk)

        return await self.run_streamed(inv, take)

    async def run_streamed(
        self, inv: Invocation, on_chunk: Callable[[bytes], Awaitable[None]]
    ) -> InvokeResult:
        """Run ``inv``, awaiting ``on_chunk`` with each byte of a successful response as it
        arrives: a streamed response chunk by chunk (reading from the runtime waits while
        ``on_chunk`` does), a buffered one in one piece. The result's payload then holds
        only an error's body."""
        run = asyncio.ensure_future(self.run(inv))
        either: set[asyncio.Future[Any]] = {run, inv.stream}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if inv.stream.done():
            chunks = inv.stream.result()
            while (chunk := await chunks.next_chunk()) is not None:
                await on_chunk(chunk)
        result = await run
        if result.function_error is None and result.payload:
            await on_chunk(result.payload)
            result.payload = b""
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
            self._pending_faults.append(fault)
        else:
            self._loop.call_soon_threadsafe(self._pending_faults.append, fault)

    def interrupt(self, force: bool = False) -> None:
        """The user pressed Ctrl-C (or sent SIGTERM): end the environment now, even in the
        middle of an invocation, which then fails as the runtime exits. SIGTERM, the shutdown
        budget (Lambda's 500 ms, 2,000 ms with external extensions), then SIGKILL; ``force``:
        SIGKILL at once (a second Ctrl-C). Does nothing while no init or invocation runs
        (``shutdown`` then does it as Lambda would). Thread-safe; ``close`` still follows."""
        sandbox = self._sandbox
        if self._loop is None or sandbox is None or not (force or self._lock.locked()):
            return
        if force:
            self._kill_leftover()
            return
        self._call(self._interrupt(sandbox))

    async def _interrupt(self, sandbox: Sandbox) -> None:
        budget_ms = (
            self.config.shutdown_external_ms
            if self._api.has_external_extensions
            else self.config.shutdown_internal_ms
        )
        sandbox.signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(sandbox.exited), budget_ms / 1000)
        if sandbox.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(sandbox.pid, signal.SIGKILL)
            sandbox.memory.kill_members()

    def shutdown(self) -> ShutdownResult:
        """The shutdown phase: SIGTERM then SIGKILL if an extension registered, else SIGKILL at once."""
        if self._loop is None:
            return ShutdownResult([], None, 0.0, ran=False)
        return self._call(self._shutdown())

    async def _shutdown(self) -> ShutdownResult:
        async with self._lock:
            sandbox = self._sandbox
            if sandbox is None:
                return ShutdownResult([], None, 0.0, ran=False)
            self._sandbox = None
            started = time.perf_counter()
            signals: list[str] = []
            told: list[str] = []
            if self._api.has_external_extensions and sandbox.alive:
                signals, told = await sandbox.shut_down_with_extensions(
                    "spindown", self.config.shutdown_external_ms
                )
            elif self._api.extensions and sandbox.alive:
                budget_ms = (
                    self.config.shutdown_external_ms
                    if self._api.has_external_extensions
                    else self.config.shutdown_internal_ms
                )
                signals.append("SIGTERM")
                sandbox.signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sandbox.exited), budget_ms / 1000)
            if sandbox.alive:
                signals.append("SIGKILL")
                status = await sandbox.kill()
            else:
                status = sandbox.exited.result()
                await sandbox.finish()
            return ShutdownResult(
                signals, status, (time.perf_counter() - started) * 1000, shutdown_sent_to=told
            )

    # logs
    def _emit(self, line: str) -> None:
        with self._output_lock:
            self._output.append(line)
        if self._sink is not None:
            self._sink.append(line)
        for sink in self._sinks:
            sink.append(line)
        if self.config.echo_logs:
            print(readable(line), file=sys.stderr, flush=True)
        if self.config.log_listener is not None:
            self.config.log_listener(line)

    # init and invoke
    async def _init(self, inv: Invocation) -> Outcome | None:
        """Start a fresh environment and wait for init to end; an Outcome means it failed."""
        self._api.reset()
        self._api.timeout_s = self.config.timeout
        self._emit(self._plog.init_start())
        try:
            sandbox = await self._take_sandbox()
        except RuntimeStartError as exc:
            self._emit(str(exc))
            self._init_duration_ms = 0.0
            self._failed_init_memory_mb = 0
            return Outcome(
                protocol.platform_error(inv.request_id, "Runtime.InvalidEntrypoint", str(exc)),
                "Unhandled",
                "Runtime.InvalidEntrypoint",
                "failure",
            )
        self._sandbox = sandbox
        api = self._api
        await _first(self.config.init_timeout, api.init_ready, api.init_error, sandbox.exited)
        elapsed_ms = (time.perf_counter_ns() - sandbox.started_ns) / 1e6
        if api.init_ready.done():
            self._init_duration_ms = (api.init_ready.result() - sandbox.started_ns) / 1e6
            return None
        self._sandbox = None
        if api.init_error.done():
            outcome = api.init_error.result()
            # The runtime should exit after reporting; give it a moment, then reset.
            await _first(1.0, sandbox.exited)
        elif sandbox.exited.done():
            detail = "Runtime exited with error: " + describe_exit(sandbox.exited.result())
            outcome = Outcome(
                protocol.platform_error(inv.request_id, "Runtime.ExitError", detail),
                "Unhandled",
                "Runtime.ExitError",
                "error",
            )
        else:
            detail = f"Init timed out after {self.config.init_timeout:.2f} seconds"
            outcome = Outcome(
                protocol.platform_error(inv.request_id, "Sandbox.Timedout", detail),
                "Unhandled",
                "Sandbox.Timedout",
                "timeout",
            )
        self._failed_init_memory_mb = await sandbox.peak_memory_mb()
        if sandbox.alive:
            await sandbox.kill()
        else:
            await sandbox.finish()
        self._emit(self._plog.init_report(elapsed_ms, outcome.status, outcome.error_type))
        self._init_duration_ms = elapsed_ms
        self._prepare_spare()
        return outcome

    async def run(self, inv: Invocation) -> InvokeResult:
        """Run one invocation to its end (queued behind any other, or with up to
        ``max_concurrency`` at once in a Managed Instances environment)."""
        if self.config.managed_instances:
            return await self._run_concurrent(inv)
        async with self._lock:
            logs: list[str] = []
            self._sink = logs
            try:
                return await self._run_locked(inv, logs)
            finally:
                self._sink = None

    async def _run_locked(self, inv: Invocation, logs: list[str]) -> InvokeResult:
        failed, init_ms = await self._begin(inv, logs)
        if failed is not None:
            return failed
        sandbox = self._sandbox
        assert sandbox is not None  # else _begin answered
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout
        self._api.deliver(inv)
        await _first(self.config.timeout, inv.outcome, sandbox.exited)
        if inv.outcome.done():
            outcome = inv.outcome.result()
            # The invoke ends for the platform when the runtime asks for the next one.
            await _first(max(deadline - loop.time(), 0.0), inv.following_next, sandbox.exited)
            if sandbox.alive:
                sandbox.drain()  # what it wrote before asking for the next event is this invoke's
            memory = await sandbox.peak_memory_mb()
            self._api.forget(inv, "done")
            ext_failure = self._api.extension_failure
            if not inv.following_next.done() or ext_failure:
                # It (or an extension) crashed or hung after answering: start afresh.
                if ext_failure is None and sandbox.alive:  # still busy at the deadline
                    self._emit(PlatformLog.timed_out(inv.request_id, self.config.timeout))
                    outcome = dataclasses.replace(
                        outcome, status="timeout", error_type="Sandbox.Timedout"
                    )
                elif ext_failure is not None:
                    outcome = dataclasses.replace(outcome, status="error", error_type=ext_failure)
                await self._reset(sandbox, "failure" if ext_failure else "timeout")
            end_ns = inv.timings.result_received_ns
        elif sandbox.exited.done():
            outcome = self._exit_outcome(inv, sandbox)
            memory = await sandbox.peak_memory_mb()
            self._api.forget(inv, "done")
            await self._reset(sandbox)
            end_ns = time.perf_counter_ns()
        else:
            memory = await sandbox.peak_memory_mb()
            self._api.forget(inv, "timeout")
            await self._reset(sandbox, "timeout")
            outcome = self._timeout_outcome(inv)
            end_ns = 0
        start_ns = inv.timings.next_answered_ns
        if end_ns and start_ns:
            duration_ms = (end_ns - start_ns) / 1e6
        else:
            duration_ms = self.config.timeout * 1000 if outcome.status == "timeout" else 0.0
        return self._finish(inv, outcome, duration_ms, init_ms, memory, logs)

    async def _run_concurrent(self, inv: Invocation) -> InvokeResult:
        """Managed Instances: invocations share one environment, N in flight. A timeout
        ends only its invocation (a late post gets 410); a crash ends them all."""
        async with self._slots:
            logs: list[str] = []
            self._sinks.append(logs)
            try:
                return await self._run_in_shared_env(inv, logs)
            finally:
                self._sinks = [sink for sink in self._sinks if sink is not logs]

    async def _run_in_shared_env(self, inv: Invocation, logs: list[str]) -> InvokeResult:
        async with self._lock:  # one init for all
            failed, init_ms = await self._begin(inv, logs)
        if failed is not None:
            return failed
        sandbox = self._sandbox
        assert sandbox is not None  # else _begin answered
        self._api.deliver(inv)
        await _first(self.config.timeout, inv.outcome, sandbox.exited)
        if inv.outcome.done():
            outcome = inv.outcome.result()
            if sandbox.alive:
                sandbox.drain()
            self._api.forget(inv, "done")
            end_ns = inv.timings.result_received_ns
        elif sandbox.exited.done():
            outcome = self._exit_outcome(inv, sandbox)
            self._api.forget(inv, "done")
            if self._sandbox is sandbox:
                await self._reset(sandbox)
            end_ns = time.perf_counter_ns()
        else:
            self._api.forget(inv, "timeout")
            outcome = self._timeout_outcome(inv)
            end_ns = 0
        memory = await sandbox.peak_memory_mb()
        start_ns = inv.timings.next_answered_ns
        if end_ns and start_ns:
            duration_ms = (end_ns - start_ns) / 1e6
        else:
            duration_ms = self.config.timeout * 1000 if outcome.status == "timeout" else 0.0
        result = self._finish(inv, outcome, duration_ms, init_ms, memory, logs)
        # Lines of the other invocations in flight are not this one's (JSON records and
        # platform lines carry their request id).
        result.log_events = [line for line in logs if inv.request_id in line]
        result.logs = "".join(line + "\n" for line in result.log_events)
        return result

    async def _begin(
        self, inv: Invocation, logs: list[str]
    ) -> tuple[InvokeResult | None, float | None]:
        """Init if there is no environment, then log START. Returns the invocation's result
        when init failed (else None) and the Init Duration to report (cold starts only)."""
        cold = self._sandbox is None
        failure = await self._init(inv) if cold else None
        init_ms = self._init_duration_ms if cold else None
        self._emit(self._plog.start(inv.request_id, inv.tenant_id or None))
        if failure is None and self._sandbox is not None:
            return None, init_ms
        outcome = failure or Outcome(b"", "Unhandled", "Runtime.Unknown", "failure")
        memory = self._failed_init_memory_mb
        return self._finish(inv, outcome, 0.0, init_ms, memory, logs), init_ms

    def _exit_outcome(self, inv: Invocation, sandbox: Sandbox) -> Outcome:
        """The runtime exited during ``inv``: logged, and Runtime.ExitError for the invoker."""
        detail = "Runtime exited with error: " + describe_exit(sandbox.exited.result())
        self._emit(f"RequestId: {inv.request_id} Error: {detail}")
        self._emit("Runtime.ExitError")
        return Outcome(
            protocol.platform_error(inv.request_id, "Runtime.ExitError", detail),
            "Unhandled",
            "Runtime.ExitError",
            "error",
        )

    def _timeout_outcome(self, inv: Invocation) -> Outcome:
        """``inv`` ran past its timeout: logged, and Sandbox.Timedout for the invoker."""
        self._emit(PlatformLog.timed_out(inv.request_id, self.config.timeout))
        detail = f"Task timed out after {self.config.timeout:.2f} seconds"
        return Outcome(
            protocol.platform_error(inv.request_id, "Sandbox.Timedout", detail),
            "Unhandled",
            "Sandbox.Timedout",
            "timeout",
        )

    async def _reset(self, sandbox: Sandbox, reason: str = "failure") -> None:
        """End a failed environment; the next invoke starts a fresh one. External extensions
        get SHUTDOWN with ``reason`` (timeout or failure) first, as on Lambda."""
        if self._sandbox is sandbox:
            self._sandbox = None
        if sandbox.alive and self._api.has_external_extensions:
            await sandbox.shut_down_with_extensions(reason, self.config.shutdown_external_ms)
        elif sandbox.alive:
            await sandbox.kill()
        else:
            await sandbox.finish()
        self._prepare_spare()

    def _finish(
        self,
        inv: Invocation,
        outcome: Outcome,
        duration_ms: float,
        init_ms: float | None,
        memory_mb: int,
        logs: list[str],
    ) -> InvokeResult:
        billed = math.ceil(duration_ms + (init_ms or 0.0))  # custom runtimes bill init too
        report = Report(
            inv.request_id, duration_ms, max(billed, 1), self.config.memory_mb, memory_mb, init_ms
        )
        self._emit(
            self._plog.end(inv.request_id, outcome.status, duration_ms, len(outcome.payload))
        )
        self._emit(self._plog.report(report, outcome.status, outcome.error_type))
        return InvokeResult(
            request_id=inv.request_id,
            payload=outcome.payload,
            function_error=outcome.function_error,
            report=report,
            logs="".join(line + "\n" for line in logs),
            timings=inv.timings,
            error_type=outcome.error_type,
            log_events=list(logs),
        )

    def log_tail(self, result: InvokeResult) -> str:
        """The X-Amz-Log-Result value: the last 4 KB of the invocation's log, base64."""
        return base64.b64encode(result.logs.encode()[-protocol.LOG_TAIL_BYTES :]).decode()


async def _first(timeout: float, *futures: asyncio.Future[Any]) -> None:
    """Wait until one of ``futures`` is done or ``timeout`` seconds have passed."""
    await asyncio.wait(set(futures), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
