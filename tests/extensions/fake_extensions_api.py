"""A scripted Extensions + Telemetry API on 127.0.0.1, playing AWS for one extension process.

The local Lambda is the full emulator; this one lets a test decide exactly when each event
goes out and when each telemetry batch is delivered, and see every call the extension
made. Events are queued with ``send_event``; ``deliver`` POSTs a batch to the listener the
extension subscribed, as Lambda does (``sandbox.localdomain`` is 127.0.0.1 here).
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from tests.runtime.fake_api import Seen
from tests.stub_server import StubHandler, StubServer


class FakeExtensionsApi:
    """One extension's view of Lambda: register, event/next, errors, telemetry subscription."""

    def __init__(self, function_name: str = "shipper-test") -> None:
        self.function_name = function_name
        self.extension_id = str(uuid.uuid4())
        self.calls: list[Seen] = []
        self._changed = threading.Condition()
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.subscription: dict[str, Any] | None = None
        #: When set, ``PUT /telemetry`` is refused with this (status, errorType).
        self.refuse_subscription: tuple[int, str] | None = None
        api = self

        class Handler(StubHandler):
            def _handle(self) -> None:
                call = Seen.of(self)
                with api._changed:
                    api.calls.append(call)
                    api._changed.notify_all()
                api._answer(call, self.reply)

            do_GET = do_POST = do_PUT = _handle

        self._server = StubServer(Handler)
        self.address = self._server.address

    def _answer(self, call: Seen, reply: Any) -> None:
        path = call.path
        if path == "/2020-01-01/extension/register":
            info = {
                "functionName": self.function_name,
                "functionVersion": "$LATEST",
                "handler": "app.handler",
            }
            reply(
                200, json.dumps(info).encode(), {"Lambda-Extension-Identifier": self.extension_id}
            )
        elif path == "/2020-01-01/extension/event/next":
            event = self._events.get()
            reply(200, json.dumps(event).encode(), {"Content-Type": "application/json"})
            self._events.task_done()
        elif path in ("/2020-01-01/extension/init/error", "/2020-01-01/extension/exit/error"):
            reply(202, b'{"status":"OK"}')
        elif path == "/2022-07-01/telemetry" and call.method == "PUT" and self.refuse_subscription:
            status, error_type = self.refuse_subscription
            body = {"errorType": error_type, "errorMessage": "buffering.timeoutMs: must be >= 25"}
            reply(status, json.dumps(body).encode())
        elif path == "/2022-07-01/telemetry" and call.method == "PUT":
            self.subscription = call.json()
            reply(200, b'"OK"')
        else:
            reply(404, b'{"errorType":"NotFound","errorMessage":"no such path"}')

    def invoke(self, request_id: str, deadline_in_s: float = 3.0, trace: str | None = None) -> None:
        event: dict[str, Any] = {
            "eventType": "INVOKE",
            "deadlineMs": int((time.time() + deadline_in_s) * 1000),
            "requestId": request_id,
            "invokedFunctionArn": (
                f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
            ),
        }
        if trace:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace}
        self._events.put(event)

    def shutdown(self, budget_s: float = 2.0, reason: str = "SPINDOWN") -> None:
        self._events.put(
            {
                "eventType": "SHUTDOWN",
                "deadlineMs": int((time.time() + budget_s) * 1000),
                "shutdownReason": reason,
            }
        )

    def wait_taken(self) -> None:
        """Return once every queued event has been sent to the extension."""
        self._events.join()

    def wait_for(self, path_suffix: str, count: int = 1, timeout: float = 30.0) -> list[Seen]:
        """The calls whose path ends with ``path_suffix``, once there are ``count`` of them."""

        def matching() -> list[Seen]:
            return [call for call in self.calls if call.path.endswith(path_suffix)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(
                    f"{count} x {path_suffix} not seen within {timeout}s; calls: {self.calls}"
                )
            return matching()

    def deliver(self, batch: list[dict[str, Any]]) -> tuple[int, bytes]:
        """POST one telemetry batch to the subscribed listener; returns its status and body."""
        if self.subscription is None:
            raise AssertionError("the extension has not subscribed to telemetry")
        url = urlsplit(self.subscription["destination"]["URI"])
        assert url.hostname == "sandbox.localdomain"
        connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=10)
        try:
            connection.request(
                "POST", url.path or "/", json.dumps(batch), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def close(self) -> None:
        self._server.close()


def telemetry(kind: str, record: Any) -> dict[str, Any]:
    """One telemetry item as Lambda delivers it."""
    return {"time": "2026-11-23T23:00:00.000Z", "type": kind, "record": record}


def report(
    request_id: str, duration_ms: float = 12.5, init_ms: float | None = None
) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "durationMs": duration_ms,
        "billedDurationMs": int(duration_ms) + 1,
        "memorySizeMB": 128,
        "maxMemoryUsedMB": 40,
    }
    if init_ms is not None:
        metrics["initDurationMs"] = init_ms
    return telemetry(
        "platform.report", {"requestId": request_id, "status": "success", "metrics": metrics}
    )
