"""Max Memory Used for a whole execution environment (runtime and everything it starts).

Lambda reports the environment's peak. Where the cgroup v1 memory controller is mounted
and writable (root), each environment gets its own group ``lambdaboot-<id>`` and its
``memory.max_usage_in_bytes`` is the answer: exact, peak-holding, and it covers
children. The runtime joins its group before it execs (see ``sandbox._GATE``).
Otherwise the summed PSS of the runtime's process group is sampled
(``/proc/PID/smaps_rollup``) at each invocation's end and on a timer, which can miss a
short peak between samples.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")
MIB = 1024 * 1024


class MemoryMeter:
    """Peak memory of one environment; ``method`` says how it is measured ('cgroup-v1' or 'pss')."""

    def __init__(self, name: str, method: str = "auto") -> None:
        """``method``: 'auto' (a cgroup where possible, else PSS), 'cgroup' or 'pss'."""
        self.group: Path | None = None
        self.method = "pss"
        self._pgid = 0
        self._peak = 0
        if method == "pss":
            return
        try:
            group = CGROUP_V1_MEMORY / name
            group.mkdir()
            self.group = group
            self.method = "cgroup-v1"
        except OSError as exc:
            if method == "cgroup":
                raise OSError(
                    f"cannot create the memory cgroup {CGROUP_V1_MEMORY / name} ({exc}); "
                    "this needs root and cgroup v1: use memory_measure='auto' or 'pss'"
                ) from exc

    def adopt(self, pid: int) -> None:
        """Move ``pid`` into the group. Blocking (5-15 ms: the kernel waits out an RCU grace
        period), so call it off the event loop, before the process starts allocating."""
        if self.group is None:
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            (self.group / "cgroup.procs").write_text(str(pid))

    def watch(self, pgid: int) -> None:
        self._pgid = pgid

    def sample(self) -> None:
        """Fold the current PSS into the peak (only without a cgroup)."""
        if self.group is None and self._pgid:
            self._peak = max(self._peak, _group_pss(self._pgid))

    def peak_bytes(self) -> int:
        if self.group is not None:
            with contextlib.suppress(OSError, ValueError):
                return int((self.group / "memory.max_usage_in_bytes").read_text())
            return 0
        self.sample()
        return self._peak

    def peak_mb(self) -> int:
        return -(-self.peak_bytes() // MIB)  # round up, as a whole MB

    def members(self) -> list[int]:
        if self.group is None:
            return []
        try:
            return [int(p) for p in (self.group / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_members(self) -> None:
        """SIGKILL every process left in the group (e.g. one that left the process group)."""
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.group is not None:
            self.kill_members()
            with contextlib.suppress(OSError):
                self.group.rmdir()
            self.group = None


def _group_pss(pgid: int) -> int:
    """Summed PSS (bytes) of the processes whose process group is ``pgid``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            for line in Path(entry.path, "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total
