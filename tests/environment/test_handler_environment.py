"""The handler's environment is the one AWS gives in that mode, variable for variable.

Managed mode (a python3.x runtime with ``AWS_LAMBDA_EXEC_WRAPPER``): what a handler sees
under lambdaboot is what it sees under awslambdaric, the client AWS ships there, given
the same environment by the local Lambda. Provided mode (``provided.*``): what the local
Lambda gives the runtime, untouched (again compared with awslambdaric started as a
custom runtime). In both, a program the handler starts sees Lambda's ``PYTHONPATH``,
while the handler's own ``sys.path`` still finds the task root and /opt/python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, REPO, RUNTIME_PYTHONS, bootstrap_env, write_function

APP = """
import os, subprocess, sys

def handler(event, context):
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('PYTHONPATH', '<unset>'))"],
        capture_output=True, text=True,
    )
    return {"env": dict(os.environ), "child_pythonpath": child.stdout.strip(), "path": sys.path}
"""

# Per environment or per invocation by nature: never equal across two environments.
VARYING = ("AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_RUNTIME_API")


def seen(config: FunctionConfig) -> dict[str, Any]:
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    assert result.function_error is None, result.logs
    answer: dict[str, Any] = result.json()
    for name in VARYING:
        answer["env"].pop(name, None)
    return answer


def version_of(python: Path) -> str:
    return next(v for v, p in RUNTIME_PYTHONS.items() if p == python)


def test_managed_mode_environment_is_awslambdarics(
    function_dir: Path, runtime_python: Path
) -> None:
    write_function(function_dir, {"app.py": APP})
    runtime = f"python{version_of(runtime_python)}"

    def managed(env: dict[str, str]) -> dict[str, Any]:
        return seen(FunctionConfig(command=[], runtime=runtime, task_root=function_dir, env=env))

    own = {"python": "mine", "here": "there"}  # names a shell script might use for itself
    theirs = managed(own)
    ours = managed({**own, "AWS_LAMBDA_EXEC_WRAPPER": str(REPO / "exec-wrapper")})
    assert ours["env"].pop("AWS_LAMBDA_EXEC_WRAPPER") == str(REPO / "exec-wrapper")
    assert ours["env"] == theirs["env"]
    assert not [name for name in ours["env"] if name.startswith("LAMBDABOOT_")]
    assert "_LAMBDA_TELEMETRY_LOG_FD" not in ours["env"]
    assert ours["child_pythonpath"] == theirs["child_pythonpath"] == ours["env"]["PYTHONPATH"]
    task_root = ours["env"]["LAMBDA_TASK_ROOT"]
    assert ours["path"][0] == task_root


def test_provided_mode_environment_is_lambdas(function_dir: Path, runtime_python: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    # Names a shell script might use for itself: the function's own values must arrive.
    env = {**bootstrap_env(runtime_python), "python": "mine", "here": "there", "need": "x"}
    ours = seen(FunctionConfig(command=[str(BOOTSTRAP)], task_root=function_dir, env=env))
    awslambdaric = [str(runtime_python), "-m", "awslambdaric", "app.handler"]
    theirs = seen(FunctionConfig(command=awslambdaric, task_root=function_dir, env=env))
    assert ours["env"] == theirs["env"]
    assert "PYTHONPATH" not in ours["env"]  # an OS-only runtime is given none
    assert (ours["env"]["python"], ours["env"]["here"], ours["env"]["need"]) == (
        "mine",
        "there",
        "x",
    )
    assert ours["child_pythonpath"] == "<unset>"
    assert ours["path"][0] == str(function_dir)
    assert ours["path"].index("/opt/python") > 0
