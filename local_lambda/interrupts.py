"""Ctrl-C and SIGTERM for the local Lambda's commands: end the environment, then exit.

A command that runs a function (``invoke``, ``serve``, ``bench``) must not leave a runtime
behind when the user stops it, and must not make the user wait for an invocation to
finish either. The first SIGINT or SIGTERM starts ending the environment on a thread
(``end``: the shutdown phase with its budget, then a kill) while the command unwinds as
usual, which removes its temporary folders; a second one calls ``force`` (SIGKILL now)
and raises KeyboardInterrupt. The command exits with 128 + the signal's number (130 for
Ctrl-C, 143 for SIGTERM), as a shell reports a process ended by that signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


@dataclass
class Caught:
    """The first signal received while the block ran (None: none)."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or 0)


@contextmanager
def ending_on_signals(end: Callable[[], None], force: Callable[[], None]) -> Iterator[Caught]:
    """Within the block, SIGINT/SIGTERM call ``end`` (once, on a thread), then ``force``."""
    caught = Caught()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if caught.signum is None:
            caught.signum = signum
            threading.Thread(target=end, name="interrupt", daemon=True).start()
            return
        force()
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
