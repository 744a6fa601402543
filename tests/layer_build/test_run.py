"""Built layers and function packages run in the local Lambda, read-only, as Lambda runs them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.conftest import lambdaboot, write_function
from tests.layer_build.conftest import WRAPPER_ENV, invoke

# Reports who serves the invocation: lambdaboot's runtime from /opt, and on which interpreter.
WHO = """
    import os, sys

    def handler(event, context):
        import runtime_core
        return {
            "runtime": runtime_core.__file__,
            "ric_loaded": "awslambdaric" in sys.modules,
            "python": "%d.%d" % sys.version_info[:2],
            "executable": sys.executable,
            "chained": os.environ.get("CHAINED_BY"),
            "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
            "request_id": context.aws_request_id,
        }
"""


def test_managed_mode_takes_over_the_python312_runtime(
    built_layer: Path, function_dir: Path
) -> None:
    write_function(function_dir, {"app.py": WHO})
    payload, logs, error = invoke(function_dir, [built_layer], "python3.12", env=WRAPPER_ENV)
    assert error is None, logs
    assert payload["runtime"] == "/opt/lambdaboot/runtime_core/__init__.py"
    assert payload["ric_loaded"] is False, "the managed runtime's own client never started"
    assert payload["python"] == "3.12"
    assert payload["exec_env"] == "AWS_Lambda_python3.12"


def test_provided_mode_runs_on_the_embedded_interpreter(
    provided_layer: Path, function_dir: Path
) -> None:
    write_function(function_dir, {"app.py": WHO})
    payload, logs, error = invoke(function_dir, [provided_layer], "provided.al2023")
    assert error is None, logs
    assert payload["executable"] == "/opt/python-runtime/bin/python3"
    assert payload["runtime"] == "/opt/lambdaboot/runtime_core/__init__.py"
    assert payload["python"] == "3.12"


def test_wrapper_chains_to_another_layers_wrapper(
    built_layer: Path, function_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "observability.zip"
    with zipfile.ZipFile(other, "w") as archive:
        info = zipfile.ZipInfo("otel-wrapper")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, '#!/bin/sh\nCHAINED_BY=otel-wrapper\nexport CHAINED_BY\nexec "$@"\n')
    write_function(function_dir, {"app.py": WHO})
    env = {**WRAPPER_ENV, "LAMBDABOOT_NEXT_WRAPPER": "/opt/otel-wrapper"}
    payload, logs, error = invoke(function_dir, [built_layer, other], "python3.12", env=env)
    assert error is None, logs
    assert payload["chained"] == "otel-wrapper"
    assert payload["runtime"] == "/opt/lambdaboot/runtime_core/__init__.py"


# Hooks as a function using Powertools writes them: its Logger in each.
SNAPSHOT_HOOKS = """
    import os, sys
    from aws_lambda_powertools import Logger
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    logger = Logger(service="hooks")
    SEEN = []
    INIT_PID = os.getpid()

    @register_before_snapshot
    def before():
        logger.info("before snapshot")
        SEEN.append(("before", os.getpid()))

    @register_after_restore
    def after():
        logger.info("after restore")
        SEEN.append(("after", os.getpid()))

    @logger.inject_lambda_context
    def handler(event, context):
        import runtime_core
        return {
            "seen": SEEN,
            "init_pid": INIT_PID,
            "pid": os.getpid(),
            "runtime": runtime_core.__file__,
            "ric_loaded": "awslambdaric" in sys.modules,
        }
"""


def test_wrapper_keeps_snapstart_on_the_python312_runtime(
    built_layer: Path, function_dir: Path
) -> None:
    """Managed mode with SnapStart on: lambdaboot (not awslambdaric) runs the hooks, the
    before-snapshot one in the process that ran init, the after-restore one in its fork."""
    write_function(function_dir, {"app.py": SNAPSHOT_HOOKS})
    payload, logs, error = invoke(
        function_dir, [built_layer], "python3.12", env=WRAPPER_ENV, snap_start=True
    )
    assert error is None, logs
    assert payload["runtime"] == "/opt/lambdaboot/runtime_core/__init__.py"
    assert payload["ric_loaded"] is False
    init_pid, pid = payload["init_pid"], payload["pid"]
    assert pid != init_pid
    assert payload["seen"] == [["before", init_pid], ["after", pid]]
    assert "Restore Duration: " in logs
    # Powertools' records, each in its phase: before the snapshot in init, after it in restore
    lines = logs.splitlines()

    def where(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    assert json.loads(lines[where('"before snapshot"')])["service"] == "hooks"
    assert where('"before snapshot"') < where("INIT_REPORT") < where("RESTORE_START")
    assert where("RESTORE_START") < where('"after restore"') < where("RESTORE_REPORT")


def test_function_package_with_dependencies_runs_read_only(
    built_layer: Path, tmp_path: Path, wheel_cache: Path
) -> None:
    source = write_function(
        tmp_path / "fn",
        {
            "app.py": """
            import structlog, sys

            def handler(event, context):
                return {"structlog": structlog.__file__, \
"version": structlog.__version__ if hasattr(structlog, "__version__") else None}
        """,
            "requirements.txt": "structlog==26.1.0\n",
        },
    )
    done = lambdaboot(
        "build",
        "--function",
        str(source),
        "-r",
        str(source / "requirements.txt"),
        "--out",
        str(tmp_path / "dist"),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    package = tmp_path / "dist" / "fn-py312-x86_64.zip"
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {
        "app.py",
        "__pycache__/app.cpython-312.pyc",
        "structlog/__init__.py",
        "structlog/__pycache__/__init__.cpython-312.pyc",
    } <= names
    payload, logs, error = invoke(package, [built_layer], "python3.12", env=WRAPPER_ENV)
    assert error is None, logs
    assert payload["structlog"] == "/var/task/structlog/__init__.py", "the package's copy wins"
