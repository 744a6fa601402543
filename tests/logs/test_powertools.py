"""Powertools for AWS Lambda's ``Logger`` works unchanged: its records appear once, as JSON."""

from __future__ import annotations

import json

import pytest

from tests.logs.helpers import run_logging

HANDLER = """
import logging
from aws_lambda_powertools import Logger

logger = Logger(service="orders")

class Context:  # the attributes Powertools reads from Lambda's context object
    function_name = "orders-fn"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"
    aws_request_id = "req-1"

@logger.inject_lambda_context
def handler(event, context):
    logger.info("order placed", extra={"order": event["order"]})
    logging.getLogger("orders.db").info("child of the service logger")
    logging.getLogger("other").info("plain stdlib")
    return "ok"

handler({"order": 7}, Context())
"""


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_powertools_records_appear_once_as_json(log_format: str) -> None:
    out = run_logging(HANDLER, log_format)
    placed = [line for line in out.lines if "order placed" in line]
    assert len(placed) == 1
    record = json.loads(placed[0])
    assert record["service"] == "orders"
    assert record["function_request_id"] == "req-1"
    assert record["order"] == 7
    # A stdlib child of the service logger goes through Powertools' handler only:
    # Powertools filters its service's records out of the root handlers, ours included.
    child = [line for line in out.lines if "child of the service logger" in line]
    assert len(child) == 1
    assert json.loads(child[0])["service"] == "orders"
    plain = [line for line in out.lines if "plain stdlib" in line]
    if log_format == "JSON":  # Lambda sets AWS_LAMBDA_LOG_LEVEL=INFO: the root logger's level
        assert len(plain) == 1
        assert json.loads(plain[0])["requestId"] == "req-1"
    else:  # no level with Text: the root logger stays at WARNING, as on AWS
        assert plain == []
    assert out.stderr == ""
