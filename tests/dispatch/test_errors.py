"""Error payloads of a failing handler: body, error-type header, X-Ray cause, one log record.

The body and X-Ray cause are compared byte for byte with what awslambdaric 4.2.2 posts for
the same handler and event (its ``handle_event_request``, given a recorder in place of its
HTTP client: the recorder stands in for the Runtime API, the code under comparison is
real). The end-to-end comparison, over real sockets and on every interpreter, is in
``test_error_bytes.py``.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

import pytest
from awslambdaric import bootstrap as ric_bootstrap
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

from runtime_core.dispatch import call_async, call_sync
from runtime_core.errors import XRAY_CAUSE_LIMIT
from runtime_core.handler_loader import load_handler
from runtime_core.testing import make_invocation
from tests.conftest import write_function
from tests.dispatch.failing import FAILING


class _RecordingRuntimeClient:
    """What awslambdaric would have posted to the Runtime API."""

    def __init__(self) -> None:
        self.marshaller = LambdaMarshaller()
        self.posted: list[tuple[str, Any, Any]] = []

    def post_invocation_error(
        self, invoke_id: str, body: str, xray: str, invocation_id: Any = None
    ) -> None:
        self.posted.append(("error", body, xray))

    def post_invocation_result(
        self, invoke_id: str, body: Any, content_type: str, invocation_id: Any = None
    ) -> None:
        self.posted.append(("result", body, content_type))


def _awslambdaric_posts(handler: Any, body: bytes, request_id: str) -> tuple[str, Any, Any]:
    client = _RecordingRuntimeClient()
    ric_bootstrap.handle_event_request(
        client,
        handler,
        request_id,
        body,
        "application/json",
        None,
        None,
        "arn",
        0,
        None,
        ric_bootstrap.StandardLogSink(),
    )
    (posted,) = client.posted
    return posted


@pytest.fixture
def app(task_root: Path) -> Path:
    write_function(task_root, FAILING)
    return task_root


def test_handler_exception_body_and_xray_equal_awslambdaric(app: Path) -> None:
    handler = load_handler("app.handler", str(app))
    event = b'{"kind": "value", "value": 7}'
    outcome = call_sync(handler, make_invocation(raw=event, request_id="req-1"))
    kind, their_body, their_xray = _awslambdaric_posts(handler, event, "req-1")
    assert kind == "error"
    assert outcome.is_error
    assert outcome.body == their_body.encode()
    assert outcome.error_type is None  # awslambdaric sends no error-type header on /error
    assert outcome.xray_cause is not None
    ours, theirs = json.loads(outcome.xray_cause), json.loads(their_xray)
    # awslambdaric lists "paths" from a set (any order); lambdaboot in first-seen order.
    assert sorted(ours.pop("paths")) == sorted(theirs.pop("paths"))
    assert ours == theirs


@pytest.mark.parametrize(
    "env", [None, "AWS_Lambda_python3.11", "AWS_Lambda_python3.12", "AWS_Lambda_python3.13"]
)
@pytest.mark.parametrize("message", ["plain", 'é ü 🐍 \u2028 \x7f \x00 \t\n "q" \\ </script>', ""])
def test_error_bytes_equal_awslambdaric_in_each_execution_environment(
    monkeypatch: pytest.MonkeyPatch, env: str | None, message: str
) -> None:
    if env is None:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    else:
        monkeypatch.setenv("AWS_EXECUTION_ENV", env)

    def handler(event: Any, context: Any) -> Any:
        raise KeyError(message) if not message else ValueError(message)

    outcome = call_sync(handler, make_invocation({}, request_id="req-2"))
    _kind, their_body, their_xray = _awslambdaric_posts(handler, b"{}", "req-2")
    assert outcome.body == their_body.encode()
    if env in (None, "AWS_Lambda_python3.11") or message.isascii():
        assert outcome.xray_cause == their_xray
    else:  # the same JSON, escaped to ASCII: it is a header value
        assert json.loads(outcome.xray_cause or "") == json.loads(their_xray)


def test_stack_trace_has_only_user_frames_formatted_like_traceback(app: Path) -> None:
    handler = load_handler("app.handler", str(app))
    outcome = call_sync(handler, make_invocation(raw=b'{"kind": "value", "value": 7}'))
    body = json.loads(outcome.body)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "bad value: 7")
    app_py, helper_py = str(app / "app.py"), str(app / "helper.py")
    assert body["stackTrace"] == traceback.format_list(
        [
            (app_py, 10, "handler", "return helper.check(event)"),
            (helper_py, 3, "check", "raise ValueError(f\"bad value: {event.get('value')!r}\")"),
        ]
    )
    assert "runtime_core" not in outcome.body.decode()
    xray = json.loads(outcome.xray_cause or "")
    assert xray["exceptions"][0]["stack"] == [
        {"label": "handler", "path": app_py, "line": 10},
        {"label": "check", "path": helper_py, "line": 3},
    ]
    assert sorted(xray["paths"]) == sorted([app_py, helper_py])


def test_async_handler_errors_look_the_same(app: Path) -> None:
    import asyncio

    sync_outcome = call_sync(
        load_handler("app.handler", str(app)), make_invocation(raw=b'{"kind": "value", "value": 1}')
    )
    async_outcome = asyncio.run(
        call_async(
            load_handler("app.ahandler", str(app)),
            make_invocation(raw=b'{"kind": "value", "value": 1}'),
        )
    )
    sync_body, async_body = (
        json.loads(sync_outcome.body),
        json.loads(async_body_bytes := async_outcome.body),
    )
    assert async_body["errorType"] == sync_body["errorType"] == "ValueError"
    assert async_body["stackTrace"][-1] == sync_body["stackTrace"][-1]
    assert "runtime_core" not in async_body_bytes.decode()
    assert async_outcome.error_type is None


def test_xray_cause_is_left_out_at_one_mib_and_the_body_is_whole(app: Path) -> None:
    handler = load_handler("app.handler", str(app))
    big = call_sync(
        handler,
        make_invocation(raw=json.dumps({"kind": "huge", "size": XRAY_CAUSE_LIMIT}).encode()),
    )
    assert big.xray_cause is None
    assert json.loads(big.body)["errorMessage"] == "x" * XRAY_CAUSE_LIMIT
    small = call_sync(
        handler,
        make_invocation(raw=json.dumps({"kind": "huge", "size": XRAY_CAUSE_LIMIT - 4096}).encode()),
    )
    assert small.xray_cause is not None
    assert len(small.xray_cause.encode()) < XRAY_CAUSE_LIMIT


def test_each_error_is_logged_as_one_record(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call_sync(
        load_handler("app.handler", str(app)), make_invocation(raw=b'{"kind": "value", "value": 7}')
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "ValueError" in out
    assert "bad value: 7" in out
    assert "helper.py" in out


def test_system_exit_from_a_handler_ends_the_process_as_in_awslambdaric(app: Path) -> None:
    handler = load_handler("app.handler", str(app))
    with pytest.raises(SystemExit):
        _awslambdaric_posts(handler, b'{"kind": "exit"}', "r")
    with pytest.raises(SystemExit):
        call_sync(handler, make_invocation(raw=b'{"kind": "exit"}'))


def test_a_result_after_an_error_is_served_normally(app: Path) -> None:
    handler = load_handler("app.handler", str(app))
    assert call_sync(handler, make_invocation(raw=b'{"kind": "value", "value": 1}')).is_error
    ok = call_sync(handler, make_invocation(raw=b'{"kind": "fine"}'))
    assert (ok.is_error, ok.body, ok.error_type, ok.xray_cause) == (
        False,
        b'{"ok":true}',
        None,
        None,
    )


def test_an_exception_whose_str_fails_is_still_reported() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    def handler(event: Any, context: Any) -> Any:
        raise Unprintable()

    outcome = call_sync(handler, make_invocation({}))
    body = json.loads(outcome.body)
    assert (body["errorType"], body["errorMessage"]) == (
        "Unprintable",
        "<unprintable Unprintable object>",
    )
    assert outcome.error_type is None


def test_an_as_dict_that_raises_is_a_marshal_error() -> None:
    class Broken:
        def _asdict(self) -> dict[str, Any]:
            raise ValueError("cannot")

    outcome = call_sync(lambda e, c: Broken(), make_invocation({}))
    assert outcome.error_type is None
    assert json.loads(outcome.body)["errorType"] == "Runtime.MarshalError"
    assert json.loads(outcome.body)["errorMessage"].startswith("Unable to marshal response: ")


def test_xray_cause_is_ascii_json_as_a_header_value_must_be() -> None:
    def handler(event: Any, context: Any) -> Any:
        raise ValueError("prix: 9,90 €\nligne 2 \ud800")

    outcome = call_sync(handler, make_invocation({}))
    assert outcome.xray_cause is not None
    assert outcome.xray_cause.isascii()
    assert (
        json.loads(outcome.xray_cause)["exceptions"][0]["message"] == "prix: 9,90 €\nligne 2 \ud800"
    )
    assert json.loads(outcome.body)["errorMessage"] == "prix: 9,90 €\nligne 2 \ud800"
