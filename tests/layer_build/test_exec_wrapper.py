"""The managed-mode exec wrapper on its own: what it hands to ``bootstrap``, and its refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Stands in for lambdaboot's bootstrap: shows what the wrapper passed on.
FAKE_BOOTSTRAP = '#!/bin/sh\necho "python=$LAMBDABOOT_PYTHON args=$*"\n'


@pytest.fixture
def opt(tmp_path: Path) -> Path:
    shutil.copy(REPO / "exec-wrapper", tmp_path / "lambdaboot-wrapper")
    (tmp_path / "bootstrap").write_text(FAKE_BOOTSTRAP)
    (tmp_path / "bootstrap").chmod(0o755)
    return tmp_path


def _run(opt: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(opt / "lambdaboot-wrapper"), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=30,
    )


def test_keeps_the_managed_interpreter_and_drops_its_command_line(opt: Path) -> None:
    done = _run(opt, sys.executable, "-m", "awslambdaric", "app.handler")
    assert done.stdout == f"python={sys.executable} args=\n"


def test_a_non_python_first_word_is_not_taken_for_the_interpreter(opt: Path) -> None:
    assert _run(opt, "/bin/true").stdout == "python= args=\n"


def test_next_wrapper_gets_the_bootstrap_as_its_command(opt: Path) -> None:
    (opt / "other").write_text('#!/bin/sh\necho "other wraps $1"\nexec "$@"\n')
    (opt / "other").chmod(0o755)
    done = _run(opt, sys.executable, LAMBDABOOT_NEXT_WRAPPER=str(opt / "other"))
    assert done.stdout == f"other wraps {opt}/bootstrap\npython={sys.executable} args=\n"


@pytest.mark.parametrize(
    ("next_wrapper", "message"),
    [
        ("/opt/lambdaboot-wrapper", "names lambdaboot's own wrapper"),
        ("/nonexistent/wrapper", "is not an executable file"),
    ],
)
def test_bad_next_wrapper(opt: Path, next_wrapper: str, message: str) -> None:
    done = _run(opt, sys.executable, LAMBDABOOT_NEXT_WRAPPER=next_wrapper)
    assert done.returncode == 1 and message in done.stderr


def test_snapstart_is_refused(opt: Path) -> None:
    done = _run(opt, sys.executable, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    assert (
        done.returncode == 1 and "SnapStart is not supported" in done.stderr and done.stdout == ""
    )
