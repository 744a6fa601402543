"""The managed-mode exec wrapper on its own: the interpreter command it ends in, and its refusals.

A stand-in interpreter (a script named ``python3.12``) reports the command line and the
environment it was started with, which is what the real interpreter would get.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# Shows what the interpreter was given: its arguments (the -c prelude elided) and the
# variables lambdaboot must not add or change.
FAKE_PYTHON = """#!/bin/sh
line="argv: "
for arg in "$@"; do
    case $arg in
        "import sys"*) line="$line<prelude>|" ;;
        *) line="$line$arg|" ;;
    esac
done
echo "$line"
echo "LAMBDABOOT_PYTHON=${LAMBDABOOT_PYTHON-unset} PYTHONPATH=${PYTHONPATH-unset}"
"""


@pytest.fixture
def opt(tmp_path: Path) -> Path:
    shutil.copy(REPO / "exec-wrapper", tmp_path / "lambdaboot-wrapper")
    shutil.copy(REPO / "bootstrap", tmp_path / "bootstrap")
    # Not executable: the wrapper runs it in its own shell (`.`), never as a second program.
    (tmp_path / "bootstrap").chmod(0o644)
    (tmp_path / "bin").mkdir()
    for name in ("python3.12", "python3"):
        (tmp_path / "bin" / name).write_text(FAKE_PYTHON)
        (tmp_path / "bin" / name).chmod(0o755)
    return tmp_path


def _run(opt: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(opt / "lambdaboot-wrapper"), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=30,
    )


def test_execs_the_managed_interpreter_with_lambdas_environment(opt: Path) -> None:
    python = str(opt / "bin" / "python3.12")
    done = _run(opt, python, "-m", "awslambdaric", "app.handler", PYTHONPATH="/var/runtime")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # -s -u, the prelude, the runtime's packages, no required version and the allocator
    # settings the prelude removes again; the managed runtime's own arguments are dropped.
    malloc = "MALLOC_MMAP_THRESHOLD_,MALLOC_TRIM_THRESHOLD_"
    assert lines[0] == f"argv: -s|-u|-c|<prelude>|{opt}||{malloc}|"
    # Nothing added, nothing rewritten: what Lambda gave is what the handler sees.
    assert lines[1] == "LAMBDABOOT_PYTHON=unset PYTHONPATH=/var/runtime"


def test_a_non_python_first_word_is_not_taken_for_the_interpreter(opt: Path) -> None:
    done = _run(opt, "/bin/true", PATH=f"{opt / 'bin'}:/usr/bin:/bin")
    assert done.stdout.splitlines()[1] == "LAMBDABOOT_PYTHON=unset PYTHONPATH=unset"
    assert done.stdout.startswith("argv: -s|-u|-c|")  # python3 found on PATH instead


def test_next_wrapper_gets_the_interpreters_command_line(opt: Path) -> None:
    (opt / "other").write_text('#!/bin/sh\necho "other wraps $1 $2 $3"\nexec "$@"\n')
    (opt / "other").chmod(0o755)
    python = str(opt / "bin" / "python3.12")
    done = _run(opt, python, LAMBDABOOT_NEXT_WRAPPER=str(opt / "other"))
    lines = done.stdout.splitlines()
    assert lines[0] == f"other wraps {python} -s -u"
    assert lines[1].startswith("argv: -s|-u|-c|<prelude>|")


@pytest.mark.parametrize(
    ("next_wrapper", "message"),
    [
        ("/opt/lambdaboot-wrapper", "names lambdaboot's own wrapper"),
        ("/nonexistent/wrapper", "is not an executable file"),
    ],
)
def test_bad_next_wrapper(opt: Path, next_wrapper: str, message: str) -> None:
    done = _run(opt, str(opt / "bin" / "python3.12"), LAMBDABOOT_NEXT_WRAPPER=next_wrapper)
    assert done.returncode == 1 and message in done.stderr


def test_snapstart_starts_the_runtime_like_any_init(opt: Path) -> None:
    """SnapStart is no longer refused: the wrapper ends in the same interpreter command
    (runtime_core.snapstart runs the hooks inside it)."""
    python = str(opt / "bin" / "python3.12")
    done = _run(opt, python, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"argv: -s|-u|-c|<prelude>|{opt}||") and done.stderr == ""
