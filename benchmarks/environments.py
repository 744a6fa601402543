"""Interpreters and package sets for benchmark contenders, installed the way a layer would be.

Each contender gets its packages in its own ``pip install --target`` directory (what a
layer's ``/opt/python`` holds) and runs on one shared bare interpreter: a venv with no
packages and no system site-packages, so no contender pays for another's ``.pth`` files
or imports. Everything lives under ``benchmarks/.cache/`` (ignored by git) and is reused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".cache"


def base_python(version: str = "3.11") -> Path:
    """A bare interpreter of ``version`` (a venv without pip or system site-packages)."""
    env_dir = CACHE / f"base-{version}"
    python = env_dir / "bin" / "python"
    if not python.exists():
        interpreter = subprocess.run(
            [str(REPO / "tools" / "find-python"), version],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        subprocess.run([interpreter, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    return python


# A dependency-heavy function's packages: what import_anatomy and layer_coldstart package.
HEAVY_REQUIREMENTS = ["boto3==1.35.99", "pydantic==2.10.6", "numpy==2.2.6"]


def pip_target(target: Path, requirements: list[str], version: str, *options: str) -> Path:
    """``pip install --target`` of binary wheels for Python ``version``, without bytecode
    (pip would compile it for this interpreter's version, not the target's)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            "--python-version",
            version,
            "--only-binary=:all:",
            *options,
            *requirements,
        ],
        check=True,
    )
    return target


def compile_unchecked_hash(target: Path, version: str) -> None:
    """``compileall --invalidation-mode unchecked-hash`` by a python``version``: the
    skeptic's baseline, the bytecode ``lambdaboot build --function`` also writes."""
    subprocess.run(
        [
            str(base_python(version)),
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(target),
        ],
        check=True,
    )


def packages(name: str, requirements: list[str], version: str = "3.11") -> Path:
    """A ``--target`` directory holding ``requirements`` for Python ``version``, built once."""
    target = CACHE / f"pkgs-{name}-{version}"
    stamp = target / ".complete"
    wanted = "\n".join(sorted(requirements))
    if stamp.exists() and stamp.read_text() == wanted:
        return target
    pip_target(target, requirements, version, "--upgrade")
    # Compile once, as a layer build does: no contender should pay for writing bytecode.
    subprocess.run([str(base_python(version)), "-m", "compileall", "-q", str(target)], check=False)
    stamp.write_text(wanted)
    return target


def compile_repo_sources(version: str = "3.11") -> None:
    """Byte-compile ``runtime_core`` and the contenders for ``version`` before timing."""
    python = base_python(version)
    for folder in ("runtime_core", "benchmarks/contenders"):
        subprocess.run([str(python), "-m", "compileall", "-q", str(REPO / folder)], check=True)


__all__ = [
    "CACHE",
    "HEAVY_REQUIREMENTS",
    "REPO",
    "base_python",
    "compile_repo_sources",
    "compile_unchecked_hash",
    "packages",
    "pip_target",
]
