"""The runtime's own records: a handler's exception and the runtime's messages."""

from __future__ import annotations

import json

from tests.logs.helpers import run_logging

STACK = (
    "stack = ['  File \"/var/task/app.py\", line 3, in handler\\n    charge(event)\\n',"
    ' \'  File "/var/task/pay.py", line 9, in charge\\n    raise ValueError("no")\\n\']\n'
)


def test_invocation_error_in_text_mode_is_one_cloudwatch_event() -> None:
    out = run_logging(STACK + "_logs.log_invocation_error('ValueError', 'card declined', stack)")
    assert len(out.lines) == 1
    assert out.lines[0].split("\r") == [
        "[ERROR] ValueError: card declined",
        "Traceback (most recent call last):",
        '\u00a0\u00a0File "/var/task/app.py", line 3, in handler',
        "\u00a0\u00a0\u00a0\u00a0charge(event)",
        '\u00a0\u00a0File "/var/task/pay.py", line 9, in charge',
        '\u00a0\u00a0\u00a0\u00a0raise ValueError("no")',
    ]


def test_invocation_error_in_json_mode() -> None:
    out = run_logging(
        STACK + "_logs.log_invocation_error('ValueError', 'card declined', stack)",
        "JSON",
        tenant_id="t-7",
    )
    record = json.loads(out.lines[0])
    assert record.pop("timestamp").endswith("Z")
    # awslambdaric's log_error: the /error payload after timestamp and level, in that
    # order, and no tenantId (its application records have one; this record does not).
    assert list(record) == ["level", "errorMessage", "errorType", "requestId", "stackTrace"]
    assert record == {
        "level": "ERROR",
        "errorType": "ValueError",
        "errorMessage": "card declined",
        "requestId": "req-1",
        "stackTrace": [
            '  File "/var/task/app.py", line 3, in handler\n    charge(event)\n',
            '  File "/var/task/pay.py", line 9, in charge\n    raise ValueError("no")\n',
        ],
    }


def test_invocation_error_is_logged_whatever_the_level() -> None:
    out = run_logging("_logs.log_invocation_error('Boom', '', [])", log_level="FATAL")
    # awslambdaric writes the Traceback line even when there are no frames.
    assert out.lines == ["[ERROR] Boom\rTraceback (most recent call last):"]


def test_runtime_log_is_level_filtered_and_names_the_runtime() -> None:
    out = run_logging(
        "_logs.runtime_log('INFO', 'hidden')\n_logs.runtime_log('WARN', 'API answered 413')",
        "JSON",
        "WARN",
        invocation=False,
    )
    assert len(out.lines) == 1
    record = json.loads(out.lines[0])
    assert (record["level"], record["logger"], record["message"]) == (
        "WARNING",
        "lambdaboot",
        "API answered 413",
    )


def test_bad_settings_are_named_and_fall_back() -> None:
    out = run_logging(
        "import logging\nlogging.warning('still logged')", "xml", "LOUD", invocation=False
    )
    assert "AWS_LAMBDA_LOG_FORMAT='xml' is not Text or JSON" in out.lines[0]
    assert "AWS_LAMBDA_LOG_LEVEL='LOUD' is not one of TRACE" in out.lines[1]
    assert out.lines[2].startswith("[WARNING]\t")
    assert out.lines[2].endswith("\tstill logged")
