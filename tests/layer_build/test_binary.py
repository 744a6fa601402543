"""``--binary``: a C program whose own library shares a soname with one on this machine.

Lambda searches ``/lib64`` before ``/opt/lib``; the packaged program must still load its
packaged library (through the DT_RPATH the build sets), and a program for the wrong
machine or a too-new glibc is refused.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import lambdaboot, write_function
from tests.layer_build.conftest import WRAPPER_ENV, invoke
from tests.layer_build.test_bytecode import unpack

SONAME = "libgdbm.so.6"  # this machine has one (Debian's gdbm); ours defines another symbol
SYSTEM_LIBS = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the compiled program, the directory holding its own library)."""
    work = tmp_path_factory.mktemp("c")
    (work / "greet.c").write_text(
        'const char *lambdaboot_greeting(void) { return "packaged copy"; }\n'
    )
    (work / "prog.c").write_text(
        "#include <stdio.h>\nconst char *lambdaboot_greeting(void);\n"
        "int main(void) { puts(lambdaboot_greeting()); return 0; }\n"
    )
    libs = work / "libs"
    libs.mkdir()
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            f"-Wl,-soname,{SONAME}",
            "-o",
            str(libs / SONAME),
            str(work / "greet.c"),
        ],
        check=True,
    )
    subprocess.run(
        ["gcc", "-o", str(work / "prog"), str(work / "prog.c"), str(libs / SONAME)], check=True
    )
    return work / "prog", libs


def test_packaged_program_loads_its_packaged_library(
    program: tuple[Path, Path], tmp_path: Path, wheel_cache: Path
) -> None:
    prog, libs = program
    assert Path("/usr/lib/x86_64-linux-gnu", SONAME).exists(), (
        "the soname must also exist on this machine"
    )
    done = lambdaboot(
        "build",
        "--binary",
        str(prog),
        "--lib-path",
        str(libs),
        "--out",
        str(tmp_path / "dist"),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    layer = tmp_path / "dist" / "lambdaboot-managed-py312-al2023-x86_64-plus-prog.zip"
    assert not (tmp_path / "dist" / "lambdaboot-managed-py312-al2023-x86_64.zip").exists()
    assert json.loads(layer.with_suffix(".json").read_text())["binaries"] == {"prog": [SONAME]}
    with zipfile.ZipFile(layer) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert modes["bin/prog"] == 0o755 and modes[f"lib/{SONAME}"] == 0o644
    assert "lib/libc.so.6" not in modes, "what Amazon Linux ships is not copied"

    opt = tmp_path / "opt"
    unpack(layer, opt)
    lambda_order = {"LD_LIBRARY_PATH": f"{SYSTEM_LIBS}:{opt}/lib", "PATH": "/usr/bin:/bin"}
    original = subprocess.run([str(prog)], capture_output=True, text=True, env=lambda_order)
    assert original.returncode != 0 and "lambdaboot_greeting" in original.stderr, (
        "the system copy would win"
    )
    packaged = subprocess.run(
        [str(opt / "bin" / "prog")], capture_output=True, text=True, env=lambda_order
    )
    assert packaged.stdout == "packaged copy\n", packaged.stderr

    fn = write_function(
        tmp_path / "fn",
        {
            "app.py": """
        import subprocess

        def handler(event, context):
            return subprocess.run(["prog"], capture_output=True, text=True).stdout
    """
        },
    )
    payload, logs, error = invoke(fn, [layer], "python3.12", env=WRAPPER_ENV)
    assert error is None, logs
    assert payload == "packaged copy\n"


def test_binary_for_another_machine_is_refused(program: tuple[Path, Path], tmp_path: Path) -> None:
    prog, libs = program
    done = lambdaboot(
        "build",
        "--arch",
        "arm64",
        "--binary",
        str(prog),
        "--lib-path",
        str(libs),
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 2
    assert "is built for x86_64, the target is --arch arm64" in done.stderr
    assert not list(tmp_path.glob("*.zip"))


def test_binary_needing_a_newer_glibc_is_refused_for_al2(
    program: tuple[Path, Path], tmp_path: Path
) -> None:
    prog, libs = program
    done = lambdaboot(
        "build",
        "--python",
        "3.11",
        "--os",
        "al2",
        "--binary",
        str(prog),
        "--lib-path",
        str(libs),
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 2
    assert "needs GLIBC_2.34, but al2 has only GLIBC_2.26" in done.stderr
    assert "--glibc 2.34" in done.stderr
