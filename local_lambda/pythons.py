"""Finding a CPython of a given minor version on this machine.

Two tools need one: the local Lambda, to run a ``python3.X`` managed runtime, and
``lambdaboot build``, to compile bytecode for a 3.X target (a pyc is only read by the
version that wrote it). Both look the same way, here: ``python3.X`` on PATH, then the
newest pyenv build, keeping only a candidate that runs and reports that version (a pyenv
shim on PATH exists even when no 3.X is selected).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path


def version_of(python: Path) -> str | None:
    """``X.Y`` of an interpreter, or None if it does not run."""
    try:
        out = subprocess.run(
            [os.fspath(python), "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def find(version: str) -> Path | None:
    """An interpreter of ``version`` (e.g. "3.12"), or None."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    root = pyenv_root()
    with contextlib.suppress(OSError):  # e.g. another user's pyenv
        if root.is_dir():
            candidates += sorted(root.glob(f"{version}.*/bin/python{version}"), reverse=True)
    return next((c for c in candidates if version_of(c) == version), None)
