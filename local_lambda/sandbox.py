"""One execution environment: the runtime process, its Lambda environment, output and end.

The runtime starts in its own process group (and its own memory cgroup where possible) so
that a timeout or a reset kills everything it started, as Lambda tears down a sandbox.
Its stdout and stderr share one pipe read on the event loop; :meth:`Sandbox.drain` reads
whatever is already in the pipe, so the lines a runtime wrote before posting its result
are attributed to that invocation.
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

from .memory import MemoryMeter
from .model import FunctionConfig

# Host variables passed through: the rest of the host's environment stays out.
_HOST_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def lambda_environment(config: FunctionConfig, runtime_api: str) -> dict[str, str]:
    """The environment Lambda gives a runtime, then ``config.env`` laid over it."""
    host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    task = os.fspath(config.task_root)
    lib_path = f"{task}:{task}/lib:/opt/lib"
    if os.environ.get("LD_LIBRARY_PATH"):
        lib_path += ":" + os.environ["LD_LIBRARY_PATH"]
    stream_day = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{stream_day}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON" if config.json_logs else "Text",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "LAMBDA_TASK_ROOT": task,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": config.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": f"{host_path}:/opt/bin",
        "LD_LIBRARY_PATH": lib_path,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    }
    if config.log_level:
        env["AWS_LAMBDA_LOG_LEVEL"] = config.log_level
    for name in _HOST_CREDENTIALS:
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(config.env)
    return env


# The runtime is started behind a gate: a shell that waits for one line on stdin, then
# execs the runtime command (same pid, same process group, same cgroup). Joining the
# memory cgroup costs 5-15 ms here, so it happens while the gate is closed, and init (and
# Init Duration) starts when the gate opens; the emulator keeps one gated sandbox ready.
_GATE = ["/bin/sh", "-c", 'read -r _ && exec "$@" </dev/null', "lambdaboot-gate"]


class Sandbox:
    """A runtime process, held at its gate until :meth:`start`. ``exited`` resolves with its
    wait status (negative: killed by that signal) when it ends."""

    def __init__(
        self,
        config: FunctionConfig,
        runtime_api: str,
        on_line: Callable[[str], None],
    ) -> None:
        self.config = config
        _check_command(config)
        try:
            self.memory = MemoryMeter(f"lambdaboot-{uuid.uuid4().hex[:12]}", config.memory_measure)
        except OSError as exc:
            raise RuntimeStartError(str(exc)) from exc
        self.started_ns = 0  # set by start()
        self._on_line = on_line
        self._partial = b""
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*_GATE, *config.command],
                cwd=config.task_root,
                env=lambda_environment(config, runtime_api),
                stdin=subprocess.PIPE,
                stdout=write_fd,
                stderr=write_fd,
                process_group=0,
            )
        except OSError as exc:
            os.close(read_fd)
            self.memory.close()
            raise RuntimeStartError(f"cannot start the runtime {config.command!r}: {exc}") from exc
        finally:
            os.close(write_fd)
        self.pid = self.process.pid
        self.memory.watch(self.pid)
        loop = asyncio.get_running_loop()
        self._adopted = loop.run_in_executor(None, self.memory.adopt, self.pid)
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self.exited: asyncio.Future[int] = loop.create_future()
        loop.add_reader(read_fd, self.drain)
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)
        if self.memory.group is None:
            self._sample_memory()

    async def start(self) -> None:
        """Let the runtime command run: init starts now (see _GATE)."""
        await self._adopted
        self.started_ns = time.perf_counter_ns()
        gate = self.process.stdin
        assert gate is not None
        with contextlib.suppress(OSError):
            gate.write(b"go\n")
            gate.flush()
        with contextlib.suppress(OSError):
            gate.close()

    def _sample_memory(self) -> None:
        """Without a cgroup, PSS is sampled every 50 ms while the runtime lives."""
        if self.alive:
            self.memory.sample()
            asyncio.get_running_loop().call_later(0.05, self._sample_memory)

    def drain(self) -> None:
        """Read what the runtime has written so far and pass on each complete line."""
        while True:
            try:
                data = os.read(self._read_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_output()
                return
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._on_line(line.decode("utf-8", "replace"))

    def _close_output(self) -> None:
        if self._read_fd < 0:
            return
        asyncio.get_running_loop().remove_reader(self._read_fd)
        os.close(self._read_fd)
        self._read_fd = -1
        if self._partial:
            self._on_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        status = self.process.wait()
        if self._read_fd >= 0:
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
        if self._read_fd >= 0:
            self.drain()
            self._close_output()
        self.memory.close()

    async def finish(self) -> None:
        """Release what is left once the runtime has exited on its own."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        await self._close_group()


class RuntimeStartError(Exception):
    """The runtime command could not be started (missing file, not executable...)."""


def _check_command(config: FunctionConfig) -> None:
    """Refuse a runtime command that cannot run, with Lambda's reason (Runtime.InvalidEntrypoint)."""
    program = config.command[0]
    if os.sep in program:
        path = os.path.join(config.task_root, program)  # relative paths start at the task root
        if not os.path.isfile(path):
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
