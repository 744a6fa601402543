"""The invoke API answers as AWS's Invoke does (API_Invoke reference), through boto3:
bad payloads, names, qualifiers, ARNs, the asynchronous payload limit, request ids."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from local_lambda import LocalLambda
from tests.conftest import lambda_client

APP = """
    def handler(event, context):
        if isinstance(event, dict) and event.get("mark"):
            open(event["mark"], "w").write("called")
        return {"event": event}
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:test-function"


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_invalid_json_is_refused_without_calling_the_handler(
    ric_lambda: Callable[..., LocalLambda], tmp_path: Path
) -> None:
    lam = ric_lambda(APP)
    status, code, message = _error(
        lambda: lambda_client(lam.endpoint).invoke(
            FunctionName="test-function", Payload=b'{"mark": "x"'
        )
    )
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json")
    assert not (tmp_path / "x").exists()


def test_no_payload_gives_the_handler_an_empty_object(
    ric_lambda: Callable[..., LocalLambda],
) -> None:
    lam = ric_lambda(APP)
    resp = lambda_client(lam.endpoint).invoke(FunctionName="test-function")
    assert json.loads(resp["Payload"].read()) == {"event": {}}
    assert uuid.UUID(resp["ResponseMetadata"]["RequestId"]).version == 4


@pytest.mark.parametrize(
    ("name", "qualifier"),
    [
        ("test-function:$LATEST", None),
        ("test-function", "$LATEST"),
        (ARN, None),
        (ARN + ":$LATEST", None),
        ("123456789012:function:test-function", None),
    ],
)
def test_names_and_qualifiers_that_reach_the_function(
    ric_lambda: Callable[..., LocalLambda], name: str, qualifier: str | None
) -> None:
    lam = ric_lambda(APP)
    extra = {"Qualifier": qualifier} if qualifier else {}
    resp = lambda_client(lam.endpoint).invoke(FunctionName=name, Payload=b"[1]", **extra)
    assert resp["StatusCode"] == 200 and json.loads(resp["Payload"].read()) == {"event": [1]}


@pytest.mark.parametrize(
    ("name", "qualifier", "expected"),
    [
        ("test-function:prod", None, (404, "ResourceNotFoundException", f"{ARN}:prod")),
        ("test-function", "7", (404, "ResourceNotFoundException", f"{ARN}:7")),
        ("other-function", None, (404, "ResourceNotFoundException", "function:other-function")),
        (
            "arn:aws:lambda:us-east-1:210987654321:function:test-function",
            None,
            (403, "AccessDeniedException", "not authorized to perform: lambda:InvokeFunction"),
        ),
    ],
)
def test_names_that_do_not(
    ric_lambda: Callable[..., LocalLambda],
    name: str,
    qualifier: str | None,
    expected: tuple[int, str, str],
) -> None:
    lam = ric_lambda(APP)
    extra = {"Qualifier": qualifier} if qualifier else {}
    status, code, message = _error(
        lambda: lambda_client(lam.endpoint).invoke(FunctionName=name, Payload=b"{}", **extra)
    )
    assert (status, code) == expected[:2] and expected[2] in message


def test_an_event_invoke_over_1_mb_is_refused(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(APP)
    big = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    status, code, _message = _error(
        lambda: lambda_client(lam.endpoint).invoke(
            FunctionName="test-function", InvocationType="Event", Payload=big
        )
    )
    assert (status, code) == (413, "RequestTooLargeException")
    small = lambda_client(lam.endpoint).invoke(
        FunctionName="test-function", InvocationType="Event", Payload=b"{}"
    )
    assert small["StatusCode"] == 202


def test_an_unknown_invocation_type_is_refused_by_its_parameters_name(
    ric_lambda: Callable[..., LocalLambda], tmp_path: Path
) -> None:
    lam = ric_lambda(APP)
    request = urllib.request.Request(
        f"{lam.endpoint}/2015-03-31/functions/test-function/invocations",
        data=json.dumps({"mark": str(tmp_path / "x")}).encode(),
        headers={"X-Amz-Invocation-Type": "Later"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 400
    assert refused.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert json.loads(refused.value.read())["message"] == (
        "Invalid InvocationType 'Later': use RequestResponse, Event or DryRun"
    )
    assert not (tmp_path / "x").exists()
