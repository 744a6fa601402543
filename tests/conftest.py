"""Fixtures shared by the whole suite: where things are, and the interpreters to run the runtime on.

The runtime is tested the way Lambda runs it: the real ``bootstrap`` started by the local
Lambda, under each supported interpreter. ``.venv`` is Python 3.11 with everything;
``.venv-3.12`` and ``.venv-3.13`` hold only the runtime's own dependencies (``make
runtime-venvs`` creates them), as a Lambda environment would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = REPO / "bootstrap"
LAMBDABOOT = Path(sys.executable).with_name("lambdaboot")  # this venv's command

# Interpreter per Python version the runtime supports. 3.11 is the suite's own interpreter.
RUNTIME_PYTHONS: dict[str, Path] = {
    "3.11": Path(sys.executable),
    "3.12": REPO / ".venv-3.12" / "bin" / "python",
    "3.13": REPO / ".venv-3.13" / "bin" / "python",
}


@pytest.fixture(params=sorted(RUNTIME_PYTHONS), ids=lambda v: f"py{v}")
def runtime_python(request: pytest.FixtureRequest) -> Path:
    """Each supported interpreter in turn. A missing one fails loudly: run `make runtime-venvs`."""
    path = RUNTIME_PYTHONS[request.param]
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make runtime-venvs` to create the Python {request.param} venv"
        )
    return path


def write_function(root: Path, files: dict[str, str]) -> Path:
    """Write a function's source files (dedented) under ``root`` and return it as the task root."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    """An empty task root for a test to fill with ``write_function``."""
    path = tmp_path / "task"
    path.mkdir()
    return path


def bootstrap_env(python: Path) -> dict[str, str]:
    """Environment that makes ``bootstrap`` use ``python`` (as $LAMBDABOOT_PYTHON)."""
    return {"LAMBDABOOT_PYTHON": os.fspath(python)}


def runtime_env(
    api: str, task_root: Path, python: Path, handler: str = "app.handler"
) -> dict[str, str]:
    """The environment Lambda starts a runtime in, for starting ``bootstrap`` (under
    ``python``) by hand against a scripted Runtime API at ``api`` (``host:port``): the
    variables a runtime reads, and no others from this process but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        **bootstrap_env(python),
    }


def on_bootstrap(
    task_root: Path,
    python: Path = RUNTIME_PYTHONS["3.11"],
    env: dict[str, str] | None = None,
    **config: Any,
) -> FunctionConfig:
    """The function at ``task_root`` as the suite runs it: the real ``bootstrap`` under
    ``python``, with ``env`` added to its environment and ``config`` (FunctionConfig's
    fields) as given. Open it with ``local_lambda.testing``'s ``local_lambda(...)`` or
    ``local_lambda_factory``."""
    return FunctionConfig(
        command=[str(BOOTSTRAP)],
        task_root=task_root,
        env=bootstrap_env(python) | (env or {}),
        **config,
    )


def lambdaboot(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``lambdaboot`` command as a user would, its output captured as text:
    ``stdin`` is its input (none: an empty one, so nothing waits on a terminal), ``env``
    is added to this process's environment, ``cwd`` defaults to the repository."""
    return subprocess.run(
        [str(LAMBDABOOT), *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def lambda_client(endpoint: str, **config: Any) -> Any:
    """boto3's Lambda client for a local endpoint (the local Lambda, the dev server); any
    credentials do. ``config``: botocore ``Config``'s options (``retries``,
    ``read_timeout``...)."""
    import boto3  # imported when asked: most tests do not need it
    import botocore.config

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(**config),
    )


# --- layer_build: one wheel cache and one built layer shared by the whole run -------------
WHEEL_CACHE = REPO / ".cache" / "wheels"


@pytest.fixture(scope="session")
def wheel_cache() -> Path:
    """The wheel cache every build in the test run goes through (kept between runs)."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    return WHEEL_CACHE


@pytest.fixture(scope="session")
def built_layer(tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path) -> Path:
    """lambdaboot's managed-mode layer for python3.12 on x86_64, built once: its zip path.

    Attach it with ``FunctionConfig(layers=[built_layer], runtime="python3.12",
    env={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdaboot-wrapper"})``; the manifest is beside it
    (``built_layer.with_suffix(".json")``).
    """
    from layer_build.build import Options, build
    from layer_build.targets import Target

    out = tmp_path_factory.mktemp("layer")
    result = build(
        Target(arch="x86_64", python="3.12", os="al2023"), Options(out=out, cache=wheel_cache)
    )
    return result.zip
