"""Finding an interpreter of the target's minor version on this machine (to compile bytecode).

A pyc is only used by the minor version that wrote it (its cache tag), so bytecode for a
python3.12 layer must be compiled by a 3.12, whatever runs the build.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from layer_build.errors import BuildError
from local_lambda import pythons


def find_python(version: str, given: Path | None = None) -> Path:
    """``given`` if it is that version; else ``pythonX.Y`` on PATH; else the newest pyenv build."""
    if given is not None:
        found = pythons.version_of(given)
        if found != version:
            raise BuildError(
                f"--compile-python {given} is Python {found or '(not runnable)'}, "
                f"the target is {version}"
            )
        return given
    python = pythons.find(version)
    if python is None:
        raise BuildError(
            f"no Python {version} interpreter found on this machine (looked for python{version} on"
            f" PATH and in {pythons.pyenv_root()}): bytecode must be compiled by the target's"
            f" version; install Python {version} or give one with --compile-python"
        )
    return python


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
