"""One runtime behind one Runtime API stub, each pinned to its own core, driven in blocks.

The stub measures the time the runtime *holds* each invocation (from the event's last
byte sent to the runtime's next ``GET /next`` arriving: receiving, parsing, the handler,
serialising, posting, and asking again). The harness adds the CPU the runtime and the
stub spent per invocation (``/proc/PID/task/*/schedstat``, nanoseconds, every thread)
and the runtime's minor page faults.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import Contender
from benchmarks.warm import build

#: Server and runtimes on separate cores, so the runtime never waits for the stub's CPU.
SERVER_CPU, RUNTIME_CPU = "0", "1"


@dataclass
class Block:
    """One block of invocations of one contender behind one server."""

    holding_ns: list[int]
    runtime_cpu_ns: int
    server_cpu_ns: int
    page_faults: int


def _cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, ns (the scheduler's own accounting)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between listing and reading
    return total


def _minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])  # field 10, minflt


def _pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if os.cpu_count() and os.cpu_count() > 1 else command  # type: ignore[operator]


def lambda_env(task_root: Path, handler: str, api: str) -> dict[str, str]:
    """The environment Lambda gives a runtime (the variables the contenders read)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": api,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


class Pair:
    """A running stub and the runtime connected to it."""

    def __init__(
        self, server: str, runtime: Contender, event_file: Path, task_root: Path, handler: str
    ) -> None:
        self.server = server
        self.runtime = runtime
        stub = (
            [str(build.go_stub())]
            if server == "go"
            else [sys.executable, "-s", str(build.python_stub())]
        )
        self._stub = subprocess.Popen(
            _pinned(SERVER_CPU, [*stub, str(event_file)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"the {server} stub did not start: {line!r}")
        api = f"127.0.0.1:{line.split()[1]}"
        env = {**lambda_env(task_root, handler, api), **runtime.env}
        self._log = task_root / f"{runtime.name}-{server}.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                _pinned(RUNTIME_CPU, runtime.command),
                env=env,
                cwd=task_root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def label(self) -> str:
        return f"{self.runtime.name} / {self.server}"

    def _readline(self) -> str:
        """The stub's next line; if the runtime exits meanwhile, say so instead of waiting."""
        stdout = self._stub.stdout
        assert stdout is not None
        process = getattr(self, "_process", None)
        while process is not None and not select.select([stdout], [], [], 0.5)[0]:
            if process.poll() is not None:
                raise SystemExit(
                    f"{self.label}: the runtime exited ({process.returncode}); "
                    f"its output:\n{self.output()}"
                )
        return stdout.readline()

    def _command(self, text: str) -> str:
        assert self._stub.stdin is not None
        self._stub.stdin.write(text + "\n")
        self._stub.stdin.flush()
        line = self._readline()
        if not line:
            raise SystemExit(f"{self.label}: the stub ended; runtime output:\n{self.output()}")
        if self._process.poll() is not None:
            raise SystemExit(f"{self.label}: the runtime exited; its output:\n{self.output()}")
        return line

    def echo(self) -> bytes:
        """Serve one invocation; the body the runtime posted back."""
        with tempfile.NamedTemporaryFile() as dump:
            self._command(f"DUMP {dump.name}")
            return Path(dump.name).read_bytes()

    def run(self, count: int) -> Block:
        """Serve ``count`` invocations back to back; their holding times and costs."""
        pid, stub_pid = self._process.pid, self._stub.pid
        cpu, server_cpu, faults = _cpu_ns(pid), _cpu_ns(stub_pid), _minor_faults(pid)
        line = self._command(f"RUN {count}")
        if not line.startswith("DONE"):
            raise SystemExit(f"{self.label}: unexpected answer from the stub: {line[:200]!r}")
        holding = [int(value) for value in line.split()[1:]]
        return Block(
            holding,
            _cpu_ns(pid) - cpu,
            _cpu_ns(stub_pid) - server_cpu,
            _minor_faults(pid) - faults,
        )

    def output(self) -> str:
        return self._log.read_bytes()[-3000:].decode("utf-8", "replace")

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
        if self._stub.stdin is not None:
            self._stub.stdin.close()
        try:
            self._stub.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._stub.kill()
            self._stub.wait()


__all__ = ["Block", "Pair", "lambda_env"]
