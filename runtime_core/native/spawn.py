"""Starting a native program in its own process group, and ending the whole group.

Every program starts with ``start_new_session=True``: it leads a new process group, so
killing the group at the deadline also ends whatever the program started (a shell's
children, a helper it forked) and leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from runtime_core.native.failures import spawn_failure
from runtime_core.native.pipes import Pipes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime_core.invocation import Invocation

__all__ = ["DEADLINE_MARGIN_MS", "RESPONSE_LIMIT", "Child", "monotonic_deadline", "spawn"]

#: The largest buffered response Lambda accepts (6 MiB + 100 bytes).
RESPONSE_LIMIT = 6_291_556
#: The program is killed this long before the invocation's deadline, so that the runtime
#: can still post its own clear timeout error before Lambda ends the whole environment.
#: ``LAMBDABOOT_DEADLINE_MARGIN_MS`` (``runtime_core.deadline``), when set, is used instead.
DEADLINE_MARGIN_MS = 200


class Child:
    """A started program: its ``Popen`` and its ``Pipes``."""

    __slots__ = ("pipes", "popen", "program")

    def __init__(self, program: str, popen: subprocess.Popen[bytes], pipes: Pipes) -> None:
        self.program = program
        self.popen = popen
        self.pipes = pipes

    def kill_group(self) -> None:
        """SIGKILL the program's whole process group (it and all it started).

        Safe while the program is a zombie not yet reaped: its pid, and so the group id,
        cannot be reused until ``wait`` reaps it.
        """
        if self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def end(self) -> int:
        """Kill what is left of the group, reap the program and close the pipes: its status."""
        self.kill_group()
        status = self.popen.wait()
        self.pipes.close()
        return status


def spawn(argv: list[str], env: Mapping[str, str] | None, logger: str) -> Child:
    """Start ``argv`` with its three pipes; raise ``NativeStartError`` if it cannot start."""
    # Our own pipes rather than Popen's file objects: Pipes owns plain descriptors, and
    # there is no second owner to close them again. os.pipe() is close-on-exec.
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    try:
        popen = subprocess.Popen(
            argv, stdin=stdin_r, stdout=stdout_w, stderr=stderr_w, env=env, start_new_session=True
        )
    except OSError as exc:
        for fd in (stdin_w, stdout_r, stderr_r):
            os.close(fd)
        raise spawn_failure(argv[0], exc) from None
    finally:
        for fd in (stdin_r, stdout_w, stderr_w):
            os.close(fd)
    pipes = Pipes(stdin_w, stdout_r, stderr_r, logger, _pidfd(popen.pid))
    return Child(argv[0], popen, pipes)


def monotonic_deadline(invocation: Invocation | None) -> float | None:
    """When to kill the program (a ``time.monotonic()`` value), from the invocation's deadline."""
    if invocation is None:
        return None
    from runtime_core.deadline import margin_seconds, seconds_left

    margin = margin_seconds(os.environ)
    if margin is None:
        margin = DEADLINE_MARGIN_MS / 1000.0
    return time.monotonic() + seconds_left(invocation, margin)


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd
