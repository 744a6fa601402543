"""Freezing an execution environment between invocations, as Lambda does.

On Lambda, once the runtime (and every extension) has asked for the next event, the
environment's processes are frozen until an event is delivered or the shutdown phase
begins: work a function leaves running after its response (a background thread, an import
started "for later") does not progress while it waits, it resumes inside the next
invocation and is billed there. The local Lambda does the same so that benchmarks see it.

Where the cgroup v1 freezer is mounted and writable (root), each environment gets a group
``lambdaboot-<id>`` and is frozen by writing ``FROZEN`` to its ``freezer.state``: invisible
to the processes, as on Lambda. Otherwise the environment's process group is sent SIGSTOP
and SIGCONT (the runtime and its extensions share one process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_V1_FREEZER = Path("/sys/fs/cgroup/freezer")


class Freezer:
    """Freezes and thaws one environment; ``method`` is 'cgroup-v1' or 'sigstop'."""

    def __init__(self, name: str) -> None:
        self.group: Path | None = None
        self.method = "sigstop"
        self.frozen = False
        #: When it was last thawed (``time.monotonic()``; never: -inf).
        self.thawed_at = float("-inf")
        self._pgid = 0
        with contextlib.suppress(OSError):
            group = CGROUP_V1_FREEZER / name
            group.mkdir()
            self.group = group
            self.method = "cgroup-v1"

    def adopt(self, pid: int) -> None:
        """Move ``pid`` into the group. Blocking (the kernel waits out an RCU grace period,
        5-15 ms): call it off the event loop, before the process runs."""
        if self.group is not None:
            with contextlib.suppress(OSError):
                (self.group / "cgroup.procs").write_text(str(pid))

    def watch(self, pgid: int) -> None:
        self._pgid = pgid

    def freeze(self) -> None:
        if self.frozen:
            return
        self.frozen = True
        self._set("FROZEN", signal.SIGSTOP)

    def thaw(self) -> None:
        if not self.frozen:
            return
        self.frozen = False
        self._set("THAWED", signal.SIGCONT)
        self.thawed_at = time.monotonic()

    def _set(self, state: str, signum: int) -> None:
        if self.group is not None:
            with contextlib.suppress(OSError):
                (self.group / "freezer.state").write_text(state)
        elif self._pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, signum)

    def thread_running(self, pid: int) -> bool:
        """Whether thread ``pid`` is frozen or runnable but not yet run (``/proc`` state D
        or R). A thread just thawed keeps the freezer's wake-up flag until it runs, and the
        kernel gives a process-directed signal to another thread meanwhile: Python would
        then run its handler late, or never if the main thread stays blocked."""
        try:
            stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(") ")[2][:1] in ("D", "R")

    def close(self) -> None:
        """Thaw (a frozen process cannot die) and remove the group once it is empty."""
        self.thaw()
        if self.group is not None:
            with contextlib.suppress(OSError):
                self.group.rmdir()
            self.group = None
