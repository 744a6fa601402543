"""Existing Lambda code runs unchanged: Powertools for AWS Lambda, and boto3 where the
managed runtimes keep it (the interpreter's own site-packages)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from local_lambda import LocalLambda
from tests.conftest import on_bootstrap, write_function

POWERTOOLS_APP = """
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    logger = Logger(service="orders")
    app = APIGatewayRestResolver()

    @app.get("/orders/<order_id>")
    def get_order(order_id):
        logger.info("looking up", extra={"order_id": order_id})
        return {"order_id": order_id, "found": True}

    @logger.inject_lambda_context
    def handler(event, context):
        return app.resolve(event, context)
"""


def rest_event(path: str) -> dict[str, object]:
    """An API Gateway REST (v1) proxy event, as Lambda delivers it."""
    return {
        "resource": "/orders/{order_id}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"order_id": path.rsplit("/", 1)[-1]},
        "stageVariables": None,
        "requestContext": {"requestId": "abc", "stage": "prod", "httpMethod": "GET", "path": path},
        "body": None,
        "isBase64Encoded": False,
    }


def test_powertools_logger_and_rest_resolver_unchanged(
    make_lambda: Callable[..., LocalLambda],
) -> None:
    lam = make_lambda({"app.py": POWERTOOLS_APP}, log_format="JSON")
    result = lam.invoke(rest_event("/orders/42"))
    response = result.json()
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"order_id": "42", "found": True}
    missing = lam.invoke({**rest_event("/nope"), "resource": "/nope", "pathParameters": None})
    assert missing.json()["statusCode"] == 404

    records = [
        json.loads(line)
        for line in result.logs.splitlines()
        if line.startswith("{") and "looking up" in line
    ]
    assert len(records) == 1, result.logs  # once: not also through the runtime's root handler
    (record,) = records
    assert record["service"] == "orders" and record["order_id"] == "42"
    assert (
        record["function_request_id"] == result.request_id
    )  # inject_lambda_context read our context
    assert record["function_memory_size"] == "128"


def test_boto3_comes_from_the_interpreters_own_site_packages(function_dir: Path) -> None:
    """On managed runtimes boto3 is in the interpreter's site-packages, after the function's
    own modules: ``import boto3`` works, and a module the function ships wins."""
    write_function(
        function_dir,
        {
            "app.py": """
                import boto3, pluggy
                def handler(event, context):
                    return {"boto3": boto3.__file__, "pluggy": pluggy.__file__}
            """,
            "pluggy.py": "# the function's own copy of a module site-packages also has\n",
        },
    )
    config = on_bootstrap(function_dir, timeout=20.0)  # .venv: has boto3 and pluggy
    with LocalLambda(config) as lam:
        result = lam.invoke({})
    assert result.function_error is None, result.payload
    found = result.json()
    site_packages = Path(sys.executable).parent.parent / "lib"
    assert Path(found["boto3"]).is_relative_to(site_packages)
    assert found["pluggy"] == str(function_dir / "pluggy.py")
