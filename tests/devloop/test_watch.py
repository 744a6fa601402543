"""The watcher reports real file changes (the OS's notifications), and only the relevant ones."""

from __future__ import annotations

import queue
from pathlib import Path

from local_lambda.devloop.watch import Watcher

WAIT_S = 20  # how long a change may take to be reported on a loaded machine


def _watch(paths: list[Path]) -> tuple[Watcher, queue.Queue[set[Path]]]:
    seen: queue.Queue[set[Path]] = queue.Queue()
    return Watcher(paths, seen.put).start(), seen


def test_a_change_in_a_watched_folder_is_reported(tmp_path: Path) -> None:
    code = tmp_path / "src"
    (code / "pkg").mkdir(parents=True)
    watcher, seen = _watch([code])
    try:
        (code / "pkg" / "app.py").write_text("x = 1\n")
        assert code / "pkg" / "app.py" in seen.get(timeout=WAIT_S)
    finally:
        watcher.stop()


def test_a_watched_file_survives_being_replaced_by_rename(tmp_path: Path) -> None:
    """Editors save by writing a new file and renaming it over the old one."""
    template = tmp_path / "template.yaml"
    template.write_text("a: 1\n")
    (tmp_path / "unrelated.txt").write_text("")
    watcher, seen = _watch([template])
    try:
        (tmp_path / "unrelated.txt").write_text("changed")  # beside it: not reported
        new = tmp_path / ".template.yaml.swp-new"
        new.write_text("a: 2\n")
        new.rename(template)
        batch = seen.get(timeout=WAIT_S)
        while template not in batch:
            batch = seen.get(timeout=WAIT_S)
        assert tmp_path / "unrelated.txt" not in batch
        template.write_text("a: 3\n")  # still watched after the rename
        assert template in seen.get(timeout=WAIT_S)
    finally:
        watcher.stop()


def test_nested_paths_are_watched_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "t.yaml").write_text("")
    watcher = Watcher([tmp_path / "a", tmp_path / "a" / "b", tmp_path / "t.yaml"], print)
    assert watcher.roots() == [tmp_path]
    assert watcher.concerns(tmp_path / "a" / "x.py")
    assert not watcher.concerns(tmp_path / "other.py")
