"""Removing what never runs in Lambda, and stripping native code; license files stay.

Tests, type stubs, C sources and stale bytecode only cost bytes and unzip time;
``strip --strip-unneeded`` cuts most of a native extension's size (uvloop: -89 %).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path, PurePosixPath

from layer_build import elf

_DROP_DIRS = {
    "tests",
    "test",
    "__pycache__",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
}
_DROP_SUFFIXES = {".pyi", ".pyc", ".pyo", ".c", ".h", ".cpp", ".pyx", ".pxd", ".pxi", ".a", ".exe"}
_DROP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _is_license(path: Path) -> bool:
    upper = path.name.upper()
    return (
        upper.startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"))
        or "licenses" in path.parts
    )


def trim(root: Path, keep_dirs: frozenset[str] = frozenset()) -> None:
    """Delete tests, stubs, sources and old bytecode under ``root`` (names in ``keep_dirs``
    survive)."""
    for path in sorted(root.rglob("*"), reverse=True):
        if not path.exists() or path.is_symlink() or _is_license(path):
            continue
        if path.is_dir() and path.name in _DROP_DIRS and path.name not in keep_dirs:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix in _DROP_SUFFIXES
            or (path.parent.name.endswith(".dist-info") and path.name in _DROP_DIST_INFO)
        ):
            path.unlink()


#: The binutils strip for each ELF machine, by its GNU triplet name (Debian's cross
#: binutils: ``binutils-aarch64-linux-gnu``, ``binutils-x86-64-linux-gnu``).
_CROSS_STRIP = {183: "aarch64-linux-gnu-strip", 62: "x86_64-linux-gnu-strip"}
_HOST_MACHINE = {"x86_64": 62, "aarch64": 183, "arm64": 183}.get(platform.machine())
CROSS_PACKAGE = {183: "binutils-aarch64-linux-gnu", 62: "binutils-x86-64-linux-gnu"}


def strip_tool(machine: int) -> str | None:
    """The strip that handles ``machine``'s ELF files here: the host's own ``strip`` for
    the host's machine, else the cross binutils' (None when not installed)."""
    if machine == _HOST_MACHINE and shutil.which("strip"):
        return shutil.which("strip")
    return shutil.which(_CROSS_STRIP.get(machine, ""))


def drop_bytecode(root: Path) -> None:
    """Remove every pyc under ``root``, whatever version wrote it: the build compiles the
    package's sources for the target's version, and a pyc of another version never loads."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_symlink():
            continue
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".pyc", ".pyo"):
            path.unlink()


def strip_file(path: Path, machine: int | None = None) -> bool:
    """``strip --strip-unneeded`` one file in place; False when the tool is missing or fails."""
    tool = strip_tool(machine if machine is not None else elf.machine(path) or 0)
    if tool is None:
        return False
    return (
        subprocess.run(
            [tool, "--strip-unneeded", str(path)], capture_output=True, timeout=120
        ).returncode
        == 0
    )


def _patched(rel: PurePosixPath) -> bool:
    """Files patchelf has rewritten: stripping those breaks their load segments ("ELF load
    command address/offset not page-aligned"). auditwheel's go in ``<package>.libs/``;
    ``--binary`` files (``bin/``, ``lib/``) are stripped before their rpath is set."""
    return any(part.endswith(".libs") for part in rel.parts[:-1]) or rel.parts[0] in ("bin", "lib")


def strip_native(root: Path, machine: int) -> list[str]:
    """Strip every ELF of the target machine not rewritten by patchelf; return those left as
    they were."""
    skipped: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or not elf.is_elf(path):
            continue
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if _patched(rel):
            continue
        if elf.machine(path) != machine or not strip_file(path, machine):
            skipped.append(rel.as_posix())  # e.g. no strip for that architecture on this machine
    return skipped
