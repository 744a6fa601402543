"""Reading inputs safely into the staging tree: nothing may land outside the package.

Every path that comes from a user or an archive goes through ``safe_relative``; every
directory copied goes through ``copy_tree``, which follows a symlink only when it stays
inside the tree it was given (and stores a copy, since zips for Lambda hold plain files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from layer_build.errors import BuildError


def safe_relative(name: str, what: str) -> PurePosixPath:
    """A relative path with no ``..``: the only kind allowed to name a place in a package."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts:
        raise BuildError(
            f"{what} {name!r} would land outside the package: give a relative path without '..'"
        )
    return path


def copy_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    shutil.copymode(src, dest)


def copy_tree(
    src: Path,
    dest: Path,
    skip: Callable[[PurePosixPath], bool] | None = None,
    _root: Path | None = None,
    _copying: frozenset[Path] = frozenset(),
) -> None:
    """Copy ``src`` into ``dest``; refuse a symlink whose target is outside ``src``, and a
    link to a folder being copied already (an ancestor: the copy would never end)."""
    root = _root or src.resolve()
    _copying = _copying | {src.resolve()}
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = PurePosixPath(path.relative_to(src).as_posix())
            if skip is not None and skip(rel):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    raise BuildError(
                        f"{path} is a symlink to {target}, outside {root}: copy the file in instead"
                    )
                if target.is_dir():
                    if path.parent.resolve().is_relative_to(target) or target in _copying:
                        raise BuildError(
                            f"{path} is a symlink to {target}, a folder that contains it (a loop):"
                            " remove the link or point it elsewhere"
                        )
                    copy_tree(target, dest / rel, skip, root, _copying)
                    continue
                if not target.exists():
                    raise BuildError(f"{path} is a broken symlink")
                copy_file(target, dest / rel)
            elif path.is_file():
                copy_file(path, dest / rel)
            elif path.is_dir():
                (dest / rel).mkdir(parents=True, exist_ok=True)


def tree_size(root: Path) -> int:
    """Bytes of all regular files under ``root`` (what Lambda counts as unzipped size)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
