"""One execution environment: the runtime process, its Lambda environment, output and end.

The runtime starts in its own process group (and its own memory cgroup where possible) so
that a timeout or a reset kills everything it started, as Lambda tears down a sandbox.
Its stdout and stderr share one pipe read on the event loop; :meth:`Sandbox.drain` reads
whatever is already in the pipe, so the lines a runtime wrote before posting its result
are attributed to that invocation.

The runtime sees the file system :mod:`local_lambda.layers` prepares (layers merged at
``/opt``, the function at ``/var/task``), and the external extensions found in
``/opt/extensions`` start before it (:mod:`local_lambda.extension_process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from . import layers, log_frames, log_level
from .extension_process import ExtensionProcess, LineReader
from .extensions_api import deadline_in
from .memory import MemoryMeter
from .model import FunctionConfig

if TYPE_CHECKING:
    from .runtime_api import RuntimeApi

# Of the shutdown budget with external extensions, the runtime's share before SIGKILL
# (spec §5: 300 ms; 500 ms when an internal extension is registered).
RUNTIME_SHUTDOWN_SHARE_MS = 300

# Host variables passed through: the rest of the host's environment stays out.
_HOST_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def lambda_environment(
    config: FunctionConfig,
    runtime_api: str,
    fs: layers.Filesystem | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment Lambda gives a runtime (``extra`` from the runtime kind), then
    ``config.env`` laid over it. ``fs`` says where the task root and /opt are seen."""
    host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    task = fs.task_root if fs is not None else os.fspath(config.task_root)
    opt = fs.opt if fs is not None else "/opt"
    lib_path = f"{task}:{task}/lib:{opt}/lib"
    if os.environ.get("LD_LIBRARY_PATH"):
        lib_path += ":" + os.environ["LD_LIBRARY_PATH"]
    stream_day = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{stream_day}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "LAMBDA_TASK_ROOT": task,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": config.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": f"{host_path}:{opt}/bin",
        "LD_LIBRARY_PATH": lib_path,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    }
    env.update(log_level.environment(config.log_format, config.log_level))
    for name in _HOST_CREDENTIALS:
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(extra or {})
    env.update(config.env)
    return env


class Sandbox:
    """A runtime process, held at its gate until :meth:`start`. ``exited`` resolves with its
    wait status (negative: killed by that signal) when it ends."""

    def __init__(
        self,
        config: FunctionConfig,
        runtime_api: str,
        on_line: Callable[[str], None],
        api: RuntimeApi | None = None,
    ) -> None:
        self.config = config
        self.api = api
        self.fs = _filesystem(config, api, on_line)
        try:
            command, extra = layers.runtime_command(
                config.runtime, config.command, config.handler, self.fs, config.env
            )
        except layers.LayerError as exc:
            raise RuntimeStartError(str(exc)) from exc
        _check_command(command, self.fs)
        try:
            self.memory = MemoryMeter(f"lambdaboot-{uuid.uuid4().hex[:12]}", config.memory_measure)
        except OSError as exc:
            raise RuntimeStartError(str(exc)) from exc
        self.started_ns = 0  # set by start()
        self._on_line = on_line
        self.env = lambda_environment(config, runtime_api, self.fs, extra)
        self._app_level = log_level.threshold(config.log_format, config.log_level)
        # Managed python3.x runtimes also get Lambda's telemetry log descriptor.
        self.telemetry_log = (
            log_frames.TelemetryLogPipe() if log_frames.wanted(config.runtime) else None
        )
        if self.telemetry_log is not None:
            self.env.update(self.telemetry_log.environment())
        self.extensions: list[ExtensionProcess] = []
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                self.fs.wrap(command),
                cwd=self.fs.cwd,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=write_fd,
                stderr=write_fd,
                process_group=0,
                pass_fds=[self.telemetry_log.child_fd] if self.telemetry_log is not None else [],
            )
        except OSError as exc:
            os.close(read_fd)
            if self.telemetry_log is not None:
                self.telemetry_log.close()
            self.memory.close()
            raise RuntimeStartError(f"cannot start the runtime {command!r}: {exc}") from exc
        finally:
            os.close(write_fd)
        self.pid = self.process.pid
        self.memory.watch(self.pid)
        loop = asyncio.get_running_loop()
        self._adopted = loop.run_in_executor(None, self.memory.adopt, self.pid)
        self.output = LineReader(read_fd, self._function_line)
        if self.telemetry_log is not None:
            self.telemetry_log.start(self._function_frame)
        self.exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)
        if self.memory.group is None:
            self._sample_memory()

    def _function_frame(self, frame: log_frames.Frame) -> None:
        self._function_line(frame.event, frame.level)

    def _function_line(self, line: str, level: int | None = None) -> None:
        """One event of the function's output, unless Lambda's log level drops it."""
        if log_level.keeps(line, level, self._app_level):
            self._on_line(line)
        if self.api is not None:
            self.api.telemetry.function_line(line)

    def _extension_line(self, line: str) -> None:
        self._on_line(line)
        if self.api is not None:
            self.api.telemetry.extension_line(line)

    async def start(self) -> None:
        """Start the external extensions, wait for them to register, then let the runtime
        command run (see layers._GATE). Init starts now."""
        await self._adopted
        self.started_ns = time.perf_counter_ns()
        if self.api is not None:
            self.api.init_started_ns = self.started_ns
            go = await self._start_extensions()
        else:
            go = True
        gate = self.process.stdin
        assert gate is not None
        if go:  # else an extension failed: init has failed, and the gate closes unopened
            with contextlib.suppress(OSError):
                gate.write(b"go\n")
                gate.flush()
        with contextlib.suppress(OSError):
            gate.close()

    async def _start_extensions(self) -> bool:
        """Start /opt/extensions/* and wait until each has registered; False if one failed."""
        api = self.api
        assert api is not None
        paths = self.fs.extensions()
        if not paths:
            return True
        api.ext_api.launched = {p.name for p in paths}
        for path in paths:
            seen = self.fs.opt + "/extensions/" + path.name
            try:
                ext = ExtensionProcess(
                    path,
                    self.fs.wrap([seen]),
                    self.fs.cwd,
                    self.env,
                    self.pid,
                    self.memory,
                    self._extension_line,
                    self._extension_exited,
                )
            except OSError as exc:
                api.fail_extension("Extension.LaunchError", f"cannot start {path.name}: {exc}")
                return False
            self.extensions.append(ext)
        await asyncio.gather(*(ext.start() for ext in self.extensions))
        registered = api.ext_api.wait_registered(len(paths))
        await asyncio.wait(
            {registered, cast("asyncio.Future[None]", api.init_error)}, timeout=self.config.init_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )  # fmt: skip
        return registered.done() and not api.init_error.done()

    def _extension_exited(self, ext: ExtensionProcess, status: int) -> None:
        if self.api is None or self.api.ext_api.shutting_down:
            return
        self._on_line(f"EXTENSION {ext.name} exited: {describe_exit(status)}")
        self.api.fail_extension(
            "Extension.Crash", f"Extension {ext.name} exited: {describe_exit(status)}"
        )

    def _sample_memory(self) -> None:
        """Without a cgroup, PSS is sampled every 50 ms while the runtime lives."""
        if self.alive:
            self.memory.sample()
            asyncio.get_running_loop().call_later(0.05, self._sample_memory)

    def drain(self) -> None:
        """Read what the runtime has written so far and pass on each complete line."""
        if self.telemetry_log is not None:
            self.telemetry_log.drain()
        self.output.drain()
        for ext in self.extensions:
            ext.output.drain()

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        status = self.process.wait()
        self.drain()
        if not self.exited.done():
            self.exited.set_result(status)

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the runtime process alone (the shutdown phase's SIGTERM)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def shut_down_with_extensions(
        self, reason: str, budget_ms: float
    ) -> tuple[list[str], list[str]]:
        """The shutdown phase with external extensions (spec §5): SIGTERM to the runtime,
        SIGKILL after its share; then SHUTDOWN to the extensions, and SIGKILL for the whole
        environment when the budget is spent. Returns (signals sent, extensions told)."""
        assert self.api is not None
        api = self.api
        started = time.monotonic()
        has_internal = any(not e.external for e in api.extensions.values())
        share_ms = self.config.shutdown_internal_ms if has_internal else RUNTIME_SHUTDOWN_SHARE_MS
        signals = ["SIGTERM"]
        self.signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), share_ms / 1000)
        if self.alive:
            signals.append("SIGKILL")
            self.signal(signal.SIGKILL)
            await self.exited
        await api.telemetry.flush_all(timeout=0.2)
        remaining_ms = max(budget_ms - (time.monotonic() - started) * 1000, 0.0)
        told = api.ext_api.shutdown(reason, deadline_in(remaining_ms))
        # Those that took SHUTDOWN may use the rest of the budget; the others are killed.
        running = {ext.exited for ext in self.extensions if ext.alive and ext.name in told}
        if running:
            await asyncio.wait(running, timeout=remaining_ms / 1000)
        if any(ext.alive for ext in self.extensions):
            signals.append("SIGKILL")
        await self.finish()
        return signals, told

    async def kill(self) -> int:
        """SIGKILL the whole environment and wait for the runtime to be reaped."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.memory.kill_members()
        status = await self.exited
        await self._close_group()
        return status

    async def peak_memory_mb(self) -> int:
        """The environment's Max Memory Used so far (once the runtime is in its cgroup)."""
        await self._adopted
        return self.memory.peak_mb()

    async def _close_group(self) -> None:
        await self._adopted  # or the group could gain a member after it was emptied
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        # Other members of the group may take a moment to be reaped by the kernel.
        for _ in range(100):
            if not self.memory.members():
                break
            self.memory.kill_members()
            await asyncio.sleep(0.01)
        for ext in self.extensions:
            if ext.alive:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(ext.exited), 5.0)
            ext.output.close()
        self.drain()
        self.output.close()
        if self.telemetry_log is not None:
            self.telemetry_log.close()
        self.memory.close()

    async def finish(self) -> None:
        """Release what is left once the runtime has exited on its own."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        await self._close_group()


def _filesystem(
    config: FunctionConfig, api: RuntimeApi | None, on_line: Callable[[str], None]
) -> layers.Filesystem:
    """The function's file system, prepared once per Runtime API (that is, per LocalLambda);
    a log line says which mode it uses."""
    if api is not None and api.filesystem is not None:
        return api.filesystem
    fs = layers.prepare(config.task_root, list(config.layers), config.runtime, config.filesystem)
    if fs.mode != "host":
        on_line(f"LOCAL_LAMBDA filesystem: {fs.mode} ({layers.describe(fs)})")
    if api is not None:
        api.filesystem = fs
    return fs


class RuntimeStartError(Exception):
    """The runtime command could not be started (missing file, not executable...)."""


def _check_command(command: list[str], fs: layers.Filesystem) -> None:
    """Refuse a runtime command that cannot run, with Lambda's reason (Runtime.InvalidEntrypoint)."""
    program = command[0]
    if os.sep in program:
        path = fs.host_path(program)  # relative paths start at the task root
        if not path.is_file():
            raise RuntimeStartError(f"the runtime command {program} does not exist")
        if not os.access(path, os.X_OK):
            raise RuntimeStartError(
                f"the runtime command {program} is not executable (chmod +x it)"
            )
    elif shutil.which(program) is None:
        raise RuntimeStartError(f"the runtime command {program} is not on PATH")


# Go's names for the signals (Lambda's messages come from Go's os.ProcessState).
_SIGNAL_WORDS: dict[int, str] = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGINT: "interrupt",
}


def describe_exit(status: int) -> str:
    """Lambda's wording for how a runtime ended: 'exit status N' or 'signal: killed'."""
    if status < 0:
        signum = -status
        return f"signal: {_SIGNAL_WORDS.get(signum, f'signal {signum}')}"
    return f"exit status {status}"
