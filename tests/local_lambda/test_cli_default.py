"""``lambdaboot invoke DIR`` with no --runtime runs the function as Lambda would: the
default version's managed runtime, lambdaboot's layer through its exec wrapper, a
read-only /var/task. ``--in-place`` keeps the run where the function is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from local_lambda import default_runtime
from tests.conftest import REPO, write_function

LAMBDABOOT = Path(sys.executable).parent / "lambdaboot"
# Writes beside its own code, as a function that keeps a cache in its folder would.
WRITER = """
    import os

    def handler(event, context):
        seen = {k: os.environ.get(k) for k in ("AWS_EXECUTION_ENV", "AWS_LAMBDA_EXEC_WRAPPER")}
        print("seen", seen)
        with open(os.path.join(os.path.dirname(__file__), "cache.txt"), "w") as out:
            out.write("x")
        return seen
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAMBDABOOT), "invoke", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_default_is_the_managed_runtime_read_only(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": WRITER})
    done = invoke(str(function_dir))
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)
    assert error["errorType"] == "OSError"
    assert error["errorMessage"] == "[Errno 30] Read-only file system: '/var/task/cache.txt'"
    assert not (function_dir / "cache.txt").exists()
    expected = {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{default_runtime.PYTHON}",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdaboot-wrapper",
    }
    assert f"seen {expected}" in done.stderr
    assert f"INIT_START Runtime Version: python:{default_runtime.PYTHON}" in done.stderr


def test_help_says_what_the_default_is() -> None:
    done = subprocess.run([str(LAMBDABOOT), "invoke", "--help"], capture_output=True, text=True)
    text = " ".join(done.stdout.split())
    assert f"Default: as Lambda would, python{default_runtime.PYTHON}" in text
    assert "--in-place" in text


def test_in_place_keeps_the_writable_run(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": WRITER})
    done = invoke(str(function_dir), "--in-place")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"AWS_EXECUTION_ENV": None, "AWS_LAMBDA_EXEC_WRAPPER": None}
    assert (function_dir / "cache.txt").read_text() == "x"


def test_the_layer_is_built_once_per_runtime_source(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": "def handler(event, context):\n    return 1\n"})
    zip_path = default_runtime.layer()
    before = zip_path.stat().st_mtime_ns
    done = invoke(str(function_dir))
    assert done.returncode == 0, done.stderr
    assert default_runtime.layer() == zip_path and zip_path.stat().st_mtime_ns == before
    assert default_runtime.sources_hash() in zip_path.parent.name


def test_a_second_run_reuses_the_extracted_layer(function_dir: Path) -> None:
    """The layer's tree is extracted once (``layer_trees``) and mounted as it is next time."""
    write_function(function_dir, {"app.py": "def handler(event, context):\n    return 1\n"})
    mounted = []
    for _run in range(2):
        done = invoke(str(function_dir))
        assert done.returncode == 0, done.stderr
        [line] = [x for x in done.stderr.splitlines() if x.startswith("LOCAL_LAMBDA filesystem")]
        mounted.append(Path(line.split("/opt <- ", 1)[1].split(",", 1)[0]))
    assert mounted[0] == mounted[1] and mounted[0].parent.parent.name == "trees"
    assert (mounted[0] / "bootstrap").is_file()  # held by no one now, but kept for next time


def test_a_missing_interpreter_is_one_line(tmp_path: Path, function_dir: Path) -> None:
    """A checkout with no python3.X venv, on a machine with no python3.X on PATH or pyenv."""
    checkout = tmp_path / "checkout"
    for name in ("lambdaboot_cli", "local_lambda", "layer_build", "runtime_core"):
        shutil.copytree(
            REPO / name, checkout / name, symlinks=True, ignore=shutil.ignore_patterns("*.pyc")
        )
    for name in ("bootstrap", "exec-wrapper"):
        shutil.copy2(REPO / name, checkout / name)
    write_function(function_dir, {"app.py": WRITER})
    env = {
        **os.environ,
        "PATH": "/usr/bin:/bin",
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "PYTHONPATH": str(checkout),
    }
    assert shutil.which(f"python{default_runtime.PYTHON}", path=env["PATH"]) is None
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from lambdaboot_cli.main import main; sys.exit(main())",
         "invoke", str(function_dir)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"lambdaboot invoke: no Python {default_runtime.PYTHON} found")
    assert f"pyenv install {default_runtime.PYTHON}" in lines[0]
