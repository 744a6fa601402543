"""The stdlib ``logging`` front door: what a handler author sees with no configuration."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.logs.helpers import run_logging

TEXT_LINE = re.compile(
    r"^\[(?P<level>[A-Z]+)\]\t(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t(?P<rid>[^\t]*)\t(?P<msg>.*)$"
)


def parse_text(line: str) -> dict[str, str]:
    match = TEXT_LINE.match(line)
    assert match, f"not a Lambda Text line: {line!r}"
    return match.groupdict()


def test_unchanged_handler_text_mode_keeps_pythons_warning_default_as_awslambdaric() -> None:
    out = run_logging(
        """
        import logging
        logging.getLogger("botocore.credentials").info("Found credentials in environment")
        logging.info("hidden")
        logging.getLogger("app").warning("shown")
        print(logging.getLogger().level)
        """
    )
    assert [parse_text(line)["msg"] for line in out.lines[:-1]] == ["shown"]
    assert out.lines[-1] == "30"  # the root logger's level was left alone


def test_root_logger_info_prints_one_text_line_with_request_id() -> None:
    out = run_logging(
        "import logging\nlogging.getLogger().setLevel(logging.INFO)\n"
        "logging.getLogger().info('hello %s', 'world')"
    )
    assert len(out.lines) == 1
    record = parse_text(out.lines[0])
    assert record == {**record, "level": "INFO", "rid": "req-1", "msg": "hello world"}
    logged_at = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(logged_at.timestamp() - time.time()) < 120  # UTC, not local time
    assert out.stderr == ""


def test_named_logger_warning_and_no_request_id_outside_an_invocation() -> None:
    out = run_logging(
        "import logging\nlogging.getLogger('app.db').warning('slow query')", invocation=False
    )
    record = parse_text(out.lines[0])
    assert (record["level"], record["rid"], record["msg"]) == ("WARNING", "", "slow query")


@pytest.mark.parametrize(
    ("log_level", "expected"),
    [
        (None, ["WARNING", "ERROR", "CRITICAL"]),
        ("TRACE", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
        ("debug", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
        ("INFO", ["INFO", "WARNING", "ERROR", "CRITICAL"]),
        ("WARN", ["WARNING", "ERROR", "CRITICAL"]),
        ("ERROR", ["ERROR", "CRITICAL"]),
        ("FATAL", ["CRITICAL"]),
    ],
)
def test_aws_lambda_log_level_filters_records(log_level: str | None, expected: list[str]) -> None:
    out = run_logging(
        """
        import logging
        log = logging.getLogger("app")
        for name in ("debug", "info", "warning", "error", "critical"):
            getattr(log, name)(name)
        """,
        log_level=log_level,
    )
    assert [parse_text(line)["level"] for line in out.lines] == expected


def test_explicit_level_is_a_floor_even_for_a_more_verbose_logger() -> None:
    out = run_logging(
        """
        import logging
        log = logging.getLogger("chatty")
        log.setLevel(logging.DEBUG)
        log.debug("dropped")
        log.error("kept")
        """,
        log_level="ERROR",
    )
    assert [parse_text(line)["msg"] for line in out.lines] == ["kept"]


def test_multi_line_message_stays_one_text_record() -> None:
    out = run_logging("import logging\nlogging.warning('first\\nsecond\\nthird')")
    assert len(out.lines) == 1
    assert parse_text(out.lines[0])["msg"] == "first\rsecond\rthird"


def test_exception_in_text_mode_is_one_record_with_the_traceback() -> None:
    out = run_logging(
        """
        import logging
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("app").exception("lookup failed")
        """
    )
    assert len(out.lines) == 1
    parts = parse_text(out.lines[0])["msg"].split("\r")
    assert parts[0] == "lookup failed"
    assert parts[1] == "Traceback (most recent call last):"
    assert parts[-1] == "KeyError: 'missing'"


def test_json_record_fields() -> None:
    out = run_logging(
        "import logging\nlogging.getLogger('app').info('paid %d', 3, extra={'order': 'o-9'})",
        "json",
        tenant_id="tenant-a",
    )
    record = json.loads(out.lines[0])
    assert record.pop("timestamp").endswith("Z")
    assert record == {
        "level": "INFO",
        "message": "paid 3",
        "logger": "app",
        "requestId": "req-1",
        "tenantId": "tenant-a",
        "order": "o-9",
    }


def test_json_without_tenant_or_invocation() -> None:
    out = run_logging("import logging\nlogging.error({'kind': 'dict'})", "JSON", invocation=False)
    record = json.loads(out.lines[0])
    assert "tenantId" not in record
    assert record["requestId"] == ""
    assert record["message"] == {"kind": "dict"}  # a dict message stays structured
    assert record["logger"] == "root"


def test_json_exception_fields() -> None:
    out = run_logging(
        """
        import logging
        def charge():
            raise ValueError("card declined\\nretry later")
        try:
            charge()
        except ValueError:
            logging.getLogger("pay").exception("charge failed")
        """,
        "JSON",
    )
    assert len(out.lines) == 1
    record = json.loads(out.lines[0])
    assert record["level"] == "ERROR"
    assert record["message"] == "charge failed"
    assert record["errorType"] == "ValueError"
    assert record["errorMessage"] == "card declined\nretry later"
    assert any("in charge" in frame for frame in record["stackTrace"])
    assert record["location"].startswith("<string>:<module>:")  # where logging was called


def test_json_unserialisable_extra_is_stringified_not_dropped() -> None:
    out = run_logging(
        """
        import logging
        loop = []
        loop.append(loop)
        logging.info("x", extra={"when": object, "big": 2**70})
        logging.info("y", extra={"loop": loop})
        """,
        "JSON",
    )
    first, second = (json.loads(line) for line in out.lines)
    assert first["when"] == "<class 'object'>"
    assert first["big"] == 2**70
    assert (second["message"], second["loop"]) == ("y", "[[...]]")
    assert out.stderr == ""


def test_basic_config_is_a_no_op_as_on_aws() -> None:
    out = run_logging(
        """
        import logging
        logging.basicConfig(level=logging.DEBUG, format="%(message)s")
        logging.info("not shown: basicConfig did not set the level either")
        logging.warning("still Lambda's format")
        """
    )
    assert parse_text(out.lines[0])["msg"] == "still Lambda's format"
    assert len(out.lines) == 1
    assert out.stderr == ""


def test_users_own_handler_gets_the_record_and_lambda_still_prints_it_once() -> None:
    out = run_logging(
        """
        import logging, sys
        log = logging.getLogger("app")
        mine = logging.StreamHandler(sys.stderr)
        mine.setFormatter(logging.Formatter("mine: %(message)s"))
        log.addHandler(mine)
        log.warning("hello")
        """
    )
    assert out.stderr == "mine: hello\n"
    assert [parse_text(line)["msg"] for line in out.lines] == ["hello"]


def test_users_formatter_on_the_lambda_handler_can_use_aws_request_id() -> None:
    out = run_logging(
        """
        import logging
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logging.Formatter("%(levelname)s %(aws_request_id)s %(message)s"))
        logging.warning("custom\\nformat")
        """
    )
    assert out.lines == ["WARNING req-1 custom\rformat"]


def test_logging_imported_before_install_still_gets_the_bridge() -> None:
    out = run_logging(
        "import logging\nlogging.getLogger('early')", install_first=False, invocation=False
    )
    assert out.lines == []
    out = run_logging(
        """
        import logging
        import runtime_core.logs as logs
        logs.install("JSON", "INFO")
        logging.info("after")
        """,
        install_first=False,
        invocation=False,
    )
    assert json.loads(out.lines[-1])["message"] == "after"
    assert len(out.lines) == 1


def test_install_imports_neither_logging_nor_structlog_nor_asyncio() -> None:
    out = run_logging(
        """
        import sys
        print(sorted(m for m in ("logging", "structlog", "asyncio") if m in sys.modules))
        """,
        "JSON",
        "DEBUG",
    )
    assert out.lines == ["[]"]


def test_asyncio_importing_logging_attaches_the_bridge() -> None:
    out = run_logging(
        """
        import asyncio, logging
        asyncio.run(asyncio.sleep(0))
        logging.getLogger("x").warning("bridged")
        print(len(logging.getLogger().handlers))
        """
    )
    assert parse_text(out.lines[0])["msg"] == "bridged"
    assert out.lines[1] == "1"


def test_bridge_and_structlog_on_each_supported_interpreter(runtime_python: Path) -> None:
    out = run_logging(
        """
        import logging, runtime_core
        logging.getLogger("app").info("from logging")
        runtime_core.get_logger("app").info("from structlog")
        """,
        "JSON",
        python=runtime_python,
    )
    records = [json.loads(line) for line in out.lines]
    assert [(r["message"], r["logger"], r["requestId"]) for r in records] == [
        ("from logging", "app", "req-1"),
        ("from structlog", "app", "req-1"),
    ]
