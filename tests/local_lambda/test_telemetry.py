"""The Telemetry API: subscriptions during init, platform/function/extension records delivered
to a real HTTP listener as JSON arrays, by the buffering rules."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_lambda import LocalLambda, telemetry
from tests.conftest import write_function
from tests.local_lambda.test_extensions_kit import (
    TelemetryListener,
    extension,
    make_layer,
    read_records,
)

AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric", "app.handler"]


@pytest.fixture
def listener() -> Iterator[TelemetryListener]:
    server = TelemetryListener()
    yield server
    server.close()


@pytest.fixture
def telemetry_lambda(
    tmp_path: Path,
    function_dir: Path,
    listener: TelemetryListener,
    open_lambda: Callable[..., LocalLambda],
) -> Callable[..., LocalLambda]:
    """A function under awslambdaric with one extension (``body``); $PORT is the listener's."""

    def make(body: str, app: str, **kwargs: Any) -> LocalLambda:
        write_function(function_dir, {"app.py": app})
        layer = make_layer(tmp_path / "layer.zip", {"extensions/shipper": extension(body)})
        env = {"RECORD": str(tmp_path / "record.jsonl"), "PORT": str(listener.port)}
        return open_lambda(
            command=AWSLAMBDARIC, task_root=function_dir, layers=[layer], env=env, timeout=10.0,
            **kwargs,
        )  # fmt: skip

    return make


SHIPPER = """
ident = register(["INVOKE"])
record(subscribed=subscribe(ident, os.environ["PORT"], timeoutMs=25)[0])
print("shipper subscribed", flush=True)
while True:
    next_event(ident)
"""

APP = """
print("cold line", flush=True)

def handler(event, context):
    print("hello", event["n"], flush=True)
    return "ok"
"""


def test_platform_function_and_extension_records_reach_the_listener(
    telemetry_lambda: Callable[..., LocalLambda], listener: TelemetryListener
) -> None:
    lam = telemetry_lambda(SHIPPER, APP)
    result = lam.invoke({"n": 7})
    report = listener.wait_for("platform.report", requestId=result.request_id)
    types = [item["type"] for item in listener.records]
    for expected in (
        "platform.initStart",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ):
        assert expected in types
    assert types.index("platform.initStart") < types.index("platform.start")
    assert types.index("platform.start") < types.index("platform.runtimeDone")
    # platform.report's metrics are the REPORT line's figures.
    metrics = report["record"]["metrics"]
    assert metrics == {
        "durationMs": round(result.report.duration_ms, 3),
        "billedDurationMs": result.report.billed_duration_ms,
        "memorySizeMB": 128,
        "maxMemoryUsedMB": result.report.max_memory_used_mb,
        "initDurationMs": round(result.report.init_duration_ms, 3),
    }
    assert report["record"]["status"] == "success"
    function_lines = [i["record"] for i in listener.records if i["type"] == "function"]
    assert "cold line" in function_lines and "hello 7" in function_lines
    extension_lines = [i["record"] for i in listener.records if i["type"] == "extension"]
    assert "shipper subscribed" in extension_lines
    assert all(item["time"].endswith("Z") for item in listener.records)


def test_a_batch_is_sent_when_max_bytes_is_reached(
    telemetry_lambda: Callable[..., LocalLambda], listener: TelemetryListener
) -> None:
    body = SHIPPER.replace("timeoutMs=25", "timeoutMs=30000, maxBytes=262144, maxItems=10000")
    app = """
    def handler(event, context):
        for i in range(600):
            print(f"{i:04d} " + "x" * 1000, flush=True)
        return "ok"
    """
    lam = telemetry_lambda(body, app)
    lam.invoke({})
    # Well before the 30 s timeout, the 600 kB of log lines arrive in batches of <= maxBytes.
    listener.wait_for("function", timeout=20.0)
    with listener._changed:
        listener._changed.wait_for(lambda: len(listener.batches) >= 2, 20.0)
    assert len(listener.batches) >= 2
    assert all(size <= 262144 for size in listener.sizes)


def test_subscription_rules(
    tmp_path: Path, telemetry_lambda: Callable[..., LocalLambda], listener: TelemetryListener
) -> None:
    body = """
    ident = register(["INVOKE"])
    port = os.environ["PORT"]
    record(bad_host=subscribe(ident, port, host="example.com")[0])
    record(bad_buffering=subscribe(ident, port, timeoutMs=5)[0])
    record(no_id=call("PUT", "/2022-07-01/telemetry", b"{}", {})[0])
    record(logs_api=subscribe(ident, port, api="/2020-08-15/logs", timeoutMs=25)[0])
    record(both=subscribe(ident, port, timeoutMs=25)[0])
    while True:
        event = next_event(ident)
        status, answer = subscribe(ident, port, timeoutMs=25)
        record(after_init=status, answer=json.loads(answer)["errorType"])
    """
    lam = telemetry_lambda(body, APP)
    result = lam.invoke({"n": 1})
    seen = {k: v for r in read_records(tmp_path / "record.jsonl") for k, v in r.items()}
    assert seen["bad_host"] == 400 and seen["bad_buffering"] == 400
    assert seen["no_id"] == 403
    assert seen["logs_api"] == 200  # the older Logs API is answered too
    assert seen["both"] == 400  # one of the two APIs, not both
    assert seen["after_init"] == 403 and seen["answer"] == "Telemetry.SubscriptionClosed"
    # The Logs API subscriber gets the records as well.
    listener.wait_for("platform.report", requestId=result.request_id)
    assert "hello 1" in [i["record"] for i in listener.records if i["type"] == "function"]


def test_records_wait_for_a_listener_that_is_not_there_yet(
    tmp_path: Path, function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> None:
    """Lambda retries a delivery (with backoff) while there is no listener, or the POST
    fails: the records of init, sent before the extension listens, are not lost."""
    late = TelemetryListener(listening=False)  # its port refuses connections for now
    try:
        write_function(function_dir, {"app.py": APP})
        layer = make_layer(tmp_path / "layer.zip", {"extensions/shipper": extension(SHIPPER)})
        env = {"RECORD": str(tmp_path / "record.jsonl"), "PORT": str(late.port)}
        lam = open_lambda(command=AWSLAMBDARIC, task_root=function_dir, layers=[layer], env=env)
        result = lam.invoke({"n": 3})
        assert result.function_error is None, lam.output
        time.sleep(0.5)  # several deliveries have failed by now
        late.listen()
        late.wait_for("platform.report", requestId=result.request_id)
        types = [item["type"] for item in late.records]
        for once in ("platform.initStart", "platform.initReport", "platform.start"):
            assert types.count(once) == 1, types
        assert "hello 3" in [i["record"] for i in late.records if i["type"] == "function"]
    finally:
        late.close()


def test_a_listener_answering_late_because_the_local_lambda_stalled_is_not_failed() -> None:
    """A POST's answer limit counts only time in which the local Lambda's loop ran: its own
    stall (a loaded machine) must not fail a batch the listener took (lost, or sent twice)."""
    listener = TelemetryListener()

    async def stalled_post() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(time.sleep, 1.5)  # the loop is stuck while the listener answers
        body = json.dumps([{"time": "t", "type": "function", "record": "x"}]).encode()
        await telemetry._answered(telemetry._post("127.0.0.1", listener.port, "/", body), 1.0)

    try:
        asyncio.run(stalled_post())
        assert [item["record"] for item in listener.records] == ["x"]
    finally:
        listener.close()


def test_what_a_subscriber_leaves_undelivered_past_the_bound_is_dropped_and_reported(
    tmp_path: Path, function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> None:
    """Lambda drops records to keep its memory bounded when a subscriber falls behind, and
    sends platform.logsDropped: 1.5 MB of log lines while nobody listens (the local Lambda
    keeps four times maxBytes, 1 MiB here) lose the oldest waiting batches, not the newest."""
    late = TelemetryListener(listening=False)
    try:
        app = """
        def handler(event, context):
            for i in range(1500):
                print(f"{i:04d} " + "x" * 1000, flush=True)
            return "ok"
        """
        write_function(function_dir, {"app.py": app})
        layer = make_layer(tmp_path / "layer.zip", {"extensions/shipper": extension(SHIPPER)})
        env = {"RECORD": str(tmp_path / "record.jsonl"), "PORT": str(late.port)}
        lam = open_lambda(command=AWSLAMBDARIC, task_root=function_dir, layers=[layer], env=env)
        result = lam.invoke({})
        assert result.function_error is None, lam.output
        late.listen()
        late.wait_for("platform.report", requestId=result.request_id)
        dropped = late.wait_for("platform.logsDropped")["record"]
        assert dropped["droppedRecords"] > 0 and dropped["droppedBytes"] > 0, dropped
        lines = [i["record"][:4] for i in late.records if i["type"] == "function"]
        assert "1499" in lines and len(lines) + dropped["droppedRecords"] >= 1500
        assert len(lines) < 1500
        assert late.records[0]["type"] == "platform.initStart"  # (the first batch)
    finally:
        late.close()
