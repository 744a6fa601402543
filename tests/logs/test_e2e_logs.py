"""Application logs end to end: the real ``bootstrap`` under the local Lambda, per interpreter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import on_bootstrap, write_function

APP = """
import logging
import runtime_core

log = logging.getLogger(__name__)
slog = runtime_core.get_logger("app.structured")

def handler(event, context):
    log.debug("debug detail")
    log.info("hello %s", event["name"])
    slog.info("structured", step=2)
    log.warning("two\\nlines")
    if event.get("fail"):
        raise ValueError("boom")
    return {"ok": True}
"""

ASYNC_APP = """
import asyncio
import logging

log = logging.getLogger("async_app")

async def handler(event, context):
    await asyncio.sleep(0)
    log.info("awaited %s", event["name"])
    return "done"
"""

POWERTOOLS_APP = """
from aws_lambda_powertools import Logger

logger = Logger(service="orders")

@logger.inject_lambda_context
def handler(event, context):
    logger.info("order placed", extra={"order": event["order"]})
    return "ok"
"""

LAZY_APP = """
import sys

def handler(event, context):
    imported_before = "logging" in sys.modules
    import logging  # first imported here, mid-invocation

    logging.getLogger("late").info("late import")
    return imported_before
"""


def app_lines(logs: str) -> list[str]:
    """The function's own lines: what lies between START and END (Text) or is not platform.*."""
    lines = [line for line in logs.split("\n") if line]
    return [
        line
        for line in lines
        if not line.startswith(("INIT_START", "START", "END", "REPORT", '{"time"'))
    ]


def config(function_dir: Path, python: Path, source: str, **settings: Any) -> FunctionConfig:
    write_function(function_dir, {"app.py": source})
    return on_bootstrap(function_dir, python, handler="app.handler", **settings)


def test_text_format_end_to_end(function_dir: Path, runtime_python: Path) -> None:
    with LocalLambda(config(function_dir, runtime_python, APP, log_format="Text")) as lam:
        ok = lam.invoke({"name": "ada"})
        failed = lam.invoke({"name": "bob", "fail": True})
    lines = app_lines(ok.logs)
    fields = [line.split("\t") for line in lines]
    # No AWS_LAMBDA_LOG_LEVEL with Text: Python's WARNING default, as on AWS (no INFO lines).
    assert [f[0] for f in fields] == ["[WARNING]"]
    assert {f[2] for f in fields} == {ok.request_id}
    assert [f[3] for f in fields] == ["two\rlines"]

    error_lines = [line for line in app_lines(failed.logs) if line.startswith("[ERROR]")]
    assert len(error_lines) == 1
    parts = error_lines[0].split("\r")
    assert parts[:2] == ["[ERROR] ValueError: boom", "Traceback (most recent call last):"]
    assert any("in handler" in part for part in parts)


def test_json_format_end_to_end(function_dir: Path, runtime_python: Path) -> None:
    cfg = config(function_dir, runtime_python, APP, log_format="JSON", log_level="DEBUG")
    with LocalLambda(cfg) as lam:
        ok = lam.invoke({"name": "ada"})
        failed = lam.invoke({"name": "bob", "fail": True})
    records = [json.loads(line) for line in app_lines(ok.logs)]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("DEBUG", "app", "debug detail"),
        ("INFO", "app", "hello ada"),
        ("INFO", "app.structured", "structured"),
        ("WARNING", "app", "two\nlines"),
    ]
    assert {r["requestId"] for r in records} == {ok.request_id}
    assert records[2]["step"] == 2

    errors = [json.loads(line) for line in app_lines(failed.logs)]
    errors = [r for r in errors if r.get("errorType")]
    assert len(errors) == 1
    assert errors[0]["level"] == "ERROR"
    assert (errors[0]["errorMessage"], errors[0]["requestId"]) == ("boom", failed.request_id)
    assert errors[0]["stackTrace"]


@pytest.mark.parametrize(("log_level", "shown"), [(None, 3), ("ERROR", 0), ("TRACE", 4)])
def test_log_level_end_to_end(
    function_dir: Path, runtime_python: Path, log_level: str | None, shown: int
) -> None:
    cfg = config(function_dir, runtime_python, APP, log_format="JSON", log_level=log_level)
    with LocalLambda(cfg) as lam:
        result = lam.invoke({"name": "ada"})
    assert len(app_lines(result.logs)) == shown


def test_async_handler_logs_carry_their_request_id(
    function_dir: Path, runtime_python: Path
) -> None:
    with LocalLambda(config(function_dir, runtime_python, ASYNC_APP, log_format="JSON")) as lam:
        results = [lam.invoke({"name": n}) for n in ("a", "b")]
    for result, name in zip(results, ("a", "b"), strict=True):
        assert result.payload == b'"done"', result.logs
        records = [json.loads(line) for line in app_lines(result.logs)]
        assert [(r["message"], r["requestId"]) for r in records] == [
            (f"awaited {name}", result.request_id)
        ]


def test_powertools_logger_end_to_end(function_dir: Path, runtime_python: Path) -> None:
    with LocalLambda(
        config(function_dir, runtime_python, POWERTOOLS_APP, log_format="JSON")
    ) as lam:
        result = lam.invoke({"order": 7})
    lines = app_lines(result.logs)
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert (record["message"], record["service"], record["order"]) == ("order placed", "orders", 7)
    assert record["function_request_id"] == result.request_id


def test_logging_is_not_imported_for_a_handler_that_never_imports_it(
    function_dir: Path, runtime_python: Path
) -> None:
    with LocalLambda(config(function_dir, runtime_python, LAZY_APP, log_format="JSON")) as lam:
        result = lam.invoke({})
    assert result.json() is False  # the runtime itself did not import logging
    records = [json.loads(line) for line in app_lines(result.logs)]
    assert [(r["message"], r["requestId"]) for r in records] == [("late import", result.request_id)]
