"""``runtime_core.get_logger()``: structlog records rendered like stdlib ones."""

from __future__ import annotations

import json

import pytest

from tests.logs.helpers import run_logging


def test_json_structlog_and_stdlib_records_have_the_same_shape() -> None:
    out = run_logging(
        """
        import logging
        import runtime_core
        logging.getLogger("orders").info("placed", extra={"order": 42})
        runtime_core.get_logger("orders").info("placed", order=42)
        """,
        "JSON",
        tenant_id="t-1",
    )
    stdlib, structured = (json.loads(line) for line in out.lines)
    assert stdlib.keys() == structured.keys()
    for record in (stdlib, structured):
        assert record.pop("timestamp").endswith("Z")
    assert (
        stdlib
        == structured
        == {
            "level": "INFO",
            "message": "placed",
            "logger": "orders",
            "requestId": "req-1",
            "tenantId": "t-1",
            "order": 42,
        }
    )


def test_text_structlog_record_shows_its_fields_after_the_message() -> None:
    out = run_logging(
        """
        import runtime_core
        log = runtime_core.get_logger("orders", service="shop")
        log.warning("slow\\npayment", ms=950)
        """
    )
    assert len(out.lines) == 1
    level, timestamp, request_id, message = out.lines[0].split("\t")
    assert (level, request_id) == ("[WARNING]", "req-1")
    assert timestamp.endswith("Z")
    assert message == "slow\rpayment service=shop ms=950"


@pytest.mark.parametrize(
    ("log_level", "expected"),
    [
        ("INFO", ["INFO", "ERROR"]),  # what Lambda sets with the JSON format
        (None, ["ERROR"]),  # not set: WARNING, like a stdlib logger under the untouched root
        ("DEBUG", ["DEBUG", "INFO", "ERROR"]),
        ("ERROR", ["ERROR"]),
    ],
)
def test_structlog_filters_at_the_runtime_level(log_level: str | None, expected: list[str]) -> None:
    out = run_logging(
        """
        import runtime_core
        log = runtime_core.get_logger()
        log.debug("d"); log.info("i"); log.error("e")
        """,
        "JSON",
        log_level,
    )
    assert [json.loads(line)["level"] for line in out.lines] == expected
    assert all("logger" not in json.loads(line) for line in out.lines)


def test_structlog_exception_fields_match_the_stdlib_ones() -> None:
    out = run_logging(
        """
        import logging
        import runtime_core
        try:
            int("x")
        except ValueError:
            logging.getLogger("app").exception("bad input")
            runtime_core.get_logger("app").exception("bad input")
        """,
        "JSON",
    )
    stdlib, structured = (json.loads(line) for line in out.lines)
    for record in (stdlib, structured):
        record.pop("timestamp")
        record.pop("location")  # each names its own call site
    assert stdlib == structured
    assert structured["errorType"] == "ValueError"
    assert structured["stackTrace"] and structured["level"] == "ERROR"


def test_structlog_is_imported_on_first_use_only_and_global_config_is_left_alone() -> None:
    out = run_logging(
        """
        import sys
        import runtime_core
        print("structlog" in sys.modules)
        runtime_core.get_logger().warning("hi")
        import structlog
        print(structlog.is_configured())
        """
    )
    assert out.lines[0] == "False"
    assert out.lines[1].endswith("\thi")
    assert out.lines[2] == "False"


def test_bound_values_and_contextvars_reach_the_record() -> None:
    out = run_logging(
        """
        import runtime_core, structlog
        structlog.contextvars.bind_contextvars(cart="c-1")
        runtime_core.get_logger("shop").bind(user="u-2").info("checkout")
        """,
        "JSON",
    )
    record = json.loads(out.lines[0])
    assert (record["cart"], record["user"], record["logger"]) == ("c-1", "u-2", "shop")
