"""Embedding a relocatable CPython for provided runtimes (``--python-dist``).

The input is a python-build-standalone ``install_only`` tarball or a directory of that
layout (``bin/python3.X``, ``lib/python3.X``). It lands at ``python-runtime/``, where
``bootstrap`` looks first, trimmed, checked against the target (machine, glibc), and its
standard library compiled by the interpreter itself.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from layer_build import elf
from layer_build.bytecode import compile_tree
from layer_build.errors import BuildError
from layer_build.targets import ELF_MACHINE, Target
from layer_build.tree import copy_tree

_SKIP_TOP = {"include", "share"}


def _find_root(base: Path) -> Path:
    for candidate in (base, base / "python", *sorted(p for p in base.iterdir() if p.is_dir())):
        if any((candidate / "bin").glob("python3*")):
            return candidate
    raise BuildError(
        f"--python-dist {base}: no bin/python3.X inside; give a python-build-standalone "
        "install_only tarball or a directory with bin/ and lib/"
    )


def _skip(python: str) -> object:
    def skip(rel: PurePosixPath) -> bool:
        parts = rel.parts
        if parts[0] in _SKIP_TOP or (parts[0] == "lib" and parts[1:2] == ("pkgconfig",)):
            return True
        if (
            parts[0] == "lib"
            and len(parts) == 2
            and parts[1].startswith("libpython")
            and parts[1].endswith(".so")
        ):
            return True  # the link-time name; the interpreter loads libpython3.X.so.1.0
        site = ("lib", f"python{python}", "site-packages")
        return parts[:3] == site and len(parts) > 3

    return skip


def embed(dist: Path, stage: Path, target: Target) -> Path:
    """Put the interpreter at ``stage/python-runtime``; return its ``bin/python3``."""
    dest = stage / "python-runtime"
    with tempfile.TemporaryDirectory(prefix="lambdaboot-dist-") as tmp:
        if dist.is_file():
            try:
                with tarfile.open(dist) as archive:
                    archive.extractall(tmp, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise BuildError(
                    f"--python-dist {dist}: cannot read it as a tarball ({exc})"
                ) from None
            root = _find_root(Path(tmp))
        elif dist.is_dir():
            root = _find_root(dist)
        else:
            raise BuildError(f"--python-dist {dist} does not exist")
        copy_tree(root, dest, skip=_skip(target.python))  # type: ignore[arg-type]
    binary = dest / "bin" / f"python{target.python}"
    if not binary.exists():
        found = sorted(p.name for p in (dest / "bin").glob("python3.*"))
        raise BuildError(
            f"--python-dist {dist} holds {', '.join(found) or 'no python3.X'}, "
            f"the target is Python {target.python}"
        )
    python3 = dest / "bin" / "python3"
    if not python3.exists():
        python3.write_bytes(binary.read_bytes())
    python3.chmod(0o755)
    check_native(dest, target, what="--python-dist")
    return python3


def check_native(root: Path, target: Target, what: str) -> None:
    """Refuse ELF files for another machine or needing a newer glibc/libstdc++ than the target."""
    want = ELF_MACHINE[target.arch]
    limit = target.max_glibc
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or not elf.is_elf(path):
            continue
        rel = path.relative_to(root)
        got = elf.machine(path)
        if got != want:
            raise BuildError(
                f"{what}: {rel} is built for {elf.machine_name(got)}, the target is {target.arch}: "
                f"use a {target.arch} build"
            )
        glibc = elf.needed_versions(path).get("GLIBC", ())
        if glibc[:2] > limit:
            raise BuildError(
                f"{what}: {rel} needs GLIBC_{elf.dotted(glibc)}, newer than {target.os}'s glibc "
                f"{elf.dotted(limit)}: it would fail to load on Lambda. "
                f"Build it against glibc {elf.dotted(limit)} "
                f"or older (python-build-standalone builds need 2.17), "
                f"or admit it with --glibc {elf.dotted(glibc[:2])} "
                f"if you know the target has it"
            )


def compile_stdlib(compiler: Path, stage: Path, target: Target) -> None:
    """Compile the embedded standard library (``compiler`` is of the target's version)."""
    lib = stage / "python-runtime" / "lib" / f"python{target.python}"
    compile_tree(compiler, lib, f"/opt/python-runtime/lib/python{target.python}")
