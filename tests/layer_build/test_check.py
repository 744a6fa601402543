"""``lambdaboot check``: what Lambda would refuse about a function and its layers."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.conftest import lambdaboot


def _zip(
    path: Path, files: dict[str, bytes | int], executable: frozenset[str] = frozenset()
) -> Path:
    """A zip of ``files``; an int value stands for that many zero bytes (compresses to little)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, bytes(content) if isinstance(content, int) else content)
    return path


def _function(tmp_path: Path) -> Path:
    return _zip(tmp_path / "function.zip", {"app.py": b"def handler(e, c):\n    return 1\n"})


def test_function_with_the_built_layer_passes(tmp_path: Path, built_layer: Path) -> None:
    done = lambdaboot(
        "check",
        str(_function(tmp_path)),
        str(built_layer),
        "--runtime",
        "python3.12",
        "--arch",
        "x86_64",
    )
    assert done.returncode == 0, done.stdout
    assert "entry point: /opt/bootstrap" in done.stdout
    assert "of 250.0 MB" in done.stdout and done.stdout.strip().endswith("ok")


def test_overlapping_files_name_the_winning_layer(tmp_path: Path) -> None:
    first = _zip(
        tmp_path / "first.zip", {"python/shared.py": b"a = 1\n", "bin/tool": b"#!/bin/sh\n"}
    )
    second = _zip(tmp_path / "second.zip", {"python/shared.py": b"a = 2\n"})
    done = lambdaboot(
        "check", str(_function(tmp_path)), str(first), str(second), "--runtime", "python3.12"
    )
    assert done.returncode == 0, done.stdout
    assert "/opt/python/shared.py: second.zip wins over first.zip" in done.stdout
    assert "bin/tool:" not in done.stdout


def test_too_many_layers_and_too_big_are_problems(tmp_path: Path) -> None:
    layers = [_zip(tmp_path / f"l{n}.zip", {f"data/{n}.bin": 45 * 1024 * 1024}) for n in range(6)]
    done = lambdaboot(
        "check", str(_function(tmp_path)), *map(str, layers), "--runtime", "python3.12"
    )
    assert done.returncode == 1
    assert "problem: 6 layers: Lambda allows at most 5 per function" in done.stdout
    assert "problem: unzipped size 270.0 MB is over Lambda's 250.0 MB" in done.stdout


def test_provided_runtime_needs_an_executable_bootstrap(tmp_path: Path) -> None:
    done = lambdaboot("check", str(_function(tmp_path)), "--runtime", "provided.al2023")
    assert done.returncode == 1
    assert "no bootstrap at the root of the function or of any layer" in done.stdout
    layer = _zip(tmp_path / "layer.zip", {"bootstrap": b"#!/bin/sh\n"})
    done = lambdaboot("check", str(_function(tmp_path)), str(layer), "--runtime", "provided.al2023")
    assert done.returncode == 1
    assert "/opt/bootstrap is not executable" in done.stdout


def test_architecture_and_python_mismatches(tmp_path: Path, built_layer: Path) -> None:
    arm = _zip(
        tmp_path / "arm.zip",
        {"lib/libx.so": b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little")},
    )
    done = lambdaboot("check", str(_function(tmp_path)), str(built_layer), str(arm))
    assert done.returncode == 1
    assert "architecture mismatch" in done.stdout and "arm.zip: arm64" in done.stdout
    done = lambdaboot(
        "check", str(_function(tmp_path)), str(built_layer), "--runtime", "python3.13"
    )
    assert done.returncode == 1
    assert "Python version mismatch" in done.stdout and "runtime: python3.13" in done.stdout


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "function.zip"
    bad.write_text("not a zip")
    done = lambdaboot("check", str(bad))
    assert done.returncode == 2 and "not a readable zip" in done.stderr
    assert done.stderr.startswith("lambdaboot check: ") and done.stderr.count("\n") == 1
    missing = lambdaboot("check", str(tmp_path / "missing.zip"))
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr == f"lambdaboot check: {tmp_path / 'missing.zip'}: no such file\n"
