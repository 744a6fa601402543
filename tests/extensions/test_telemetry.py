"""Telemetry deliveries: typed records, and the listener over a real socket.

The listener is driven the way Lambda drives it: HTTP/1.1 POSTs of JSON arrays, several
on one keep-alive connection, and some bad requests that must get a clear answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest

from runtime_core.extensions import (
    Buffering,
    LogRecord,
    PlatformRecord,
    ReportRecord,
    TelemetryEvent,
    TelemetryListener,
    parse_batch,
)
from tests.extensions.fake_extensions_api import report, telemetry


def test_records_are_typed_by_their_type() -> None:
    batch = [
        telemetry("platform.start", {"requestId": "r1", "version": "$LATEST"}),
        telemetry("function", "[INFO]\t2026-11-23T23:00:00.000Z\tr1\thello\n"),
        telemetry("function", {"message": "as json", "level": "INFO"}),
        telemetry("extension", "shipper started"),
        report("r1", duration_ms=12.5, init_ms=80.25),
        telemetry("platform.future", {"x": 1}),
    ]
    events = parse_batch(json.dumps(batch).encode())
    assert [type(e) for e in events] == [
        PlatformRecord,
        LogRecord,
        LogRecord,
        LogRecord,
        ReportRecord,
        PlatformRecord,
    ]
    start, text_line, json_line, extension_line, report_event, _ = events
    assert (
        isinstance(start, PlatformRecord)
        and start.request_id == "r1"
        and start.category == "platform"
    )
    assert isinstance(text_line, LogRecord) and text_line.message.endswith("\thello\n")
    assert isinstance(json_line, LogRecord) and json_line.message == "as json"
    assert extension_line.category == "extension"
    assert isinstance(report_event, ReportRecord)
    assert report_event.request_id == "r1" and report_event.status == "success"
    assert report_event.duration_ms == 12.5
    assert report_event.billed_duration_ms == 13
    assert report_event.memory_size_mb == 128
    assert report_event.max_memory_used_mb == 40
    assert report_event.init_duration_ms == 80.25


def test_a_warm_report_has_no_init_duration() -> None:
    (event,) = parse_batch(json.dumps([report("r2")]).encode())
    assert isinstance(event, ReportRecord) and event.init_duration_ms is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"type": "function"}', "must be a JSON array, got dict"),
        (b'[{"record": 1}]', "item 0 of the delivery is not a {time, type, record} object"),
        (b"[1]", "item 0"),
    ],
)
def test_what_is_not_a_batch_is_named(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_batch(body)


def test_buffering_outside_lambdas_range_is_refused_clearly() -> None:
    assert Buffering().as_json() == {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100}
    with pytest.raises(ValueError, match=r"Buffering\.timeout_ms must be between 25 and 30000"):
        Buffering(timeout_ms=10)
    with pytest.raises(ValueError, match=r"Buffering\.max_items must be between 1000 and 10000"):
        Buffering(max_items=50)


def _post(body: bytes, method: str = "POST", last: bool = True) -> bytes:
    """A request as Lambda's sender writes it; ``last`` asks the listener to close after it."""
    head = f"{method} / HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\n"
    if last:
        head += "Connection: close\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload`` on one connection and read every answer until the listener closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    data = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return data


def test_listener_answers_200_and_queues_each_batch_in_order() -> None:
    async def scenario() -> tuple[bytes, list[list[TelemetryEvent]]]:
        listener = TelemetryListener("127.0.0.1", 0)
        port = await listener.start()
        first = json.dumps([telemetry("function", "one\n")]).encode()
        second = json.dumps([telemetry("function", "two\n"), report("r1")]).encode()
        # Two requests on one keep-alive connection, sent in one write.
        data = await _exchange(port, _post(first, last=False) + _post(second))
        batches = [listener.queue.get_nowait() for _ in range(listener.queue.qsize())]
        listener.close()
        assert listener.deliveries == 2
        return data, batches

    data, batches = asyncio.run(scenario())
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert [[e.type for e in batch] for batch in batches] == [
        ["function"],
        ["function", "platform.report"],
    ]
    assert isinstance(batches[0][0], LogRecord) and batches[0][0].message == "one\n"


def test_listener_refuses_what_lambda_would_never_send() -> None:
    async def scenario() -> tuple[bytes, bytes, bytes, int]:
        listener = TelemetryListener("127.0.0.1", 0)
        port = await listener.start()
        not_array = await _exchange(port, _post(b'{"a": 1}'))
        wrong_method = await _exchange(port, _post(b"", method="GET"))
        garbage = await _exchange(port, b"\x00\x01 not http\r\n\r\n")
        listener.close()
        return not_array, wrong_method, garbage, listener.queue.qsize()

    not_array, wrong_method, garbage, queued = asyncio.run(scenario())
    assert not_array.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert not_array.endswith(b"must be a JSON array, got dict")
    assert wrong_method.startswith(b"HTTP/1.1 405 ")
    assert garbage.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in garbage
    assert queued == 0


def test_listener_binds_the_sandbox_address_on_a_free_port() -> None:
    async def scenario() -> int:
        listener = TelemetryListener()  # 0.0.0.0, any free port: what an extension uses in Lambda
        port = await listener.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                pass
        finally:
            listener.close()
        return port

    assert asyncio.run(scenario()) > 0
