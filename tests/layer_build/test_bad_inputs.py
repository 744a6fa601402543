"""Every bad input gets a clear error (exit status 2, no traceback) and no zip."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import lambdaboot, write_function


def _fails(*args: str, cwd: Path) -> str:
    done = lambdaboot(*args, "--out", str(cwd / "dist"), cwd=cwd)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert not list((cwd / "dist").glob("*.zip")) if (cwd / "dist").exists() else True
    return done.stderr


def _fake_wheel(cache: Path, filename: str, entries: dict[str, str]) -> None:
    name, version = filename.split("-")[:2]
    with zipfile.ZipFile(cache / filename, "w") as archive:
        archive.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        archive.writestr(
            f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
        )
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "")
        for entry, text in entries.items():
            archive.writestr(entry, text)


def test_embedded_interpreter_needing_a_newer_glibc_is_refused(
    relocatable_python: Path, tmp_path: Path
) -> None:
    err = _fails(
        "build", "--mode", "provided", "--python-dist", str(relocatable_python), cwd=tmp_path
    )
    assert "libpython3.12.so.1.0 needs GLIBC_2.35, newer than al2023's glibc 2.34" in err
    assert "--glibc 2.35" in err


def test_provided_mode_needs_a_python_dist(tmp_path: Path) -> None:
    assert "--mode provided needs --python-dist" in _fails(
        "build", "--mode", "provided", cwd=tmp_path
    )
    err = _fails(
        "build", "--mode", "provided", "--python-dist", str(tmp_path / "nope.tar.gz"), cwd=tmp_path
    )
    assert "nope.tar.gz does not exist" in err


def test_python_dist_of_another_version_is_refused(
    relocatable_python: Path, tmp_path: Path
) -> None:
    err = _fails(
        "build",
        "--mode",
        "provided",
        "--python",
        "3.13",
        "--python-dist",
        str(relocatable_python),
        "--glibc",
        "2.35",
        cwd=tmp_path,
    )
    assert "holds python3.12" in err and "the target is Python 3.13" in err


def test_managed_runtime_on_the_wrong_os(tmp_path: Path) -> None:
    err = _fails("build", "--python", "3.11", "--os", "al2023", cwd=tmp_path)
    assert "the python3.11 managed runtime runs on al2, not al2023" in err


def test_malformed_glibc(tmp_path: Path) -> None:
    assert "--glibc 'new' is not a version like 2.35" in _fails(
        "build", "--glibc", "new", cwd=tmp_path
    )


def test_package_without_a_fitting_wheel_is_named(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    _fake_wheel(
        cache,
        "lambdaboot_fixture_native-1.0-cp312-cp312-manylinux_2_39_x86_64.whl",
        {"lambdaboot_fixture_native.py": ""},
    )
    fn = write_function(
        tmp_path / "fn", {"app.py": "", "requirements.txt": "lambdaboot-fixture-native==1.0\n"}
    )
    err = _fails(
        "build",
        "--function",
        str(fn),
        "-r",
        str(fn / "requirements.txt"),
        "--wheel-cache",
        str(cache),
        cwd=tmp_path,
    )
    assert (
        "no wheel of lambdaboot-fixture-native==1.0 fits CPython 3.12 on al2023 x86_64 (glibc 2.34)"
        in err
    )
    assert "wheel cache" in err


def test_wheel_entry_outside_the_package_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    _fake_wheel(cache, "lambdaboot_fixture_evil-1.0-py3-none-any.whl", {"../escape.py": "x = 1\n"})
    fn = write_function(
        tmp_path / "fn", {"app.py": "", "requirements.txt": "lambdaboot-fixture-evil==1.0\n"}
    )
    err = _fails(
        "build",
        "--function",
        str(fn),
        "-r",
        str(fn / "requirements.txt"),
        "--wheel-cache",
        str(cache),
        cwd=tmp_path,
    )
    assert "'../escape.py' would land outside the package" in err
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.parametrize("dest", ["../outside", "/etc/evil", "a/../../b"])
def test_include_destination_outside_the_package(tmp_path: Path, dest: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    err = _fails("build", "--include", f"{tmp_path / 'file.txt'}:{dest}", cwd=tmp_path)
    assert "would land outside the package" in err


def test_include_errors(tmp_path: Path) -> None:
    assert "does not exist" in _fails(
        "build", "--include", f"{tmp_path / 'missing'}:x", cwd=tmp_path
    )
    assert "write it as SRC:DEST" in _fails("build", "--include", "justone", cwd=tmp_path)


def test_symlink_pointing_out_of_the_function_is_refused(tmp_path: Path) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": ""})
    os.symlink("/etc/passwd", fn / "passwd")
    err = _fails("build", "--function", str(fn), cwd=tmp_path)
    assert "is a symlink to /etc/passwd, outside" in err


@pytest.mark.parametrize("link", [".", ".."])
def test_symlink_loop_in_the_function_is_a_build_error(tmp_path: Path, link: str) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": "", "pkg/mod.py": ""})
    os.symlink(link, fn / "pkg" / "loop")  # a link to the folder itself or to an ancestor
    err = _fails("build", "--function", str(fn), cwd=tmp_path)
    assert "a folder that contains it (a loop)" in err and "pkg/loop" in err


def test_chained_symlink_loop_in_the_function_is_a_build_error(tmp_path: Path) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": "", "a/x.py": "", "b/y.py": ""})
    os.symlink("../b", fn / "a" / "to_b")
    os.symlink("../a", fn / "b" / "to_a")
    err = _fails("build", "--function", str(fn), cwd=tmp_path)
    assert "(a loop)" in err


def test_function_that_does_not_compile(tmp_path: Path) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": "def handler(:\n"})
    err = _fails("build", "--function", str(fn), cwd=tmp_path)
    assert "compiling" in err and "app.py" in err


def test_no_interpreter_of_the_target_version(tmp_path: Path) -> None:
    if shutil.which("python3.14") or list(Path.home().glob(".pyenv/versions/3.14*")):
        pytest.fail(
            "this machine has a Python 3.14: the test needs a version with no interpreter here"
        )
    fn = write_function(tmp_path / "fn", {"app.py": ""})
    err = _fails("build", "--function", str(fn), "--python", "3.14", cwd=tmp_path)
    assert "no Python 3.14 interpreter found on this machine" in err and "--compile-python" in err


def test_over_250_mb_unzipped_fails(tmp_path: Path) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": ""})
    with (fn / "big.bin").open("wb") as f:
        f.truncate(251 * 1024 * 1024)
    err = _fails("build", "--function", str(fn), cwd=tmp_path)
    assert "over Lambda's 250.0 MB limit" in err


def test_over_50_mb_zipped_warns_to_use_s3(tmp_path: Path) -> None:
    fn = write_function(tmp_path / "fn", {"app.py": ""})
    (fn / "noise.bin").write_bytes(os.urandom(51 * 1024 * 1024))
    done = lambdaboot("build", "--function", str(fn), "--out", str(tmp_path / "dist"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "direct upload limit: upload it to S3" in done.stderr
