"""The issue's scenario end to end: the legacy C example, built by its Makefile, packed with
``lambdaboot build --binary`` into the runtime layer, and invoked from ``/opt`` by the local
Lambda as Lambda would run it (python3.12 with the layer's exec wrapper, /opt read-only)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import lambdaboot, write_function
from tests.native.conftest import NativePrograms

WRAPPER_ENV = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdaboot-wrapper"}


@pytest.fixture(scope="module")
def example_layer(
    native_programs: NativePrograms, wheel_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("legacy-layer")
    done = lambdaboot(
        "build",
        "--binary",
        str(native_programs.analyze),
        "--lib-path",
        str(native_programs.example_lib),
        "--out",
        str(out),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    (layer,) = out.glob("*.zip")
    return layer


def test_layer_carries_the_binary_and_its_library(example_layer: Path) -> None:
    names = zipfile.ZipFile(example_layer).namelist()
    assert "bin/analyze" in names and "lib/libstats.so.1" in names


@pytest.mark.parametrize("mode", ["exec", "coprocess"])
def test_example_invoked_from_the_layer(example_layer: Path, function_dir: Path, mode: str) -> None:
    settings = {"mode": mode, "args": ["--serve"] if mode == "coprocess" else []}
    write_function(function_dir, {"lambdaboot-exec.json": json.dumps(settings)})
    config = FunctionConfig(
        command=[],
        task_root=function_dir,
        handler="exec:/opt/bin/analyze",
        layers=[example_layer],
        runtime="python3.12",
        env=WRAPPER_ENV,
        init_timeout=60,
        timeout=30,
    )
    with LocalLambda(config) as lam:
        first = lam.invoke({"values": [3, 1, 2]})
        second = lam.invoke({"values": [10, 20]})
        bad = lam.invoke({"values": "none"})
    assert first.function_error is None, (first.payload, "\n".join(lam.output))
    assert first.json() == {
        "count": 3,
        "sum": 6,
        "mean": 2,
        "min": 1,
        "max": 3,
        "library": "libstats 1.0",
    }
    assert second.json()["mean"] == 15
    assert f"{first.request_id}\tanalyze: summarised 3 values" in first.logs
    if mode == "exec":
        assert bad.error_type == "Function.NativeExitError"
    else:  # the example answers a bad event itself in serve mode, and carries on
        assert bad.json() == {"error": "no values"}
