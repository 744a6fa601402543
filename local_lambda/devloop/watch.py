"""``--watch``: tell the serving side which of a function's files changed on disk.

Built on watchfiles (the OS's change notifications through Rust's ``notify``, with its
own debouncing, so a save that writes several files arrives as one batch). Folders are
watched recursively; a single file (a template, a zip) is watched through its folder,
since editors save by writing a new file and renaming it over the old one, which a
watch on the file itself would lose. Changes outside what was asked for, and the
caches Python and editors leave (``__pycache__``, ``.pyc``, swap files), are dropped by
watchfiles' default filter and the check below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

# Milliseconds a batch of changes waits for more before it is reported.
DEBOUNCE_MS = 200


class Watcher:
    """Calls ``on_change`` with the changed paths (on its own thread) until stopped."""

    def __init__(self, paths: Iterable[Path], on_change: Callable[[set[Path]], None]) -> None:
        self.paths = sorted({Path(p).absolute() for p in paths})
        self._on_change = on_change
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watcher:
        self._thread = threading.Thread(target=self._run, name="lambdaboot-watch", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def roots(self) -> list[Path]:
        """The folders to watch: each folder asked for, a file's folder, none inside another."""
        folders = sorted({p if p.is_dir() else p.parent for p in self.paths})
        return [f for f in folders if not any(o != f and f.is_relative_to(o) for o in folders)]

    def concerns(self, path: Path) -> bool:
        """Whether a change at ``path`` is in what was asked for."""
        return any(path == p or (p.is_dir() and path.is_relative_to(p)) for p in self.paths)

    def _run(self) -> None:
        from watchfiles import watch

        roots = self.roots()
        # watchfiles starts watching on the first step of the generator, so the thread is
        # "ready" once it yields nothing within its first timeout (yield_on_timeout).
        changes_seen = watch(
            *roots,
            stop_event=self._stop,
            debounce=DEBOUNCE_MS,
            step=50,
            rust_timeout=100,
            yield_on_timeout=True,
        )
        for changes in changes_seen:
            self._ready.set()
            changed = {Path(path) for _, path in changes}
            relevant = {p for p in changed if self.concerns(p)}
            if relevant:
                self._on_change(relevant)
