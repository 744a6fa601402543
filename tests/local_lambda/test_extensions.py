"""External extensions in the local Lambda: started from /opt/extensions, the Extensions API's
state rules, INVOKE and SHUTDOWN events, and extension faults as Lambda reports them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, bootstrap_env, write_function
from tests.local_lambda.conftest import SCRIPT_PRELUDE
from tests.local_lambda.test_extensions_kit import RECORDER, extension, make_layer, read_records

AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric", "app.handler"]

APP = """
def handler(event, context):
    print("handler ran", flush=True)
    return {"request_id": context.aws_request_id}
"""


@pytest.fixture
def ext_lambda(
    tmp_path: Path, function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> Callable[..., LocalLambda]:
    """A local Lambda with one layer of ``extensions`` (name -> body) and ``app`` as function."""

    def make(extensions: dict[str, str], app: str = APP, **kwargs: Any) -> LocalLambda:
        write_function(function_dir, {"app.py": app})
        files = {f"extensions/{name}": extension(body) for name, body in extensions.items()}
        files.update(kwargs.pop("extra_files", {}))
        layer = make_layer(tmp_path / "ext-layer.zip", files)
        env = {"RECORD": str(tmp_path / "record.jsonl"), **kwargs.pop("env", {})}
        kwargs.setdefault("command", AWSLAMBDARIC)
        kwargs.setdefault("timeout", 10.0)
        return open_lambda(task_root=function_dir, layers=[layer], env=env, **kwargs)

    return make


@pytest.fixture
def records(tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    return lambda: read_records(tmp_path / "record.jsonl")


def test_invoke_and_shutdown_events_reach_the_extension(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    lam = ext_lambda({"recorder": RECORDER})
    first = lam.invoke({"n": 1}, trace_id="Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Sampled=1")
    second = lam.invoke({"n": 2})
    assert first.json()["request_id"] == first.request_id and first.function_error is None
    assert first.report.init_duration_ms is not None and second.report.init_duration_ms is None
    shutdown = lam.shutdown()

    seen = records()
    registered = seen[0]
    assert registered["registered"] == 200
    assert registered["body"] == {
        "functionName": "test-function",
        "functionVersion": "$LATEST",
        "handler": "app.handler",
    }
    events = [r["event"] for r in seen if "event" in r]
    invokes = [e for e in events if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [first.request_id, second.request_id]
    assert invokes[0]["invokedFunctionArn"] == lam.function_arn
    assert invokes[0]["tracing"] == {
        "type": "X-Amzn-Trace-Id",
        "value": "Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Sampled=1",
    }
    assert invokes[0]["deadlineMs"] > 1_600_000_000_000
    assert events[-1]["eventType"] == "SHUTDOWN" and events[-1]["shutdownReason"] == "spindown"
    assert shutdown.signals == ["SIGTERM"] and shutdown.shutdown_sent_to == ["recorder"]
    assert "recorder ready" in lam.output  # the extension's output is in the function's log


def test_the_invocation_ends_when_every_extension_waits_again(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    lam = ext_lambda(
        {
            "slow": """
            ident = register(["INVOKE"])
            while True:
                event = next_event(ident)
                time.sleep(0.3)  # post-invocation work, after the runtime has answered
                record(finished=event["requestId"])
            """
        }
    )
    result = lam.invoke({})
    assert {"who": "slow", "finished": result.request_id} in records()
    # and Duration (what is billed) runs until the extension waits again
    assert result.report is not None and result.report.duration_ms >= 300


def test_an_extension_that_never_waits_again_times_the_invocation_out(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    lam = ext_lambda(
        {
            "stuck": """
            ident = register(["INVOKE"])
            next_event(ident)
            time.sleep(3600)
            """
        },
        timeout=1.0,
    )
    result = lam.invoke({})
    assert result.error_type == "Sandbox.Timedout"
    assert "Status: timeout" in result.logs and "Task timed out after 1.00 seconds" in result.logs
    again = lam.invoke({})  # a fresh environment
    assert again.report.init_duration_ms is not None


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (
            """
            ident = register(["INVOKE"])
            call("POST", EXT + "/init/error", json.dumps({"errorMessage": "no config"}),
                 {"Lambda-Extension-Identifier": ident,
                  "Lambda-Extension-Function-Error-Type": "Extension.ConfigMissing"})
            sys.exit(1)
            """,
            "Extension.ConfigMissing",
        ),
        ("sys.exit(3)\n", "Extension.Crash"),
    ],
    ids=["init-error", "crash-before-registering"],
)
def test_an_extension_failing_its_init_fails_the_init(
    ext_lambda: Callable[..., LocalLambda],
    records: Callable[[], list[dict[str, Any]]],
    body: str,
    error_type: str,
) -> None:
    lam = ext_lambda({"broken": body})
    result = lam.invoke({})
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == error_type
    assert "handler ran" not in result.logs


def test_exit_error_after_init_resets_the_environment(
    ext_lambda: Callable[..., LocalLambda],
) -> None:
    lam = ext_lambda(
        {
            "quitter": """
            ident = register(["INVOKE"])
            next_event(ident)
            call("POST", EXT + "/exit/error", b'{"errorMessage": "lost the backend"}',
                 {"Lambda-Extension-Identifier": ident,
                  "Lambda-Extension-Function-Error-Type": "Extension.BackendLost"})
            sys.exit(1)
            """
        }
    )
    result = lam.invoke({})
    assert result.error_type == "Extension.BackendLost"
    assert "Error Type: Extension.BackendLost" in result.logs
    assert lam.invoke({}).report.init_duration_ms is not None  # re-initialised


def test_a_runtime_that_dies_mid_invocation_still_sends_shutdown_to_extensions(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """The runtime is gone before the reset begins (a crash, or Ctrl-C's SIGTERM): its
    extensions get SHUTDOWN with reason failure all the same, as on Lambda."""
    lam = ext_lambda(
        {
            "flusher": """
            ident = register(["SHUTDOWN"])
            next_event(ident)  # records what it gets
            """
        },
        app="import os\n\ndef handler(event, context):\n    os._exit(3)\n",
    )
    result = lam.invoke({})
    assert result.error_type == "Runtime.ExitError"
    events = [r["event"] for r in records() if "event" in r]
    assert [(e["eventType"], e["shutdownReason"]) for e in events] == [("SHUTDOWN", "failure")]


def test_disable_file_keeps_extensions_from_starting(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    lam = ext_lambda({"recorder": RECORDER}, extra_files={"disable-extensions-jwigqn8j": ""})
    assert lam.invoke({}).function_error is None
    assert records() == []


def test_max_memory_used_counts_the_extensions(
    ext_lambda: Callable[..., LocalLambda],
) -> None:
    lam = ext_lambda(
        {
            "hungry": """
            ident = register(["INVOKE"])
            ballast = bytearray(200 * 1024 * 1024)
            for i in range(0, len(ballast), 4096):
                ballast[i] = 1
            while True:
                next_event(ident)
            """
        },
        memory_mb=1024,
    )
    assert lam.invoke({}).report.max_memory_used_mb >= 200


def test_runtime_shutdown_hooks_fire_with_an_external_extension(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    app = """
    import json, os
    from runtime_core import on_shutdown

    @on_shutdown
    def flush():
        with open(os.environ["RECORD"], "a") as f:
            f.write(json.dumps({"who": "runtime", "hook": "flush"}) + "\\n")

    def handler(event, context):
        return "ok"
    """
    lam = ext_lambda(
        {"recorder": RECORDER},
        app=app,
        command=[str(BOOTSTRAP)],
        env=bootstrap_env(Path(sys.executable)),
    )
    assert lam.invoke({}).json() == "ok"
    lam.shutdown()
    seen = records()
    assert {"who": "runtime", "hook": "flush"} in seen
    # Lambda's order: SIGTERM to the runtime first (its hooks run), then SHUTDOWN.
    order = [r.get("hook") or r.get("event", {}).get("eventType") for r in seen]
    assert order.index("flush") < order.index("SHUTDOWN")


def test_registration_rules(tmp_path: Path, function_dir: Path) -> None:
    """The spec's error types, checked by a runtime registering internal extensions."""
    script = (
        SCRIPT_PRELUDE
        + """
EXT = "/2020-01-01/extension"
def reg(name, events):
    s, h, b = call("POST", EXT + "/register", json.dumps({"events": events}),
                   {"Lambda-Extension-Name": name} if name else {})
    return s, json.loads(b).get("errorType") if s != 200 else h["lambda-extension-identifier"]
out = {}
out["shutdown_internal"] = reg("wants-shutdown", ["SHUTDOWN"])
out["bad_event"] = reg("bad", ["RESTART"])
out["no_name"] = reg("", [])
ids = [reg(f"ext{i}", []) for i in range(9)]
out["again"] = reg("ext0", [])
ids.append(reg("ext9", []))
out["ten"] = [s for s, _ in ids]
out["eleventh"] = reg("ext10", [])
s, _, b = call("GET", EXT + "/event/next", None, {})
out["missing_id"] = [s, json.loads(b)["errorType"]]
s, _, b = call("GET", EXT + "/event/next", None, {"Lambda-Extension-Identifier": "nope"})
out["unknown_id"] = [s, json.loads(b)["errorType"]]
record(**out)
import threading
for _, ident in ids:
    threading.Thread(target=call, args=("GET", EXT + "/event/next", None,
                     {"Lambda-Extension-Identifier": ident}), daemon=True).start()
status, headers, body = next_event()
record(late=reg("late", []))
post(headers["lambda-runtime-aws-request-id"], "response", b'"done"')
next_event()
"""
    )
    path = function_dir / "runtime.py"
    path.write_text(script)
    record_file = tmp_path / "record.jsonl"
    config = FunctionConfig(
        command=[sys.executable, str(path)],
        task_root=function_dir,
        env={"RECORD": str(record_file)},
        timeout=10.0,
    )
    with LocalLambda(config) as lam:
        assert lam.invoke({}).payload == b'"done"'
    out, late = read_records(record_file)
    assert out["shutdown_internal"] == [403, "ShutdownEventNotSupportedForInternalExtension"]
    assert out["bad_event"] == [403, "Extension.InvalidEventType"]
    assert out["no_name"] == [403, "Extension.InvalidExtensionName"]
    assert out["ten"] == [200] * 10
    assert out["eleventh"] == [403, "Extension.TooManyExtensions"]
    assert out["again"] == [403, "Extension.AlreadyRegistered"]
    assert out["missing_id"] == [403, "Extension.MissingExtensionIdentifier"]
    assert out["unknown_id"] == [403, "Extension.UnknownExtensionIdentifier"]
    assert late == {"late": [403, "Extension.RegistrationClosed"]}


def test_an_extension_past_its_shutdown_budget_is_killed(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    lam = ext_lambda(
        {
            "lingerer": """
            ident = register(["SHUTDOWN"])
            record(pid=os.getpid())
            event = next_event(ident)
            record(received_ms=int(time.time() * 1000))
            time.sleep(3600)  # ignores the deadline
            """
        },
        shutdown_external_ms=600,
    )
    lam.invoke({})
    result = lam.shutdown()
    assert result.signals == ["SIGTERM", "SIGKILL"]
    assert result.shutdown_sent_to == ["lingerer"]
    seen = {k: v for r in records() for k, v in r.items()}
    assert seen["event"]["shutdownReason"] == "spindown"
    assert seen["event"]["deadlineMs"] - seen["received_ms"] <= 600
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)


def test_managed_instances_allow_external_extensions_shutdown_only(
    ext_lambda: Callable[..., LocalLambda], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """On Lambda Managed Instances an external extension may take SHUTDOWN but not INVOKE
    (spec §4.1), and the platform records say how the environment was initialised."""
    body = """
    status, _, answer = call("POST", EXT + "/register", \
json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
                             {"Lambda-Extension-Name": NAME})
    record(invoke_refused=[status, json.loads(answer).get("errorType")])
    ident = register(["SHUTDOWN"])
    while next_event(ident)["eventType"] != "SHUTDOWN":
        pass
    """
    app = """
    async def handler(event, context):
        return {"ok": True}
    """
    lam = ext_lambda(
        {"shutdown-only": body},
        app=app,
        command=[str(BOOTSTRAP)],
        env=bootstrap_env(Path(sys.executable)),
        max_concurrency=2,
    )
    result = lam.invoke({})
    assert result.json() == {"ok": True}
    lam.shutdown()
    refused, registered, *events = records()
    assert refused["invoke_refused"] == [403, "Extension.InvalidEventType"]
    assert registered["registered"] == 200
    assert [e["event"]["eventType"] for e in events] == ["SHUTDOWN"]
    assert '"initializationType": "lambda-managed-instances"' in lam.output
