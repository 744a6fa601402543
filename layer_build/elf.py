"""Just enough ELF reading to refuse a binary that cannot run on the target.

The machine comes from the header. The glibc/libstdc++ versions a file needs are read
from the version strings in its dynamic string table (``GLIBC_2.34\\0`` ...), which is
what the dynamic loader checks; a library that *defines* such versions (libc itself)
is never packaged, so reading the strings is enough here.
"""

from __future__ import annotations

import re
from pathlib import Path

_MAGIC = b"\x7fELF"
_MACHINE_NAMES = {62: "x86_64", 183: "arm64", 3: "i386", 40: "arm"}
_VERSION = re.compile(rb"(?<=\x00)(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)(?=\x00)")


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == _MAGIC


def machine_of_header(header: bytes) -> int | None:
    """The ELF ``e_machine`` number (62 = x86_64, 183 = aarch64) from a file's first 20 bytes."""
    if len(header) < 20 or header[:4] != _MAGIC:
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def machine(path: Path) -> int:
    with path.open("rb") as f:
        number = machine_of_header(f.read(20))
    if number is None:
        raise ValueError(f"{path} is not an ELF file")
    return number


def machine_name(number: int) -> str:
    return _MACHINE_NAMES.get(number, f"machine {number}")


def needed_versions(path: Path) -> dict[str, tuple[int, ...]]:
    """The newest version of each of GLIBC, GLIBCXX and CXXABI the file refers to."""
    newest: dict[str, tuple[int, ...]] = {}
    for family, version in _VERSION.findall(path.read_bytes()):
        key = family.decode()
        parsed = tuple(int(part) for part in version.split(b"."))
        if parsed > newest.get(key, ()):
            newest[key] = parsed
    return newest


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)
