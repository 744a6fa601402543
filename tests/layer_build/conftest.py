"""Fixtures for the layer tools: a relocatable interpreter, a provided-mode layer, and a
helper that runs a function through the local Lambda as Lambda would (read-only /opt)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import lambdaboot
from tests.layer_build.pythons import make_relocatable

WRAPPER_ENV = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdaboot-wrapper"}


@pytest.fixture(scope="session")
def relocatable_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_relocatable(tmp_path_factory.mktemp("python") / "python")


@pytest.fixture(scope="session")
def provided_layer(
    tmp_path_factory: pytest.TempPathFactory, relocatable_python: Path, wheel_cache: Path
) -> Path:
    """A provided.al2023 layer embedding the relocatable 3.12 (admitted with --glibc 2.35), given
    as python-build-standalone ships it: a tarball whose top directory is ``python/``."""
    out = tmp_path_factory.mktemp("provided")
    tarball = out / "cpython-3.12-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as archive:
        archive.add(relocatable_python, arcname="python")
    done = lambdaboot(
        "build",
        "--mode",
        "provided",
        "--python-dist",
        str(tarball),
        "--glibc",
        "2.35",
        "--out",
        str(out),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    return out / "lambdaboot-provided-py312-al2023-x86_64.zip"


def invoke(
    task_root: Path,
    layers: list[Path],
    runtime: str,
    event: Any = None,
    env: dict[str, str] | None = None,
    handler: str = "app.handler",
    snap_start: bool = False,
) -> tuple[Any, str, str | None]:
    """One cold invoke: (decoded payload, the environment's log text, function error)."""
    config = FunctionConfig(
        snap_start=snap_start,
        command=[],
        task_root=task_root.resolve(),
        handler=handler,
        layers=layers,
        runtime=runtime,
        env=env or {},
        init_timeout=60,
        timeout=30,
    )
    with LocalLambda(config) as lam:
        result = lam.invoke(event if event is not None else {})
        return json.loads(result.payload), lam.output, result.function_error
