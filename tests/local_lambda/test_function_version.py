"""The version a function runs as, wherever Lambda names it: SnapStart applies only to
published versions (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html), so a
SnapStart function's START lines, ``AWS_LAMBDA_FUNCTION_VERSION``,
``context.function_version``, the Extensions API's REGISTER answer, the platform records
and the Invoke API's ``X-Amz-Executed-Version`` say ``1``; a function without SnapStart
says ``$LATEST`` in all of them. The real ``bootstrap``, the real local Lambda, boto3
over its invoke API."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from local_lambda import LocalLambda
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, lambda_client, write_function
from tests.local_lambda.test_extensions_kit import (
    RECORDER,
    TelemetryListener,
    extension,
    make_layer,
    read_records,
)
from tests.local_lambda.test_telemetry import SHIPPER

APP = """
import os

def handler(event, context):
    return {
        "context": context.function_version,
        "env": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""


@pytest.fixture
def versioned_lambda(
    tmp_path: Path, function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> Callable[..., LocalLambda]:
    """``APP`` under ``bootstrap`` (python3.12: SnapStart's oldest Python), with one
    extension (the recorder unless told) in a layer, writing to tmp_path/record.jsonl."""

    def make(
        snap_start: bool, ext: str = RECORDER, env: dict[str, str] | None = None, **kwargs: Any
    ) -> LocalLambda:
        write_function(function_dir, {"app.py": APP})
        layer = make_layer(tmp_path / "ext.zip", {"extensions/ext": extension(ext)})
        env = {
            **bootstrap_env(RUNTIME_PYTHONS["3.12"]),
            "RECORD": str(tmp_path / "record.jsonl"),
            **(env or {}),
        }
        return open_lambda(
            command=[os.fspath(BOOTSTRAP)],
            task_root=function_dir,
            layers=[layer],
            env=env,
            snap_start=snap_start,
            timeout=10.0,
            **kwargs,
        )

    return make


@pytest.mark.parametrize(
    ("snap_start", "version"), [(True, "1"), (False, "$LATEST")], ids=["snap-start", "on-demand"]
)
def test_every_place_names_the_version(
    versioned_lambda: Callable[..., LocalLambda], tmp_path: Path, snap_start: bool, version: str
) -> None:
    lam = versioned_lambda(snap_start)
    resp = lambda_client(lam.endpoint).invoke(
        FunctionName="test-function", Payload=b"{}", LogType="Tail"
    )
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert resp["ExecutedVersion"] == version
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == version
    body = json.loads(resp["Payload"].read())
    assert body["context"] == version and body["env"] == version
    if snap_start:  # AWS sets no log stream name in SnapStart functions (docs/snapstart.md)
        assert body["stream"] is None
    else:
        assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["stream"])
    log = base64.b64decode(resp["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: {version}\n" in log
    report = next(line for line in log.splitlines() if line.startswith("REPORT RequestId:"))
    assert request_id in report
    assert ("Restore Duration:" in report) is snap_start
    assert ("Init Duration:" in report) is not snap_start
    registered = [r for r in read_records(tmp_path / "record.jsonl") if "registered" in r]
    assert registered and all(r["registered"] == 200 for r in registered)
    assert {r["body"]["functionVersion"] for r in registered} == {version}


def test_platform_records_name_the_published_version(
    versioned_lambda: Callable[..., LocalLambda],
) -> None:
    """A Telemetry API subscriber's records and the JSON log's (initStart, restoreStart,
    start) name version 1."""
    listener = TelemetryListener()
    try:
        port = {"PORT": str(listener.port)}
        lam = versioned_lambda(True, ext=SHIPPER, env=port, log_format="JSON")
        result = lam.invoke({})
        assert result.function_error is None, lam.output
        start = listener.wait_for("platform.start", requestId=result.request_id)
        assert start["record"]["version"] == "1"
        restore = listener.wait_for("platform.restoreStart")
        assert restore["record"]["functionVersion"] == "1"
    finally:
        listener.close()
    logged: dict[str, dict[str, Any]] = {}
    for line in lam.output.splitlines():
        if line.startswith("{") and '"platform.' in line:
            event = json.loads(line)
            logged.setdefault(event["type"], event["record"])
    assert logged["platform.initStart"]["functionVersion"] == "1"
    assert logged["platform.restoreStart"]["functionVersion"] == "1"
    assert logged["platform.start"] == {"requestId": result.request_id, "version": "1"}


@pytest.mark.parametrize(
    "extra",
    [{}, {"Qualifier": "1"}, {"Qualifier": "$LATEST"}],
    ids=["unqualified", "version-1", "latest"],
)
def test_a_snap_start_function_takes_its_version_and_latest(
    versioned_lambda: Callable[..., LocalLambda], extra: dict[str, str]
) -> None:
    """All three run the snapshot here, and say so (docs/snapstart.md)."""
    lam = versioned_lambda(True)
    resp = lambda_client(lam.endpoint).invoke(FunctionName="test-function", **extra)
    assert resp["ExecutedVersion"] == "1"
    assert json.loads(resp["Payload"].read())["context"] == "1"
    name = f"{lam.function_arn}:1"  # the version's own ARN, as a caller copies it
    assert lambda_client(lam.endpoint).invoke(FunctionName=name)["ExecutedVersion"] == "1"


@pytest.mark.parametrize(("snap_start", "qualifier"), [(True, "2"), (True, "prod"), (False, "1")])
def test_a_version_that_does_not_exist_is_not_found(
    versioned_lambda: Callable[..., LocalLambda], snap_start: bool, qualifier: str
) -> None:
    lam = versioned_lambda(snap_start)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lambda_client(lam.endpoint).invoke(FunctionName="test-function", Qualifier=qualifier)
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"].endswith(f"{lam.function_arn}:{qualifier}")
