"""One execution environment: the runtime process, its Lambda environment, output and end.

The runtime starts in its own process group (and its own memory cgroup where possible) so
that a timeout or a reset kills everything it started, as Lambda tears down a sandbox.
Its stdout and stderr share one pipe read on the event loop; :meth:`Sandbox.drain` reads
whatever is already in the pipe, so the lines a runtime wrote before posting its result
are attributed to that invocation.

The runtime sees the file system :mod:`local_lambda.layers` prepares (layers merged at
``/opt``, the function at ``/var/task``), and the external extensions found in
``/opt/extensions`` start before it (:mod:`local_lambda.extension_process`).

A sandbox is processes only: it knows nothing of the Runtime API. What it sees (output
lines, an extension's exit) it reports through the callbacks it is given, and the
environment around it (``local_lambda.environment``) decides what that means.
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
from dataclasses import dataclass
from typing import IO

from . import layers, log_frames, log_level
from .extension_process import ExtensionProcess
from .freezer import Freezer
from .memory import MemoryMeter
from .model import FunctionConfig
from .pipe_reader import LineReader
from .snapstart import Snapshot, SnapshotLost, credentials_environment

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
    version = config.function_version
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{stream_day}/[{version}]{uuid.uuid4().hex}",
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


@dataclass
class Listeners:
    """Where a sandbox reports what its processes do (the seam for their output).
    ``function_line`` gets each event of the function's output with its level when the
    runtime framed one (the telemetry log descriptor), else None."""

    function_line: Callable[[str, int | None], None]
    extension_line: Callable[[str], None]
    extension_exited: Callable[[str, int], None] = lambda name, status: None


class Sandbox:
    """A runtime process, held at its gate until :meth:`open_gate`. ``exited`` resolves
    with its wait status (negative: killed by that signal) when it ends.

    SnapStart (``snapshot`` given): the first sandbox starts the runtime that the snapshot
    is taken of; once it is taken (``snapshot.held``), a sandbox's runtime is a copy of it
    instead (``restored``), forked by the snapshot's holder and waiting at a gate of ours."""

    def __init__(
        self,
        config: FunctionConfig,
        runtime_api: str,
        fs: layers.Filesystem,
        listeners: Listeners,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.config = config
        self.fs = fs
        self.listeners = listeners
        self.snapshot = snapshot
        self.restored = snapshot is not None and snapshot.held
        try:
            command, extra = layers.runtime_command(
                config.runtime, config.command, config.handler, self.fs, config.env
            )
        except layers.LayerError as exc:
            raise RuntimeStartError(str(exc)) from exc
        _check_command(command, self.fs)
        name = f"lambdaboot-{uuid.uuid4().hex[:12]}"
        try:
            self.memory = MemoryMeter(name, config.memory_measure)
        except OSError as exc:
            raise RuntimeStartError(str(exc)) from exc
        self.freezer = Freezer(name)
        self.env = lambda_environment(config, runtime_api, self.fs, extra)
        self.credentials: dict[str, str] = {}
        if snapshot is not None and self.restored:  # the copy has the snapshot's environment
            self.env, self.credentials = dict(snapshot.env), snapshot.credentials
        elif snapshot is not None:
            self.credentials = credentials_environment(self.env, runtime_api)
            snapshot.starting(self.env, self.credentials)
        # Managed python3.x runtimes also get Lambda's telemetry log descriptor.
        self.telemetry_log = (
            log_frames.TelemetryLogPipe() if log_frames.wanted(config.runtime) else None
        )
        if self.telemetry_log is not None and not self.restored:
            self.env.update(self.telemetry_log.environment())
            if snapshot is not None:
                snapshot.env.update(self.telemetry_log.environment())
        self.extensions: list[ExtensionProcess] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        read_fd, write_fd = os.pipe()
        if snapshot is not None and self.restored:
            gate_read, gate_write = os.pipe()
            self._gate: IO[bytes] = os.fdopen(gate_write, "wb")
            self._adopted = asyncio.ensure_future(self._restore(snapshot, write_fd, gate_read))
        else:
            agent = snapshot.environment(self.env) if snapshot is not None else {}
            self._spawn(command, {**self.env, **agent}, read_fd, write_fd)
            self._adopted = asyncio.ensure_future(self._join(self.pid))
        self.output = LineReader(read_fd, lambda line: listeners.function_line(line, None))
        if self.telemetry_log is not None and not self.restored:
            self.telemetry_log.start(self._function_frame)

    def _spawn(self, command: list[str], env: dict[str, str], read_fd: int, write_fd: int) -> None:
        try:
            self.process = subprocess.Popen(
                self.fs.wrap(command),
                cwd=self.fs.cwd,
                env=env,
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
            self.freezer.close()
            raise RuntimeStartError(f"cannot start the runtime {command!r}: {exc}") from exc
        finally:
            os.close(write_fd)
        assert self.process.stdin is not None
        self._gate = self.process.stdin
        self._watch(self.process.pid)
        self._pidfd = os.pidfd_open(self.pid)
        asyncio.get_running_loop().add_reader(self._pidfd, self._reap)

    async def _restore(self, snapshot: Snapshot, write_fd: int, gate_read: int) -> None:
        """SnapStart: our runtime is a new copy of the snapshot, waiting at our gate."""
        telemetry_fd = self.telemetry_log.child_fd if self.telemetry_log is not None else -1
        try:
            copy = await snapshot.restore(write_fd, gate_read, telemetry_fd)
        except SnapshotLost:
            self.exited.set_result(-signal.SIGKILL)
            return
        finally:
            os.close(write_fd)
            os.close(gate_read)
            if self.telemetry_log is not None:
                self.telemetry_log.start(self._function_frame)  # (closes our copy of its end)
        self._watch(copy.pid)
        copy.exited.add_done_callback(lambda done: self._ended(done.result()))
        await self._join(copy.pid)

    def _watch(self, pid: int) -> None:
        self.pid = pid
        self.memory.watch(pid)
        self.freezer.watch(pid)
        if self.memory.group is None:
            self._sample_memory()

    def _function_frame(self, frame: log_frames.Frame) -> None:
        self.listeners.function_line(frame.event, frame.level)

    async def _join(self, pid: int) -> None:
        """Put ``pid`` in the environment's memory and freezer groups (in parallel: each
        join waits out an RCU grace period)."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            loop.run_in_executor(None, self.memory.adopt, pid),
            loop.run_in_executor(None, self.freezer.adopt, pid),
        )

    async def ready(self) -> None:
        """Wait until the runtime is in its groups (done ahead of time for a spare)."""
        await self._adopted

    def extension_names(self) -> set[str]:
        return {path.name for path in self.fs.extensions()}

    async def start_extensions(self) -> None:
        """Start /opt/extensions/* at their gates, then open them (init has begun)."""
        for path in self.fs.extensions():
            seen = self.fs.opt + "/extensions/" + path.name
            try:
                ext = ExtensionProcess(
                    path,
                    self.fs.wrap([seen]),
                    self.fs.cwd,
                    self.env,
                    self.pid,
                    self._join,
                    self.listeners.extension_line,
                    self._extension_exited,
                )
            except OSError as exc:
                raise ExtensionLaunchError(f"cannot start {path.name}: {exc}") from exc
            self.extensions.append(ext)
        await asyncio.gather(*(ext.start() for ext in self.extensions))

    def open_gate(self, go: bool = True) -> None:
        """Let the runtime command run (see layers._GATE; a SnapStart copy: its restore),
        or with ``go=False`` close the gate unopened (init failed before the runtime started)."""
        gate = self._gate
        if go:
            with contextlib.suppress(OSError):
                gate.write(b"go\n")
                gate.flush()
        with contextlib.suppress(OSError):
            gate.close()

    def _extension_exited(self, ext: ExtensionProcess, status: int) -> None:
        self.listeners.extension_exited(ext.name, status)

    def _sample_memory(self) -> None:
        """Without a cgroup, PSS is sampled every 50 ms while the runtime lives."""
        if self.alive:
            if not self.freezer.frozen:
                self.memory.sample()
            asyncio.get_running_loop().call_later(0.05, self._sample_memory)

    def drain(self) -> None:
        """Read what the runtime has written so far and pass on each complete line."""
        if self.telemetry_log is not None:
            self.telemetry_log.drain()
        self.output.drain()
        for ext in self.extensions:
            ext.output.drain()

    def freeze(self, frozen: bool) -> None:
        """Freeze (True) or thaw (False) every process of the environment."""
        if not self.alive:
            return
        if frozen:
            self.freezer.freeze()
        else:
            self.freezer.thaw()

    async def awake(self, timeout_s: float = 2.0) -> None:
        """Thaw, and wait until the runtime's main thread has run since, so that a signal
        sent next reaches it (see ``Freezer.thread_running``): for as long as a loaded
        machine may take to give a thawed thread a CPU, ``timeout_s`` from the thaw at most
        (it is back in its system call as soon as it runs). A signal sent sooner could go to
        another of its threads (a runtime's shutdown-extension poller, a function's own),
        and the runtime's SIGTERM handler ran late or never: SIGKILL, hooks not run. Not
        counted from now: a main thread thawed long ago and still runnable is busy (an
        interrupt mid-invocation), not waiting for its first run."""
        self.freezer.thaw()
        until = self.freezer.thawed_at + timeout_s
        while (
            self.alive
            and self.pid
            and self.freezer.thread_running(self.pid)
            and time.monotonic() < until
        ):
            await asyncio.sleep(0.001)

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        assert self.process is not None
        self._ended(self.process.wait())

    def _ended(self, status: int) -> None:
        self.drain()
        if not self.exited.done():
            self.exited.set_result(status)

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the runtime process alone (the shutdown phase's SIGTERM)."""
        self.freezer.thaw()
        if self.alive and self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def wait_exited(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the runtime to exit; True if it has."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), timeout_s)
        return not self.alive

    def extensions_alive(self) -> bool:
        """Whether any external extension process is still running."""
        return any(ext.alive for ext in self.extensions)

    async def wait_extensions(self, names: list[str], timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the extensions ``names`` to exit; True if none is left."""
        running = {ext.exited for ext in self.extensions if ext.alive and ext.name in names}
        if running:
            await asyncio.wait(running, timeout=timeout_s)
        return not any(ext.alive for ext in self.extensions)

    def kill_all(self) -> None:
        """SIGKILL every process of the environment (without waiting)."""
        self.freezer.thaw()  # a frozen process takes its SIGKILL only once thawed
        if self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self.memory.kill_members()

    async def kill(self) -> int:
        """SIGKILL the whole environment and wait for the runtime to be reaped."""
        await self._adopted  # a SnapStart copy may still be on its way
        self.kill_all()
        status = await self.exited
        await self._close_group()
        return status

    async def peak_memory_mb(self) -> int:
        """The environment's Max Memory Used so far (once the runtime is in its cgroup)."""
        await self._adopted
        return self.memory.peak_mb()

    async def _close_group(self) -> None:
        await self._adopted  # or the group could gain a member after it was emptied
        self.freezer.thaw()
        with contextlib.suppress(OSError):
            self._gate.close()
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
        self.freezer.close()

    async def finish(self) -> None:
        """Release what is left once the runtime has exited on its own."""
        self.freezer.thaw()
        if self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        await self._close_group()


def prepare_filesystem(config: FunctionConfig, on_line: Callable[[str], None]) -> layers.Filesystem:
    """The function's file system (prepared once per function); a log line says which
    mode it uses."""
    fs = layers.prepare(config.task_root, list(config.layers), config.runtime, config.filesystem)
    if fs.mode != "host":
        on_line(f"LOCAL_LAMBDA filesystem: {fs.mode} ({layers.describe(fs)})")
    return fs


class ExtensionLaunchError(Exception):
    """An external extension could not be started."""


class RuntimeStartError(Exception):
    """The runtime command could not be started (missing file, not executable...)."""


def _check_command(command: list[str], fs: layers.Filesystem) -> None:
    """Refuse a runtime command that cannot run, with Lambda's reason
    (Runtime.InvalidEntrypoint)."""
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
