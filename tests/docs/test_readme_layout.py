"""The README's layout section matches the tree: what it names exists, and no folder is left out.

A newcomer finds their way by that section; a file renamed or a package added without it
would send them looking for what is not there, or leave a room unmentioned.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

#: The packages whose modules and folders the layout describes one by one.
DESCRIBED = ["runtime_core", "local_lambda", "layer_build"]
#: What the layout need not name at the top level (the repository's own files).
REPOSITORY_FILES = {"README.md", "CONTRIBUTING.md", "Makefile", "pyproject.toml"}


def _layout() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1].strip("\n").splitlines()


def _named() -> dict[str, set[str]]:
    """Top-level names, and per top-level folder the file and folder names its lines give."""
    named: dict[str, set[str]] = {"": set()}
    top = ""
    for line in _layout():
        if not line.strip():
            continue
        if not line.startswith(" "):
            top = line.split()[0].rstrip("/")
            named[""].add(top)
            named.setdefault(top, set())
            continue
        names = re.findall(r"(?<![\w.])(\w[\w.-]*\.(?:py|lock)|\w+/)(?=[\s,;)]|$)", line)
        named[top].update(name.rstrip("/") for name in names)
    return named


def _entries(folder: Path) -> set[str]:
    return {
        p.name
        for p in folder.iterdir()
        if not p.name.startswith((".", "__"))
        and p.name not in {"py.typed", "build", "dist"}
        and not p.name.endswith(".egg-info")  # made by an editable install
    }


def test_every_name_in_the_layout_exists() -> None:
    named = _named()
    missing = [top for top in named[""] if not (REPO / top).exists()]
    for top in DESCRIBED:
        folder = REPO / top
        candidates = [folder, *(p for p in folder.iterdir() if p.is_dir())]
        missing += [
            f"{top}/{name}"
            for name in named[top]
            if not any((where / name).exists() for where in candidates)
        ]
    assert missing == []


def test_every_folder_and_module_is_in_the_layout() -> None:
    named = _named()
    tracked = {p for p in _entries(REPO) if p not in REPOSITORY_FILES}
    assert sorted(tracked - named[""]) == []
    unlisted = [
        f"{top}/{name}"
        for top in DESCRIBED
        for name in sorted(_entries(REPO / top))
        if name not in named[top]
    ]
    assert unlisted == []
