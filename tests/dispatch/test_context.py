"""The context object, compared attribute by attribute with awslambdaric 4.2.2's."""

from __future__ import annotations

import json
import time

import pytest
from awslambdaric.bootstrap import create_lambda_context

from runtime_core import context as context_module
from runtime_core.context import LambdaContext
from runtime_core.dispatch import call_sync
from runtime_core.testing import make_invocation

FUNCTION_ENV = {
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]abc",
    "AWS_LAMBDA_FUNCTION_NAME": "fn",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
}
CLIENT_CONTEXT = {
    "client": {
        "installation_id": "inst",
        "app_title": "My App",
        "app_version_name": "1.0",
        "app_version_code": "100",
        "app_package_name": "com.example",
    },
    "custom": {"k": "v", "n": 1},
    "env": {"platform": "Android"},
    "w3c": {"traceparent": "00-abc-def-01", "tracestate": "x=1", "baggage": 5, "other": "dropped"},
}
COGNITO = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FUNCTION_ENV.items():
        monkeypatch.setenv(name, value)
    context_module.read_function_env()


def _both(
    client_context: str | None, cognito: str | None, tenant_id: str | None = None
) -> tuple[LambdaContext, object]:
    inv = make_invocation(
        {},
        tenant_id=tenant_id,
        headers={
            "Lambda-Runtime-Client-Context": client_context,
            "Lambda-Runtime-Cognito-Identity": cognito,
        },
    )
    ours = LambdaContext(inv)
    theirs = create_lambda_context(
        client_context,
        cognito,
        inv.deadline_ms,
        inv.request_id,
        inv.invoked_function_arn,
        tenant_id,
    )
    return ours, theirs


def _public(obj: object) -> dict[str, object]:
    return {
        name: getattr(obj, name)
        for name in dir(obj)
        if not name.startswith("_") and not callable(getattr(obj, name))
    }


@pytest.mark.parametrize(
    ("client_context", "cognito", "tenant_id"),
    [
        (None, None, None),
        (json.dumps(CLIENT_CONTEXT), json.dumps(COGNITO), "tenant-7"),
        (json.dumps({"custom": {"a": [1, 2]}}), json.dumps({"cognitoIdentityId": "only-id"}), None),
    ],
    ids=["bare", "full", "partial"],
)
def test_every_attribute_equals_awslambdaric(
    client_context: str | None, cognito: str | None, tenant_id: str | None
) -> None:
    ours, theirs = _both(client_context, cognito, tenant_id)
    their_attrs = _public(theirs)
    our_attrs = _public(ours)
    assert set(their_attrs) <= set(our_attrs)
    for name in (
        "aws_request_id",
        "log_group_name",
        "log_stream_name",
        "function_name",
        "memory_limit_in_mb",
        "function_version",
        "invoked_function_arn",
        "tenant_id",
    ):
        assert (name, our_attrs[name], type(our_attrs[name])) == (
            name,
            their_attrs[name],
            type(their_attrs[name]),
        )
    assert repr(ours) == repr(theirs)
    assert repr(ours.identity) == repr(theirs.identity)  # type: ignore[attr-defined]
    assert repr(ours.client_context) == repr(theirs.client_context)  # type: ignore[attr-defined]
    assert ours.w3c() == theirs.w3c()  # type: ignore[attr-defined]
    their_methods = {
        n for n in dir(theirs) if not n.startswith("_") and callable(getattr(theirs, n))
    }
    assert their_methods <= set(dir(ours))


def test_memory_is_a_str_and_nested_objects_have_awslambdaric_fields() -> None:
    ours, theirs = _both(json.dumps(CLIENT_CONTEXT), json.dumps(COGNITO))
    assert ours.memory_limit_in_mb == "512"
    assert ours.identity.cognito_identity_id == "id-1"
    assert ours.identity.cognito_identity_pool_id == "pool-1"
    cc = ours.client_context
    assert cc is not None
    assert cc.custom == {"k": "v", "n": 1}
    assert cc.env == {"platform": "Android"}
    assert cc.client.app_title == "My App"
    assert cc.client.app_package_name == "com.example"
    assert not hasattr(cc, "w3c")
    assert ours.w3c() == {"traceparent": "00-abc-def-01", "tracestate": "x=1"}
    for name in (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ):
        assert getattr(cc.client, name) == getattr(theirs.client_context.client, name)  # type: ignore[attr-defined]


def test_remaining_time_counts_down_to_zero() -> None:
    ctx = LambdaContext(make_invocation({}, timeout_s=60))
    remaining = ctx.get_remaining_time_in_millis()
    assert isinstance(remaining, int)
    assert 50_000 < remaining <= 60_000
    assert LambdaContext(make_invocation({}, timeout_s=-5)).get_remaining_time_in_millis() == 0
    before = ctx.get_remaining_time_in_millis()
    time.sleep(0.01)  # time must pass for the countdown to show; not synchronisation
    assert ctx.get_remaining_time_in_millis() < before


def test_log_writes_the_message_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    LambdaContext(make_invocation({})).log("hello from context.log\n")
    assert capsys.readouterr().out == "hello from context.log\n"


def test_env_is_read_once_not_per_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "changed-later")
    assert LambdaContext(make_invocation({})).function_name == "fn"


@pytest.mark.parametrize(
    ("header", "value", "name"),
    [
        ("Lambda-Runtime-Client-Context", "{not json", "Client Context"),
        ("Lambda-Runtime-Cognito-Identity", '{"cognitoIdentityId": ', "Cognito Identity"),
        ("Lambda-Runtime-Client-Context", "[1, 2]", "Client Context"),
        ("Lambda-Runtime-Cognito-Identity", '"a string"', "Cognito Identity"),
    ],
)
def test_malformed_header_is_a_context_unmarshal_error_and_the_runtime_goes_on(
    header: str, value: str, name: str
) -> None:
    calls = []

    def handler(event: object, context: object) -> str:
        calls.append(event)
        return "ok"

    outcome = call_sync(handler, make_invocation(raw=b'{"n": 1}', headers={header: value}))
    assert outcome.is_error
    assert json.loads(outcome.body)["errorType"] == "Runtime.LambdaContextUnmarshalError"
    body = json.loads(outcome.body)
    assert body["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert body["errorMessage"].startswith(f"Unable to parse {name} JSON: ")
    assert calls == []
    # The next invocation is served normally.
    after = call_sync(handler, make_invocation(raw=b'{"n": 2}'))
    assert (after.is_error, after.body, calls) == (False, b'"ok"', [{"n": 2}])


def test_malformed_json_message_matches_awslambdaric() -> None:
    outcome = call_sync(
        lambda e, c: None,
        make_invocation({}, headers={"Lambda-Runtime-Client-Context": "{not json"}),
    )
    try:
        create_lambda_context("{not json", None, 0, "id", "arn", None)
    except Exception as exc:
        their_message = exc.msg  # type: ignore[attr-defined]
    assert json.loads(outcome.body)["errorMessage"] == their_message
