"""One live status line per region (or function) while work runs in parallel.

On a terminal the lines are redrawn in place on stderr with rich; elsewhere (CI logs,
pipes) nothing is drawn live and the command prints its final lines itself, so logs hold
each outcome once.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any


class LiveLines:
    """``set(key, text)`` from any thread; the block of lines is redrawn on each change."""

    def __init__(self, keys: list[str], enabled: bool | None = None) -> None:
        self._lines = dict.fromkeys(keys, "waiting")
        self._lock = threading.Lock()
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._live: Any = None

    def __enter__(self) -> LiveLines:
        if self._enabled:
            try:
                from rich.console import Console
                from rich.live import Live
            except ModuleNotFoundError:
                self._enabled = False
            else:
                self._live = Live(
                    self._render(), console=Console(stderr=True), refresh_per_second=8
                )
                self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(kind, exc, tb)

    def set(self, key: str, text: str) -> None:
        with self._lock:
            self._lines[key] = text
            if self._live is not None:
                self._live.update(self._render())

    def _render(self) -> Any:
        from rich.text import Text

        width = max((len(k) for k in self._lines), default=0)
        return Text("\n".join(f"{k.ljust(width)}  {v}" for k, v in self._lines.items()))
