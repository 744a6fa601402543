"""Same inputs, same bytes: whatever the directory, the umask or the files' times."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from tests.conftest import lambdaboot, write_function

FUNCTION = {
    "app.py": "import helpers\n\ndef handler(event, context):\n    return helpers.answer()\n",
    "helpers/__init__.py": (
        "def answer():\n    return {'ok': True, 'set': 'x' in {'x', 'y', 'z'}}\n"
    ),
    "data/table.csv": "a,b\n1,2\n",
    "requirements.txt": "structlog==26.1.0\n",
}


def _function_copy(parent: Path, mtime: int) -> Path:
    source = write_function(parent / "fn", FUNCTION)
    for path in source.rglob("*"):
        os.utime(path, (mtime, mtime))
    return source


def test_function_packages_built_apart_are_byte_identical(
    tmp_path: Path, wheel_cache: Path
) -> None:
    zips = []
    for n, (umask, mtime) in enumerate([(0o022, 1_600_000_000), (0o077, 1_700_000_000)]):
        source = _function_copy(tmp_path / f"checkout{n}", mtime)
        out = tmp_path / f"dist{n}"
        done = lambdaboot(
            "build",
            "--function",
            str(source),
            "-r",
            str(source / "requirements.txt"),
            "--out",
            str(out),
            "--wheel-cache",
            str(wheel_cache),
            umask=umask,
        )
        assert done.returncode == 0, done.stderr
        zips.append(out / "fn-py312-x86_64.zip")
    assert zips[0].read_bytes() == zips[1].read_bytes()


def test_layers_built_apart_are_byte_identical(
    tmp_path: Path, wheel_cache: Path, built_layer: Path
) -> None:
    out = tmp_path / "elsewhere" / "dist"
    done = lambdaboot(
        "build", "--out", str(out), "--wheel-cache", str(wheel_cache), umask=0o077, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    again = out / built_layer.name
    assert again.read_bytes() == built_layer.read_bytes()
    assert again.with_suffix(".json").read_text() == built_layer.with_suffix(".json").read_text()


def test_source_date_epoch_sets_every_entry_time(tmp_path: Path, wheel_cache: Path) -> None:
    source = _function_copy(tmp_path, 1_600_000_000)
    (source / "requirements.txt").unlink()
    shutil.rmtree(source / "data")
    done = lambdaboot(
        "build",
        "--function",
        str(source),
        "--out",
        str(tmp_path / "dist"),
        "--wheel-cache",
        str(wheel_cache),
        env={"SOURCE_DATE_EPOCH": "1700000000"},
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "dist" / "fn-py312-x86_64.zip") as archive:
        assert {info.date_time for info in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}
