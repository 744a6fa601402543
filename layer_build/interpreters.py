"""Finding an interpreter of the target's minor version on this machine (to compile bytecode).

A pyc is only used by the minor version that wrote it (its cache tag), so bytecode for a
python3.12 layer must be compiled by a 3.12, whatever runs the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from layer_build.errors import BuildError


def _version_of(python: Path) -> str | None:
    try:
        out = subprocess.run(
            [os.fspath(python), "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def find_python(version: str, given: Path | None = None) -> Path:
    """``given`` if it is that version; else ``pythonX.Y`` on PATH; else the newest pyenv build."""
    if given is not None:
        found = _version_of(given)
        if found != version:
            raise BuildError(
                f"--compile-python {given} is Python {found or '(not runnable)'}, the target is {version}"
            )
        return given
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if root.is_dir():
        builds = sorted(root.glob(f"{version}.*/bin/python{version}"), reverse=True)
        candidates += builds
    for candidate in candidates:
        if _version_of(candidate) == version:
            return candidate
    raise BuildError(
        f"no Python {version} interpreter found on this machine (looked for python{version} on PATH "
        f"and in {root}): bytecode must be compiled by the target's version; install Python {version} "
        f"or give one with --compile-python"
    )


def runs(python: Path) -> bool:
    """Whether an interpreter runs on this machine (an arm64 one does not, on x86_64)."""
    try:
        return (
            subprocess.run(
                [os.fspath(python), "-S", "-c", "pass"], capture_output=True, timeout=60
            ).returncode
            == 0
        )
    except OSError:
        return False
