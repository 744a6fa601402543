"""Layers merged into a read-only /opt, the function at a read-only /var/task, and the runtime
kinds: provided.* (a bootstrap in the function or /opt) and python3.X (the managed start,
with AWS_LAMBDA_EXEC_WRAPPER)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from local_lambda.layers import LayerError
from tests.conftest import BOOTSTRAP, REPO, write_function
from tests.local_lambda.test_extensions_kit import make_layer

AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric", "app.handler"]

# Reports what the function sees of its file system and environment.
PROBE = """
import os, sys

def attempt_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return exc.strerror

def handler(event, context):
    opt = os.environ["PATH"].rsplit(":", 1)[1][: -len("/bin")]  # Lambda appends $OPT/bin
    return {
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
        "shared": open(os.path.join(opt, "shared.txt")).read(),
        "first_only": open(os.path.join(opt, "first.txt")).read(),
        "opt_write": attempt_write(os.path.join(opt, "new.txt")),
        "task_write": attempt_write(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "new.txt")),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "python": "%d.%d" % sys.version_info[:2],
        "argv0": sys.argv[0],
    }
"""


@pytest.fixture
def two_layers(tmp_path: Path) -> list[Path]:
    first = make_layer(tmp_path / "first.zip", {"shared.txt": "first", "first.txt": "only in 1"})
    second = tmp_path / "second"  # a directory works as a layer too
    second.mkdir()
    (second / "shared.txt").write_text("second")
    return [first, second]


def test_layers_merge_in_order_into_a_read_only_opt(
    function_dir: Path, two_layers: list[Path], open_lambda: Callable[..., LocalLambda]
) -> None:
    write_function(function_dir, {"app.py": PROBE})
    lam = open_lambda(command=AWSLAMBDARIC, task_root=function_dir, layers=two_layers)
    seen = lam.invoke({}).json()
    assert lam.filesystem_mode == "namespace"  # this machine: root, unshare -m works
    assert "LOCAL_LAMBDA filesystem: namespace" in lam.output
    assert seen["task_root"] == "/var/task" and seen["cwd"] == "/var/task"
    assert seen["shared"] == "second" and seen["first_only"] == "only in 1"  # later layer wins
    assert seen["opt_write"] == "Read-only file system"
    assert seen["task_write"] == "Read-only file system"
    assert not (function_dir / "new.txt").exists()
    assert not Path("/opt/shared.txt").exists()  # nothing leaks out of the environment


def test_directories_mode_says_so(
    function_dir: Path, two_layers: list[Path], open_lambda: Callable[..., LocalLambda]
) -> None:
    write_function(function_dir, {"app.py": PROBE})
    lam = open_lambda(
        command=AWSLAMBDARIC, task_root=function_dir, layers=two_layers, filesystem="directories"
    )
    assert lam.filesystem_mode == "directories"
    assert "LOCAL_LAMBDA filesystem: directories" in lam.output
    fs = lam.filesystem
    assert fs is not None and fs.opt_host is not None
    assert (fs.opt_host / "shared.txt").read_text() == "second"
    assert not os.stat(fs.opt_host / "shared.txt").st_mode & 0o222  # write bits removed
    seen = lam.invoke({}).json()
    assert seen["shared"] == "second" and seen["task_root"] == os.fspath(function_dir)


def test_provided_runtime_prefers_the_functions_bootstrap_then_opt(
    tmp_path: Path, open_lambda: Callable[..., LocalLambda]
) -> None:
    def bootstrap(who: str) -> str:
        return f'#!/bin/sh\nexport WHO={who}\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n'

    app = "def handler(event, context):\n    return __import__('os').environ['WHO']\n"
    layer = make_layer(
        tmp_path / "rt.zip", {"bootstrap": bootstrap("opt")}, executable=("bootstrap",)
    )
    function_zip = make_layer(tmp_path / "fn.zip", {"app.py": app})
    from_opt = open_lambda(
        command=[], task_root=function_zip, layers=[layer], runtime="provided.al2023"
    )
    assert from_opt.invoke({}).json() == "opt"
    own = make_layer(
        tmp_path / "fn-own.zip",
        {"app.py": app, "bootstrap": bootstrap("task")},
        executable=("bootstrap",),
    )
    from_task = open_lambda(command=[], task_root=own, layers=[layer], runtime="provided.al2023")
    assert from_task.invoke({}).json() == "task"
    no_bootstrap = open_lambda(command=[], task_root=function_zip, runtime="provided.al2023")
    failed = no_bootstrap.invoke({})
    assert failed.error_type == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" in failed.logs


def test_managed_python_runtime_and_exec_wrapper(
    tmp_path: Path,
    function_dir: Path,
    two_layers: list[Path],
    open_lambda: Callable[..., LocalLambda],
) -> None:
    write_function(function_dir, {"app.py": PROBE})
    plain = open_lambda(command=[], task_root=function_dir, layers=two_layers, runtime="python3.11")
    seen = plain.invoke({}).json()
    assert seen["execution_env"] == "AWS_Lambda_python3.11" and seen["python"] == "3.11"
    # A wrapper gets the managed command line; this one records it and hands over to
    # lambdaboot's bootstrap on the managed interpreter (what a managed-mode layer does).
    wrapper = f'#!/bin/sh\necho "wrapper argv: $*"\nLAMBDABOOT_PYTHON="$1" exec {BOOTSTRAP}\n'
    wrapped_layer = make_layer(tmp_path / "wrap.zip", {"wrap": wrapper}, executable=("wrap",))
    wrapped = open_lambda(
        command=[],
        task_root=function_dir,
        layers=[*two_layers, wrapped_layer],
        runtime="python3.12",
        env={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrap"},
    )
    result = wrapped.invoke({})
    seen = result.json()
    assert seen["python"] == "3.12" and seen["execution_env"] == "AWS_Lambda_python3.12"
    python312 = REPO / ".venv-3.12" / "bin" / "python"
    assert f"wrapper argv: {python312} -m awslambdaric app.handler" in result.logs
    assert "INIT_START Runtime Version: python:3.12.local" in result.logs


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../escape.txt": "x"}, "unsafe entry '../escape.txt'"),
        ({"/etc/evil": "x"}, "unsafe entry '/etc/evil'"),
    ],
)
def test_unsafe_layers_are_refused(
    tmp_path: Path, function_dir: Path, entries: dict[str, str], message: str
) -> None:
    layer = tmp_path / "bad.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        for name, text in entries.items():
            zf.writestr(zipfile.ZipInfo(name), text)
    config = FunctionConfig(command=AWSLAMBDARIC, task_root=function_dir, layers=[layer])
    with pytest.raises(LayerError, match=message):
        LocalLambda(config).open()


def test_a_link_out_of_the_layer_is_refused(tmp_path: Path, function_dir: Path) -> None:
    layer = tmp_path / "link.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        info = zipfile.ZipInfo("lib/libc.so")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "../../../etc/passwd")
    config = FunctionConfig(command=AWSLAMBDARIC, task_root=function_dir, layers=[layer])
    with pytest.raises(LayerError, match="points outside the layer"):
        LocalLambda(config).open()


def test_cli_runs_a_function_with_layers_and_refuses_six(
    tmp_path: Path, function_dir: Path, two_layers: list[Path]
) -> None:
    write_function(function_dir, {"app.py": PROBE})
    base = [str(Path(sys.executable).parent / "lambdaboot"), "invoke", str(function_dir)]
    layers = [arg for layer in two_layers for arg in ("--layer", str(layer))]
    ok = subprocess.run(
        [*base, *layers, "--runtime", "python3.11", "--event", "{}"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert '"shared": "second"' in ok.stdout and '"task_root": "/var/task"' in ok.stdout
    six = subprocess.run(
        [*base, *(["--layer", str(two_layers[0])] * 6), "--runtime", "python3.11"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert six.returncode == 2 and "at most 5" in six.stderr
