"""Byte-for-byte reproducible zips: sorted entries, one fixed time, normalised modes.

Two builds of the same inputs must give the same sha256 whatever the umask, the file
times or the directory they ran in: only the relative name, the contents and the mode
class (executable or not) of each file reach the archive.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path, PurePosixPath

# Fixed time when SOURCE_DATE_EPOCH is not set (zip cannot store times before 1980).
_DEFAULT_EPOCH = 315532800 + 86400  # 1980-01-02T00:00:00Z
EXECUTABLE_DIRS = ("bin", "python-runtime/bin", "extensions")
EXECUTABLE_TOP = ("bootstrap", "lambdaboot-wrapper")


def is_executable(rel: PurePosixPath) -> bool:
    """Which entries get 0755: entry points, wrappers, binaries and extensions; all else 0644."""
    text = rel.as_posix()
    if text in EXECUTABLE_TOP:
        return True
    return any(text.startswith(d + "/") and "/" not in text[len(d) + 1 :] for d in EXECUTABLE_DIRS)


def _date_time() -> tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", _DEFAULT_EPOCH))
    stamp = time.gmtime(max(epoch, _DEFAULT_EPOCH))
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)


def write_zip(root: Path, out: Path) -> None:
    """Zip every file under ``root`` (names relative to it) into ``out``."""
    files = sorted(  # by name as a string (LC_ALL=C order), whatever the file system lists
        (
            (PurePosixPath(p.relative_to(root).as_posix()), p)
            for p in root.rglob("*")
            if p.is_file()
        ),
        key=lambda entry: entry[0].as_posix().encode(),
    )
    date_time = _date_time()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w") as archive:
        for rel, path in files:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is honoured on extraction
            mode = 0o755 if is_executable(rel) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(out)


def unzipped_size(archive_path: Path) -> int:
    with zipfile.ZipFile(archive_path) as archive:
        return sum(info.file_size for info in archive.infolist() if not info.is_dir())
