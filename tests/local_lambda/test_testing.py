"""``local_lambda.testing``, used as a user would: the context manager and the pytest fixture."""

from __future__ import annotations

from pathlib import Path

from local_lambda.testing import LambdaFactory, local_lambda
from tests.conftest import write_function
from tests.local_lambda.conftest import AWSLAMBDARIC

APP = """
def handler(event, context):
    return {"hello": event["name"], "request_id": context.aws_request_id}
"""


def test_the_context_manager_runs_a_function_and_ends_its_environment(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    with local_lambda(command=[*AWSLAMBDARIC, "app.handler"], task_root=function_dir) as lam:
        result = lam.invoke({"name": "Ada"})
        assert result.json() == {"hello": "Ada", "request_id": result.request_id}
    assert "REPORT RequestId: " + result.request_id in lam.output
    assert lam.shutdown().ran is False  # closed: its environment is gone


def test_the_fixture_is_there_without_any_import(
    local_lambda_factory: LambdaFactory, function_dir: Path
) -> None:
    write_function(function_dir, {"app.py": APP})
    lam = local_lambda_factory(command=[*AWSLAMBDARIC, "app.handler"], task_root=function_dir)
    first, second = lam.invoke({"name": "a"}), lam.invoke({"name": "b"})
    assert first.report is not None and first.report.init_duration_ms is not None
    assert second.report is not None and second.report.init_duration_ms is None  # warm
