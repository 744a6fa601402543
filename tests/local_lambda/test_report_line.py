"""The REPORT line (Text) and the platform.report record (JSON) of a ``--runtime python3.x``
function, for the three ways an invocation can go wrong, exactly as Lambda writes them.

Sources (read 2026-12; AWS does not document the line's status fields in prose):

- CloudWatch REPORT lines of python3.9-3.12 functions captured in April 2026, all from one
  account and one tool: a handler's exception (``[ERROR] ClientError ...``, posted by the
  runtime as ``/error``) ends the line at ``Max Memory Used: 111 MB`` with no status, while
  an invoke-phase failure in the same capture ends
  ``Max Memory Used: 39 MB\\tStatus: error\\tError Type: Runtime.ImportModuleError``;
- CloudWatch lines of 2025-2026 with tabs kept: a timeout ends
  ``Max Memory Used: 1024 MB\\tStatus: timeout`` (no error type, no trailing tab), an
  out-of-memory exit ``...\\tStatus: error\\tError Type: Runtime.OutOfMemory``, a success
  ``Init Duration: 423.98 ms\\t`` (trailing tab);
- a JSON-format timeout of July 2026:
  ``{"type":"platform.report","record":{"requestId":...,"metrics":{...},"status":"timeout"}}``
  (no errorType);
- AWS's open-source RAPID (aws-lambda-runtime-interface-emulator, internal/lambda/rapid/
  handlers.go): the runtime's answer, ``/response`` or ``/error``, ends the invocation with
  runtimeDone status ``success``; a reset for a timeout sends ``timeout`` with no error type;
  a reset for a runtime that exited sends ``error`` with its first fatal error
  (``Runtime.ExitError``);
- its Managed Instances code (internal/lambda-managed-instances: invoke/metrics.go
  ``SendInvokeFinishedEvent``, interop/error_utils.go ``BuildStatusFromError``) differs:
  there the runtime's ``/error`` is a customer error, so platform.report says
  ``"status": "error"`` with the posted type (``Runtime.Unknown`` when, as from
  awslambdaric, no error-type header came).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.conftest import BOOTSTRAP, bootstrap_env, write_function

HANDLERS = """
    import os, time

    def handler(event, context):
        if event["do"] == "raise":
            raise ValueError("handled by the runtime")
        if event["do"] == "exit":
            os._exit(3)
        time.sleep(30)
"""
ID = r"[0-9a-f-]{36}"
HEAD = rf"REPORT RequestId: {ID}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
HEAD += r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(?:Init Duration: [\d.]+ ms\t)?"
TEXT = {
    "raise": HEAD,  # plain, ending in a tab, as for a success
    "exit": HEAD + r"Status: error\tError Type: Runtime\.ExitError",
    "sleep": HEAD + r"Status: timeout",
}
RECORD = {  # the platform.report record's status fields
    "raise": {"status": "success"},
    "exit": {"status": "error", "errorType": "Runtime.ExitError"},
    "sleep": {"status": "timeout"},
}


@pytest.fixture
def lam_for(
    function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> Callable[[str], LocalLambda]:
    write_function(function_dir, {"app.py": HANDLERS})

    def make(log_format: str) -> LocalLambda:
        return open_lambda(
            command=[], task_root=function_dir, runtime="python3.12", timeout=1.0,
            log_format=log_format,
        )  # fmt: skip

    return make


def _report_lines(logs: str) -> list[str]:
    return [line for line in logs.split("\n") if line.startswith("REPORT ")]


def test_text_report_lines(lam_for: Callable[[str], LocalLambda]) -> None:
    lam = lam_for("Text")
    for event, shape in TEXT.items():  # the first cold, the next warm, the last after a reset
        result = lam.invoke({"do": event})
        assert result.function_error == "Unhandled", event
        [line] = _report_lines(result.logs)
        assert re.fullmatch(shape, line), (event, line)
        assert json.loads(result.payload)["errorType"] == {
            "raise": "ValueError", "exit": "Runtime.ExitError", "sleep": "Sandbox.Timedout",
        }[event]  # fmt: skip


def test_json_platform_report_records(lam_for: Callable[[str], LocalLambda]) -> None:
    lam = lam_for("JSON")
    for event, fields in RECORD.items():
        result = lam.invoke({"do": event})
        records = [json.loads(x) for x in result.logs.split("\n") if '"platform.report"' in x]
        [report] = [r["record"] for r in records if r.get("type") == "platform.report"]
        assert {k: report[k] for k in ("status", "errorType") if k in report} == fields, event
        assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(
            report["metrics"]
        )


def test_managed_instances_report_a_posted_error_as_an_error(
    function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> None:
    write_function(function_dir, {"app.py": HANDLERS})
    lam = open_lambda(
        command=[str(BOOTSTRAP)], task_root=function_dir, env=bootstrap_env(Path(sys.executable)),
        max_concurrency=2,
    )  # fmt: skip
    result = lam.invoke({"do": "raise"})
    assert result.function_error == "Unhandled"
    records = [json.loads(x) for x in result.logs.split("\n") if '"platform.report"' in x]
    [report] = [r["record"] for r in records if r.get("type") == "platform.report"]
    assert (report["status"], report["errorType"]) == ("error", "Runtime.Unknown")
