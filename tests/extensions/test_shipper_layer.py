"""The telemetry-shipper example as its README builds and runs it: httpx vendored for the
target, ``lambdaboot build --extension ... --include ...:python``, the layer zip in the local
Lambda (provided.al2023, and python3.12 behind the exec wrapper), a real HTTP sink.

The Python the runtime and the extension run on (``.venv-3.12``) has no httpx: the
shipper can only send anything with the httpx the build put in ``/opt/python``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from layer_build.targets import Target
from layer_build.wheels import download, install
from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import REPO, RUNTIME_PYTHONS, bootstrap_env, lambdaboot
from tests.extensions.conftest import Sink
from tests.layer_build.conftest import WRAPPER_ENV

EXAMPLE = REPO / "examples" / "telemetry-shipper"
LAYER_ZIP = "lambdaboot-managed-py312-al2023-x86_64-plus-python-telemetry-shipper.zip"


@pytest.fixture(scope="module")
def shipper_layer(tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path) -> Path:
    """The example's layer, built by the real CLI with httpx vendored for python3.12 (via the
    suite's wheel cache, so httpx is downloaded once per machine)."""
    root = tmp_path_factory.mktemp("shipper")
    requirements = root / "requirements.txt"
    requirements.write_text("httpx\n")
    vendored = root / "python"
    for wheel in download(
        requirements, Target(arch="x86_64", python="3.12", os="al2023"), wheel_cache, with_deps=True
    ):
        install(wheel, vendored)
    done = lambdaboot(
        "build",
        "--python",
        "3.12",
        "--extension",
        str(EXAMPLE / "extension" / "telemetry-shipper"),
        "--include",
        f"{vendored}:python",
        "--out",
        str(root / "dist"),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    return root / "dist" / LAYER_ZIP


def test_the_manifest_lists_httpx_and_the_extension_is_executable(shipper_layer: Path) -> None:
    manifest = json.loads(shipper_layer.with_suffix(".json").read_text())
    packages = {p["name"].lower(): p for p in manifest["packages"]}
    assert packages["httpx"]["version"] and packages["httpx"]["license"], packages.get("httpx")
    assert packages["httpcore"]["license"]  # its dependencies too
    with zipfile.ZipFile(shipper_layer) as archive:
        mode = (archive.getinfo("extensions/telemetry-shipper").external_attr >> 16) & 0o777
        names = set(archive.namelist())
    assert mode == 0o755
    assert (
        "python/httpx/__pycache__/__init__.cpython-312.pyc" in names
    )  # precompiled for read-only /opt


@pytest.mark.parametrize(
    ("runtime", "extra_env"),
    [("provided.al2023", {}), ("python3.12", WRAPPER_ENV)],
    ids=["provided", "managed"],
)
def test_the_built_layer_ships_every_line_and_report(
    shipper_layer: Path, tmp_path: Path, sink: Sink, runtime: str, extra_env: dict[str, str]
) -> None:
    config = FunctionConfig(
        command=[],
        runtime=runtime,
        task_root=EXAMPLE / "function",
        layers=[shipper_layer],
        # Stands in for the managed runtime's /var/lang/bin/python3 (for the extension too).
        env={**bootstrap_env(RUNTIME_PYTHONS["3.12"]), **extra_env, "SHIPPER_ENDPOINT": sink.url},
        timeout=10.0,
        init_timeout=30.0,
    )
    reports = []
    with LocalLambda(config) as lam:
        for n in range(3):
            result = lam.invoke({"items": [f"a{n}", f"b{n}"]})
            assert result.json() == {"processed": 2}, result.logs
            assert result.report is not None
            reports.append(result.report)
        shutdown = lam.shutdown()
        output = lam.output
    assert shutdown.shutdown_sent_to == ["telemetry-shipper"], output
    assert shutdown.signals == ["SIGTERM"], output  # nothing had to be killed
    assert "[telemetry-shipper]" not in output, output  # it reports failed or unsent batches

    records = sink.records()
    messages = [r["message"] for r in records if r["kind"] == "log"]
    expected = [f"processing item {item}" for n in range(3) for item in (f"a{n}", f"b{n}")]
    for line in expected:
        assert sum(m.endswith(line) for m in messages) == 1, (line, messages)
    assert sum(m.endswith("done with 2 items") for m in messages) == 3, messages
    assert all(body["dropped"] == 0 for body in sink.bodies)

    sink.assert_reports_shipped(reports)
