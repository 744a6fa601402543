"""The packaging baseline the dependency-heavy suites share (import_anatomy and
layer_coldstart): ``pip install -t`` for the target's Python, then unchecked-hash pycs
written by that Python, which is what the suites compare lambdaboot's build against."""

from __future__ import annotations

import zipfile
from pathlib import Path

from benchmarks.environments import compile_unchecked_hash, pip_target


def _wheel(folder: Path) -> Path:
    """A one-module pure wheel, so that pip needs no network."""
    path = folder / "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("tiny.py", "VALUE = 1\n")
        wheel.writestr(
            "tiny-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n"
        )
        wheel.writestr(
            "tiny-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr("tiny-1.0.dist-info/RECORD", "")
    return path


def test_pip_target_then_unchecked_hash_pycs_for_the_target_python(tmp_path: Path) -> None:
    options = ("--no-index", "--find-links", str(tmp_path))
    _wheel(tmp_path)
    target = pip_target(tmp_path / "pkgs", ["tiny"], "3.12", *options)
    assert (target / "tiny.py").is_file()
    assert not list(target.rglob("*.pyc"))  # pip wrote no bytecode for its own Python
    compile_unchecked_hash(target, "3.12")
    (pyc,) = target.rglob("*.pyc")
    assert pyc.name == "tiny.cpython-312.pyc"
    # PEP 552: flags 0b01 = hash-based, source never checked (what --invalidation-mode
    # unchecked-hash means); a timestamp pyc would have 0.
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01
