"""The checks: each a scenario on the local Lambda and the spec section its verdict rests on.

A check function gets a :class:`Session` factory and returns the reason it passed, or raises
:class:`Failed` (the runtime broke the contract) or :class:`Skipped` (the check cannot run
here, e.g. the runtime registered no extension, so Lambda would not send SIGTERM).
Sections refer to ``docs/runtime-api.md``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_lambda.emulator import LocalLambda
from local_lambda.model import FunctionConfig, InvokeResult

from .recorder import Exchange, Recorder

ERROR_TYPE = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")
H_ERROR_TYPE = "lambda-runtime-function-error-type"
H_XRAY_CAUSE = "lambda-runtime-function-xray-error-cause"
H_INVOCATION_ID = "lambda-runtime-invocation-id"
H_REQUEST_ID = "lambda-runtime-aws-request-id"
H_RESPONSE_MODE = "lambda-runtime-function-response-mode"
H_ERROR_BODY = "lambda-runtime-function-error-body"


class Failed(Exception):
    """The runtime did not do what the contract asks; the message says what it did instead."""


class Skipped(Exception):
    """The check does not apply to this runtime or cannot run on this local Lambda."""


@dataclass(frozen=True)
class Subject:
    """The runtime under test: a command (``{handler}`` is replaced by the handler) and its env."""

    command: list[str]
    env: dict[str, str]
    task_root: Path
    # Other FunctionConfig fields, e.g. layers and runtime to check a built layer.
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def config(self, handler: str, **changes: Any) -> FunctionConfig:
        command = [part.replace("{handler}", handler) for part in self.command]
        base = FunctionConfig(
            command=command,
            task_root=self.task_root,
            handler=handler,
            env=dict(self.env),
            **self.options,
        )
        return dataclasses.replace(base, **changes)


class Session:
    """A local Lambda for one scenario, with the recorder between it and the runtime."""

    def __init__(
        self, subject: Subject, handler: str, empty_headers: bool = False, **changes: Any
    ) -> None:
        config = subject.config(handler, **changes)
        self.recorder = Recorder(empty_headers=empty_headers)
        config.env["AWS_LAMBDA_RUNTIME_API"] = self.recorder.start()
        self.lam = LocalLambda(config)

    def __enter__(self) -> Session:
        self.lam.open()
        self.recorder.connect_to(self.lam.runtime_api)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.lam.close()
        finally:
            self.recorder.close()

    def invoke(self, event: Any = None, **kwargs: Any) -> InvokeResult:
        return self.lam.invoke(event if event is not None else {}, **kwargs)

    def posts(self, request_id: str, kind: str) -> list[Exchange]:
        """The runtime's POSTs to /invocation/{request_id}/{kind}."""
        return self.recorder.requests("POST", f"/invocation/{request_id}/{kind}")

    def first_post(self, result: InvokeResult, kind: str) -> Exchange:
        """The runtime's first POST to /{kind} for ``result``'s invocation; Failed if none came."""
        posts = self.posts(result.request_id, kind)
        if not posts:
            detail = result.payload.decode("utf-8", "replace")[:200]
            raise Failed(
                f"nothing was posted to /{kind} (the invoker got {result.error_type}: {detail})"
            )
        return posts[0]

    def next_answer(self, request_id: str) -> Exchange:
        for exchange in self.recorder.requests("GET", "/invocation/next"):
            if exchange.response_headers.get(H_REQUEST_ID) == request_id:
                return exchange
        raise Failed(f"no /next answer carrying request id {request_id} was seen")


Check = Callable[[Callable[..., Session]], str]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    section: str
    summary: str
    run: Check


CHECKS: list[CheckSpec] = []


def check(name: str, section: str, summary: str) -> Callable[[Check], Check]:
    def add(function: Check) -> Check:
        CHECKS.append(CheckSpec(name, section, summary, function))
        return function

    return add


def _succeeded(result: InvokeResult, what: str) -> Any:
    if result.function_error:
        raise Failed(
            f"{what} failed ({result.error_type}): "
            f"{result.payload.decode('utf-8', 'replace')[:300]}"
        )
    try:
        return result.json()
    except ValueError as exc:
        raise Failed(f"{what} returned no JSON: {result.payload[:200]!r}") from exc


def _served_warm(result: InvokeResult) -> bool:
    """The invoke ran on the same environment: the runtime went back to /next, no re-init."""
    return result.report is not None and result.report.init_duration_ms is None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise Failed(f"{what} is not JSON: {body[:200]!r}") from exc
    if not isinstance(value, dict):
        raise Failed(f"{what} is not a JSON object: {body[:200]!r}")
    return value


def _error_shape(body: dict[str, Any], what: str, message: str, error_type: str | None) -> None:
    if not isinstance(body.get("errorMessage"), str) or message not in body["errorMessage"]:
        raise Failed(
            f"{what}: errorMessage should carry {message!r}, got {body.get('errorMessage')!r}"
        )
    if not isinstance(body.get("errorType"), str) or not body["errorType"]:
        raise Failed(f"{what}: errorType missing, got {body.get('errorType')!r}")
    if error_type and body["errorType"] != error_type:
        raise Failed(f"{what}: errorType should be {error_type!r}, got {body['errorType']!r}")
    trace = body.get("stackTrace", body.get("trace"))
    if not isinstance(trace, list) or not all(isinstance(line, str) for line in trace):
        raise Failed(f"{what}: stackTrace should be a list of strings, got {trace!r}")


@check(
    "invoke-success",
    "§1.1, §1.5",
    "a result is posted to /response and the runtime goes back to /next",
)
def invoke_success(session: Callable[..., Session]) -> str:
    with session("conform_app.ok") as s:
        first = s.invoke({"n": 1})
        if _succeeded(first, "the first invoke") != {"ok": True, "echo": {"n": 1}}:
            raise Failed(f"the invoker got {first.payload[:200]!r}, not the handler's result")
        if len(s.posts(first.request_id, "response")) != 1:
            raise Failed("the result was not posted exactly once to /response")
        second = s.invoke({"n": 2})
        _succeeded(second, "the second invoke")
        if not _served_warm(second):
            raise Failed(
                "the second invoke needed a new environment: the runtime did not return to /next"
            )
    return "two invokes answered on one environment, each result posted once"


@check(
    "init-error", "§1.3, §1.5", "an import failure is posted to /init/error, then the runtime exits"
)
def init_error(session: Callable[..., Session]) -> str:
    with session("conform_broken.handler") as s:
        result = s.invoke()
        posts = s.recorder.requests("POST", "/runtime/init/error")
        if not posts:
            raise Failed(f"nothing was posted to /init/error (the invoker got {result.error_type})")
        post = posts[0]
        # Any Lambda-Runtime-Function-Error-Type is accepted (AWS's Runtime API reference:
        # "Lambda accepts any string"); a name that is not Runtime.X or Function.X is
        # recorded as Runtime.Unknown. awslambdaric sends the exception's class name.
        header = post.headers.get(H_ERROR_TYPE, "")
        _error_shape(
            _json_object(post.body, "the init error body"),
            "the init error body",
            "conformance init failure",
            None,
        )
        if result.function_error is None:
            raise Failed("the invoker did not get an error")
        later = [
            e
            for e in s.recorder.exchanges[s.recorder.exchanges.index(post) :]
            if e.path.endswith("/next")
        ]
        if later:
            raise Failed(
                "the runtime asked for /next after reporting its init error instead of exiting"
            )
    return f"init error posted with {header} and a well-formed body; no /next after it"


@check(
    "error-shape",
    "§1.3",
    "a handler exception is posted to /error as {errorMessage, errorType, stackTrace}",
)
def error_shape(session: Callable[..., Session]) -> str:
    with session("conform_app.fail") as s:
        result = s.invoke()
        posts = s.posts(result.request_id, "error")
        if len(posts) != 1:
            raise Failed(
                f"expected one POST to /error, saw {len(posts)} (invoker got {result.error_type})"
            )
        post = posts[0]
        _error_shape(
            _json_object(post.body, "the error body"),
            "the error body",
            "conformance boom",
            "ValueError",
        )
        header = post.headers.get(H_ERROR_TYPE)
        if header is not None and not ERROR_TYPE.match(header):
            raise Failed(
                f"Lambda-Runtime-Function-Error-Type {header!r} "
                "does not match (Runtime|Function).Name"
            )
        if result.function_error is None:
            raise Failed("the invoker did not see a function error")
    return "errorMessage, errorType=ValueError and a string stackTrace posted to /error"


@check("xray-cause", "§1.3", "an invoke error carries Lambda-Runtime-Function-XRay-Error-Cause")
def xray_cause(session: Callable[..., Session]) -> str:
    with session("conform_app.fail") as s:
        result = s.invoke()
        raw = s.first_post(result, "error").headers.get(H_XRAY_CAUSE)
        if raw is None:
            raise Failed("no Lambda-Runtime-Function-XRay-Error-Cause header on the /error post")
        cause = _json_object(raw.encode(), "the X-Ray cause")
        exceptions = cause.get("exceptions")
        if (
            not isinstance(exceptions, list)
            or not exceptions
            or not isinstance(exceptions[0], dict)
        ):
            raise Failed(f"the X-Ray cause has no exceptions: {raw[:200]}")
        first = exceptions[0]
        if first.get("type") != "ValueError" or "conformance boom" not in str(first.get("message")):
            raise Failed(f"the X-Ray cause names {first.get('type')!r}: {first.get('message')!r}")
        if not cause.get("working_directory") and not cause.get("paths"):
            raise Failed("the X-Ray cause has neither working_directory nor paths")
    return "X-Ray cause with the exception's type, message and paths"


@check("trace-id", "§1.2", "_X_AMZN_TRACE_ID is set from each invoke's Lambda-Runtime-Trace-Id")
def trace_id(session: Callable[..., Session]) -> str:
    traces = [
        "Root=1-5e1b4151-5ac6c58f5b5dbd6a1f8a1b10;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-5e1b4151-000000000000000000000002;Parent=0000000000000002;Sampled=0",
    ]
    with session("conform_app.describe") as s:
        for trace in traces:
            seen = _succeeded(s.invoke(trace_id=trace), "the invoke")["trace"]
            if seen != trace:
                raise Failed(f"_X_AMZN_TRACE_ID was {seen!r} during an invoke traced {trace!r}")
    return "each invoke saw its own trace id"


@check(
    "context-headers",
    "§1.2, §4.3",
    "request id, ARN, deadline, client context, identity and tenant reach the context",
)
def context_headers(session: Callable[..., Session]) -> str:
    client_context = {
        "client": {"installation_id": "i-1"},
        "custom": {"k": "v"},
        "env": {"platform": "x"},
    }
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    with session("conform_app.describe") as s:
        result = s.invoke(
            client_context=client_context, tenant_id="tenant-42", cognito_identity=identity
        )
        seen = _succeeded(result, "the invoke")
        expected = {
            "request_id": result.request_id,
            "arn": s.lam.function_arn,
            "client_custom": {"k": "v"},
            "identity_id": "id-1",
            "tenant_id": "tenant-42",
        }
        wrong = {k: seen.get(k) for k, v in expected.items() if seen.get(k) != v}
        if wrong:
            raise Failed(
                f"the context differs from the /next headers: {wrong} (expected {expected})"
            )
        remaining = seen.get("remaining_ms")
        if not isinstance(remaining, int) or not 0 < remaining <= s.lam.config.timeout * 1000:
            raise Failed(
                f"get_remaining_time_in_millis() gave {remaining!r} "
                f"for a {s.lam.config.timeout} s timeout"
            )
    return "request id, ARN, client context, identity, tenant id and remaining time as sent"


@check(
    "invocation-id",
    "§4.4",
    "Lambda-Runtime-Invocation-Id from /next is echoed on /response and /error",
)
def invocation_id(session: Callable[..., Session]) -> str:
    with session("conform_app.ok") as s:
        result = s.invoke()
        _succeeded(result, "the invoke")
        sent = s.next_answer(result.request_id).response_headers.get(H_INVOCATION_ID)
        post = s.posts(result.request_id, "response")
        echoed = post[0].headers.get(H_INVOCATION_ID) if post else None
        if not sent or echoed != sent:
            raise Failed(f"/next sent invocation id {sent!r}; /response echoed {echoed!r}")
    with session("conform_app.fail") as s:
        result = s.invoke()
        sent = s.next_answer(result.request_id).response_headers.get(H_INVOCATION_ID)
        post = s.posts(result.request_id, "error")
        echoed = post[0].headers.get(H_INVOCATION_ID) if post else None
        if echoed != sent:
            raise Failed(f"/next sent invocation id {sent!r}; /error echoed {echoed!r}")
    return "the invocation id was echoed on /response and /error"


@check(
    "empty-headers",
    "§1.2",
    "empty Client-Context, Cognito-Identity and Tenant-Id headers are treated as absent",
)
def empty_headers(session: Callable[..., Session]) -> str:
    with session("conform_app.describe", empty_headers=True) as s:
        seen = _succeeded(s.invoke(), "an invoke whose /next had empty context headers")
        present = {
            k: seen.get(k) for k in ("client_custom", "identity_id", "tenant_id") if seen.get(k)
        }
        if present:
            raise Failed(f"empty headers became values in the context: {present}")
    return "empty headers gave no client context, identity or tenant"


@check(
    "response-too-large",
    "§1.3, §1.4, §3",
    "after a 413 the runtime posts no /error and serves the next invoke",
)
def response_too_large(session: Callable[..., Session]) -> str:
    with session("conform_app.big") as s:
        result = s.invoke()
        if result.error_type != "Function.ResponseSizeTooLarge":
            raise Failed(
                f"the invoker got {result.error_type} for a 7 MiB result, "
                "not Function.ResponseSizeTooLarge"
            )
        if s.posts(result.request_id, "error"):
            raise Failed("the runtime posted /error after its /response got 413 (it gets a 403)")
        again = s.invoke()
        if again.error_type == "Function.ResponseSizeTooLarge" and _served_warm(again):
            return "413 handled: no /error after it, next invoke served on the same environment"
        raise Failed(
            f"after the 413 the next invoke ended with {again.error_type}, "
            "not a second 413 on a warm environment"
        )


@check("gone-410", "§1.4, §4.4", "a 410 on /response is logged and the runtime goes back to /next")
def gone_410(session: Callable[..., Session]) -> str:
    with session("conform_app.ok") as s:
        s.lam.inject_fault("response", 410)
        first = s.invoke()
        if first.error_type == "Runtime.ExitError":
            raise Failed(
                "the runtime exited after a 410; it should log it and ask for the next invoke"
            )
        second = s.invoke()
        _succeeded(second, "the invoke after the 410")
        if not _served_warm(second):
            raise Failed("the environment had to be restarted after the 410")
    return "410 survived: the next invoke was served by the same process"


@check("server-error-500", "§1.4", "a 500 from the Runtime API makes the runtime exit")
def server_error_500(session: Callable[..., Session]) -> str:
    with session("conform_app.ok", timeout=5.0) as s:
        s.lam.inject_fault("response", 500)
        result = s.invoke()
        if result.error_type != "Runtime.ExitError":
            raise Failed(
                f"after a 500 on /response the invoke ended with {result.error_type}: "
                "the runtime did not exit"
            )
    return (
        "the runtime exited after the 500 ("
        + result.payload.decode("utf-8", "replace").rsplit(":", 1)[-1].strip(' "}')
        + ")"
    )


@check(
    "dropped-connection",
    "§1.4, §1.5",
    "a connection dropped on /response neither hangs nor loses the environment for good",
)
def dropped_connection(session: Callable[..., Session]) -> str:
    with session("conform_app.ok", timeout=5.0) as s:
        s.lam.inject_fault("response", drop=True)
        first = s.invoke()
        if first.error_type == "Sandbox.Timedout":
            raise Failed("the invoke timed out: the runtime hung after its connection was dropped")
        second = s.invoke()
        _succeeded(second, "the invoke after the dropped connection")
    how = "recovered" if first.error_type != "Runtime.ExitError" else "exited and was restarted"
    return f"the runtime {how}; the next invoke was served"


@check(
    "streaming", "§2", "an async generator handler streams with Response-Mode: streaming, chunked"
)
def streaming(session: Callable[..., Session]) -> str:
    with session("conform_app.stream") as s:
        result = s.invoke()
        post = s.first_post(result, "response")
        mode = post.headers.get(H_RESPONSE_MODE)
        if mode != "streaming":
            raise Failed(f"Lambda-Runtime-Function-Response-Mode is {mode!r}, not 'streaming'")
        if "chunked" not in post.headers.get("transfer-encoding", ""):
            raise Failed("the streamed response is not Transfer-Encoding: chunked")
        if result.payload != b"conformance,streamed":
            raise Failed(f"the invoker got {result.payload[:200]!r}, not the streamed bytes")
    return "streamed with the mode header, chunked, bytes intact"


@check(
    "stream-trailers",
    "§2",
    "an error mid-stream travels in the trailers (error type and base64 body)",
)
def stream_trailers(session: Callable[..., Session]) -> str:
    with session("conform_app.stream_fail") as s:
        result = s.invoke()
        trailers = s.first_post(result, "response").trailers
        error_type = trailers.get(H_ERROR_TYPE, "")
        if not ERROR_TYPE.match(error_type):
            raise Failed(f"trailer Lambda-Runtime-Function-Error-Type is {error_type!r}")
        try:
            body = base64.b64decode(trailers.get(H_ERROR_BODY, ""), validate=True)
        except ValueError as exc:
            raise Failed("trailer Lambda-Runtime-Function-Error-Body is not base64") from exc
        _error_shape(
            _json_object(body, "the trailer error body"),
            "the trailer error body",
            "conformance stream boom",
            None,
        )
        if s.posts(result.request_id, "error"):
            raise Failed("the runtime also posted /error after streaming had started")
    return f"trailers carried {error_type} and a base64 error body"


@check("concurrency", "§4.1", "with AWS_LAMBDA_MAX_CONCURRENCY=2, two invokes run at the same time")
def concurrency(session: Callable[..., Session]) -> str:
    if "max_concurrency" not in {f.name for f in dataclasses.fields(FunctionConfig)}:
        raise Skipped("this local Lambda has no FunctionConfig.max_concurrency yet")
    with (
        tempfile.TemporaryDirectory(prefix="conform-rendezvous-") as folder,
        session("conform_app.rendezvous", max_concurrency=2, timeout=10.0) as s,
    ):
        s.lam.start()
        results: list[InvokeResult] = []
        event = {"folder": folder, "peers": 2, "limit": 5.0}
        threads = [
            threading.Thread(target=lambda: results.append(s.invoke(event))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        met = [_succeeded(r, "a concurrent invoke")["met"] for r in results]
        if not all(met):
            raise Failed(
                "the two invokes never ran at the same time (each waited 5 s for the other)"
            )
    return "two invokes were in the handler at the same time"


@check(
    "sigterm",
    "§5",
    (
        "with an extension registered, SIGTERM reaches the function "
        "and the runtime exits before SIGKILL"
    ),
)
def sigterm(session: Callable[..., Session]) -> str:
    with session("conform_shutdown.handler") as s:
        _succeeded(s.invoke(), "the invoke")
        if not s.recorder.requests("POST", "/extension/register"):
            raise Failed("the function's extension registration did not reach the Extensions API")
        done = s.lam.shutdown()
        if done.signals != ["SIGTERM"]:
            raise Failed(
                f"shutdown needed {' then '.join(done.signals)}: SIGTERM did not end "
                f"the runtime within {s.lam.config.shutdown_internal_ms} ms"
            )
    return f"exited on SIGTERM (status {done.exit_status}) in {done.duration_ms:.0f} ms"
