"""External extensions: the processes an environment starts from ``/opt/extensions``.

An external extension is an executable in ``/opt/extensions`` started before the runtime,
in the runtime's process group and memory cgroup (so a reset kills it and Max Memory
Used counts it), behind the same gate as the runtime (see ``layers._GATE``). Its output
goes to the function's log and, as ``extension`` records, to Telemetry subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from .pipe_reader import LineReader

# Variables an extension does not get (spec §5 "Extension environment"); every _X too.
_NOT_FOR_EXTENSIONS = (
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
)


def extension_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _NOT_FOR_EXTENSIONS and not k.startswith("_")}


class ExtensionProcess:
    """One external extension, from its start at the gate to its exit (``exited``)."""

    def __init__(
        self,
        path: Path,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        pgid: int,
        join: Callable[[int], Awaitable[None]],
        on_line: Callable[[str], None],
        on_exit: Callable[[ExtensionProcess, int], None],
    ) -> None:
        self.name = path.name
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=extension_environment(env),
                stdin=subprocess.PIPE,
                stdout=write_fd,
                stderr=write_fd,
                process_group=pgid,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.pid = self.process.pid
        self._join = join
        self._on_exit = on_exit
        self.output = LineReader(read_fd, on_line)
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)

    async def start(self) -> None:
        """Join the environment's cgroups (``join``), then open the gate."""
        await self._join(self.pid)
        gate = self.process.stdin
        assert gate is not None
        with contextlib.suppress(OSError):
            gate.write(b"go\n")
            gate.flush()
        with contextlib.suppress(OSError):
            gate.close()

    def _reap(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        status = self.process.wait()
        self.output.drain()
        if not self.exited.done():
            self.exited.set_result(status)
            self._on_exit(self, status)

    @property
    def alive(self) -> bool:
        return not self.exited.done()
