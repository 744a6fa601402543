"""Extensions inside the local Lambda: started from /opt/extensions, fed by its Telemetry API.

The function and the telemetry-shipper example run under the real ``bootstrap`` with the
example's extension in a layer; a real HTTP sink in the test must receive every line the
function logged and one report per invocation whose figures are the REPORT line's.
The runtime's own shutdown hooks must still fire when an external extension is present.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, REPO, bootstrap_env, on_bootstrap, write_function
from tests.extensions.conftest import Sink
from tests.extensions.test_shipper import SHIPPER


def _layer(root: Path, name: str, program: Path) -> Path:
    """A layer whose /opt/extensions/NAME runs ``program`` (a Python file) with the test's
    Python."""
    extensions = root / "extensions"
    extensions.mkdir(parents=True)
    launcher = extensions / name
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec "$LAMBDABOOT_PYTHON" -s {program}\n')
    launcher.chmod(0o755)
    return root


def test_the_shipper_sends_what_the_function_logged(tmp_path: Path, sink: Sink) -> None:
    task = write_function(
        tmp_path / "task", {"app.py": (SHIPPER.parent.parent / "function" / "app.py").read_text()}
    )
    config = on_bootstrap(
        task,
        env={"SHIPPER_ENDPOINT": sink.url},
        layers=[_layer(tmp_path / "layer", "telemetry-shipper", SHIPPER)],
        timeout=10.0,
    )
    reports = []
    with LocalLambda(config) as lam:
        for n in range(3):
            result = lam.invoke({"items": [f"a{n}", f"b{n}"]})
            assert result.json() == {"processed": 2}, result.logs
            reports.append(result.report)
        shutdown = lam.shutdown()
    assert "telemetry-shipper" in shutdown.shutdown_sent_to
    assert shutdown.signals == ["SIGTERM"]  # the runtime, then SHUTDOWN: nothing had to be killed

    messages = [r["message"] for r in sink.records() if r["kind"] == "log"]
    for n in range(3):
        assert any(m.endswith(f"processing item a{n}") for m in messages), messages
        assert any(m.endswith(f"processing item b{n}") for m in messages), messages
    assert sum("done with 2 items" in m for m in messages) == 3
    sink.assert_reports_shipped(reports)


def test_runtime_shutdown_hooks_fire_with_an_external_extension(
    tmp_path: Path, runtime_python: Path
) -> None:
    marker = tmp_path / "hook-ran"
    task = write_function(
        tmp_path / "task",
        {
            "app.py": """
                import os
                from runtime_core import on_shutdown

                @on_shutdown
                def goodbye():
                    with open(os.environ["MARKER"], "w") as f:
                        f.write("hook ran")

                def handler(event, context):
                    return "ok"
                """
        },
    )
    quiet = write_function(
        tmp_path / "ext",
        {
            "quiet.py": (
                "from runtime_core.extensions import Extension\nExtension('quiet-one').run()\n"
            )
        },
    )
    config = on_bootstrap(
        task,
        runtime_python,
        env={"MARKER": os.fspath(marker)},
        layers=[_layer(tmp_path / "layer", "quiet-one", quiet / "quiet.py")],
    )
    with LocalLambda(config) as lam:
        assert lam.invoke({}).json() == "ok"
        shutdown = lam.shutdown()
    assert shutdown.signals[:1] == ["SIGTERM"]
    assert shutdown.shutdown_sent_to == ["quiet-one"]
    assert marker.read_text() == "hook ran"
    assert shutdown.exit_status == 0


def _runtime_layer(root: Path, bootstrap: Path) -> Path:
    """A layer laid out as ``lambdaboot build`` lays it out: /opt/bootstrap,
    /opt/lambdaboot/runtime_core."""
    root.mkdir(parents=True)
    shutil.copy2(bootstrap, root / "bootstrap")
    shutil.copytree(
        REPO / "runtime_core",
        root / "lambdaboot" / "runtime_core",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "extensions").mkdir()
    shutil.copy2(SHIPPER, root / "extensions" / SHIPPER.name)
    return root


def test_the_example_starts_through_the_layers_bootstrap(tmp_path: Path, sink: Sink) -> None:
    task = write_function(
        tmp_path / "task", {"app.py": (SHIPPER.parent.parent / "function" / "app.py").read_text()}
    )
    config = FunctionConfig(
        command=[],
        runtime="provided.al2023",
        task_root=task,
        layers=[_runtime_layer(tmp_path / "layer", BOOTSTRAP)],
        env={**bootstrap_env(Path(sys.executable)), "SHIPPER_ENDPOINT": sink.url},
        timeout=10.0,
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({"items": ["only"]})
        assert result.json() == {"processed": 1}, result.logs
        shutdown = lam.shutdown()
    assert shutdown.shutdown_sent_to == ["telemetry-shipper"]
    messages = [r["message"] for r in sink.records() if r["kind"] == "log"]
    assert any(m.endswith("processing item only") for m in messages), messages
    assert [r["requestId"] for r in sink.records() if r["kind"] == "report"] == [
        result.report.request_id
    ]


def test_an_extension_whose_init_fails_fails_the_functions_init(tmp_path: Path) -> None:
    task = write_function(
        tmp_path / "task", {"app.py": "def handler(event, context):\n    return 'ok'\n"}
    )
    broken = write_function(
        tmp_path / "ext",
        {
            "broken.py": """
                from runtime_core.extensions import Extension
                ext = Extension("broken-one")

                @ext.on_init
                async def init(registration):
                    raise ConnectionError("cannot reach the collector")

                ext.run()
                """
        },
    )
    config = on_bootstrap(
        task, layers=[_layer(tmp_path / "layer", "broken-one", broken / "broken.py")]
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    assert result.function_error == "Unhandled"
    assert result.error_type == "Extension.ConnectionError"  # what the extension's init/error said
    assert "cannot reach the collector" in result.json()["errorMessage"]
    assert "Status: failure\tError Type: Extension.ConnectionError" in result.logs  # INIT_REPORT
