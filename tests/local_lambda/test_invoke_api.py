"""The invoke API, driven by boto3's Lambda client as AWS's would be."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from local_lambda import LocalLambda
from tests.conftest import lambda_client

APP = """
    import json, os, time

    def handler(event, context):
        print("seen", json.dumps(event))
        if event.get("fail"):
            raise RuntimeError("it failed")
        if event.get("write"):
            open(event["write"], "w").write(context.aws_request_id)
        return {"event": event, \
"custom": context.client_context.custom if context.client_context else None,
                "tenant": getattr(context, "tenant_id", None), \
"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""


def test_boto3_invoke(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(APP)
    context = base64.b64encode(json.dumps({"custom": {"user": "u1"}}).encode()).decode()
    resp = lambda_client(lam.endpoint).invoke(
        FunctionName="test-function", Payload=b'{"a": 1}', LogType="Tail", ClientContext=context
    )
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    body = json.loads(resp["Payload"].read())
    assert body["event"] == {"a": 1} and body["custom"] == {"user": "u1"}
    log = base64.b64decode(resp["LogResult"]).decode()
    assert 'seen {"a": 1}' in log and "REPORT RequestId:" in log


def test_boto3_function_error(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(APP)
    resp = lambda_client(lam.endpoint).invoke(
        FunctionName=lam.function_arn, Payload=b'{"fail": true}'
    )
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorMessage"] == "it failed"


def test_boto3_unknown_function(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(APP)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lambda_client(lam.endpoint).invoke(FunctionName="nope", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "Function not found" in info.value.response["Error"]["Message"]


def test_event_and_dry_run(ric_lambda: Callable[..., LocalLambda], tmp_path: Any) -> None:
    lam = ric_lambda(APP)
    c = lambda_client(lam.endpoint)
    assert c.invoke(FunctionName="test-function", InvocationType="DryRun")["StatusCode"] == 204
    marker = tmp_path / "event-ran"
    resp = c.invoke(
        FunctionName="test-function",
        InvocationType="Event",
        Payload=json.dumps({"write": str(marker)}),
    )
    assert resp["StatusCode"] == 202
    # Invocations queue: the next synchronous one runs after the queued Event invoke.
    c.invoke(FunctionName="test-function", Payload=b"{}")
    assert marker.read_text()


def test_tenant_and_trace_headers(ric_lambda: Callable[..., LocalLambda]) -> None:
    import urllib.request

    lam = ric_lambda(APP)
    request = urllib.request.Request(
        f"{lam.endpoint}/2015-03-31/functions/test-function/invocations",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Tenant-Id": "tenant-7", "X-Amzn-Trace-Id": "Root=1-abc-def;Sampled=1"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        body = json.loads(resp.read())
    assert body["tenant"] == "tenant-7"
    assert body["trace"] == "Root=1-abc-def;Sampled=1"


def test_boto3_request_too_large(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(APP)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lambda_client(lam.endpoint).invoke(
            FunctionName="test-function", Payload=b'"' + b"x" * 6_291_456 + b'"'
        )
    assert info.value.response["Error"]["Code"] == "RequestTooLargeException"
