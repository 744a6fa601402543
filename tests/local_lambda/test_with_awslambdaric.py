"""The official client (awslambdaric 4.2.2) runs unchanged under the local Lambda."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from local_lambda import LocalLambda


def count_lines(text: str, prefix: str) -> int:
    return sum(line.startswith(prefix) for line in text.splitlines())


ECHO = """
    import json, os, time

    def handler(event, context):
        print("handling", json.dumps(event))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise ValueError("boom: " + event["fail"])
        if event.get("exit"):
            os._exit(event["exit"])
        return {
            "event": event,
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "arn": context.invoked_function_arn,
            "client_custom": context.client_context.custom if context.client_context else None,
            "tenant_id": getattr(context, "tenant_id", None),
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "region": os.environ.get("AWS_REGION"),
            "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
            "tz": os.environ.get("TZ"),
        }
"""


def test_result_and_context(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO, memory_mb=256, timeout=5.0)
    r = lam.invoke(
        {"name": "x"},
        client_context={"custom": {"k": "v"}},
        tenant_id="tenant-1",
        trace_id="Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Parent=07f5xmpl2d1f6f85;Sampled=1",
    )
    assert r.function_error is None
    body = r.json()
    assert body["event"] == {"name": "x"}
    assert body["request_id"] == r.request_id == r.report.request_id
    assert body["function_name"] == "test-function"
    assert int(body["memory"]) == 256
    assert 0 < body["remaining_ms"] <= 5000
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    assert body["client_custom"] == {"k": "v"}
    assert body["tenant_id"] == "tenant-1"
    assert body["trace"].startswith("Root=1-5e34a614")
    assert body["region"] == "us-east-1"
    assert body["task_root"] == str(lam.config.task_root)
    assert body["tz"] == ":UTC"
    assert 'handling {"name": "x"}' in r.logs


def test_report_lines_cold_then_warm(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO)
    cold = lam.invoke({"sleep": 0.2})
    warm = lam.invoke({})
    assert cold.report is not None and warm.report is not None
    assert cold.report.init_duration_ms is not None and cold.report.init_duration_ms > 0
    assert warm.report.init_duration_ms is None
    assert cold.report.duration_ms >= 200
    assert cold.report.billed_duration_ms >= cold.report.duration_ms
    # Plausibility, not timing: a Python interpreter uses more than 5 MB, less than 1 GB.
    assert 5 < cold.report.max_memory_used_mb < 1024
    assert warm.report.memory_size_mb == 128
    report_line = re.compile(
        r"^REPORT RequestId: (\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?$",
        re.M,
    )
    reports = report_line.findall(lam.output)
    assert [rid for rid, _ in reports] == [cold.request_id, warm.request_id]
    assert reports[0][1] and not reports[1][1]
    assert count_lines(lam.output, "INIT_START Runtime Version:") == 1
    assert f"START RequestId: {cold.request_id} Version: $LATEST\n" in cold.logs
    assert f"END RequestId: {warm.request_id}\n" in warm.logs
    # the handler's output sits between START and END of its own invocation
    assert warm.logs.index("START") < warm.logs.index("handling {}") < warm.logs.index("END")


def test_handler_error(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO)
    r = lam.invoke({"fail": "bad input"})
    assert r.function_error == "Unhandled"
    assert r.json()["errorType"] == "ValueError"
    assert r.json()["errorMessage"] == "boom: bad input"
    assert lam.invoke({}).function_error is None  # same environment keeps serving


def test_init_error_then_fresh_init(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda("import no_such_module_here\ndef handler(event, context):\n    return 1\n")
    first = lam.invoke({})
    assert first.function_error == "Unhandled"
    assert first.json()["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module_here" in first.json()["errorMessage"]
    assert "INIT_REPORT Init Duration:" in first.logs
    assert first.report is not None and first.report.max_memory_used_mb > 0
    second = lam.invoke({})
    assert second.json()["errorType"] == "Runtime.ImportModuleError"
    assert (
        count_lines(lam.output, "INIT_START ") == 2
    )  # each invoke after a failed init starts afresh


def test_timeout_kills_and_reinits(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO, timeout=1.0)
    lam.invoke({})
    r = lam.invoke({"sleep": 30})
    assert r.function_error == "Unhandled"
    assert r.json()["errorType"] == "Sandbox.Timedout"
    assert (
        r.json()["errorMessage"]
        == f"RequestId: {r.request_id} Error: Task timed out after 1.00 seconds"
    )
    assert re.search(rf"^\S+Z {r.request_id} Task timed out after 1.00 seconds$", r.logs, re.M)
    after = lam.invoke({"n": 1})
    assert after.json()["event"] == {"n": 1}
    assert after.report is not None and after.report.init_duration_ms is not None  # fresh init
    assert count_lines(lam.output, "INIT_START ") == 2


def test_crash_is_runtime_exit_error(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO)
    r = lam.invoke({"exit": 3})
    assert r.function_error == "Unhandled"
    assert r.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {r.request_id} Error: "
        "Runtime exited with error: exit status 3",
    }
    assert lam.invoke({"n": 2}).json()["event"] == {"n": 2}


def test_json_log_format(ric_lambda: Callable[..., LocalLambda]) -> None:
    lam = ric_lambda(ECHO, log_format="JSON")
    r = lam.invoke({})
    platform = [json.loads(line) for line in r.logs.splitlines() if line.startswith('{"time"')]
    types = [p["type"] for p in platform]
    assert types == [
        "platform.initStart",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    report = platform[-1]["record"]
    assert report["requestId"] == r.request_id
    assert report["metrics"]["memorySizeMB"] == 128
    assert "initDurationMs" in report["metrics"]


def test_invocations_from_threads_queue(ric_lambda: Callable[..., LocalLambda]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lam = ric_lambda(ECHO)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: lam.invoke({"i": i}), range(8)))
    assert [r.json()["event"]["i"] for r in results] == list(range(8))
    assert count_lines(lam.output, "INIT_START ") == 1
