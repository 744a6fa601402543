"""A small Runtime + Extensions API on 127.0.0.1 for driving the runtime request by request.

The local Lambda is the full emulator; this one lets a test script exactly what the API
answers (any status, any header, a dropped connection) and see every request the
runtime made, in order. Everything is recorded; nothing about the runtime is assumed.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from typing import Any

from tests.stub_server import StubHandler, StubServer

RUNTIME = "/2018-06-01/runtime"


class Seen:
    """One request the runtime made."""

    def __init__(
        self, method: str, path: str, headers: dict[str, str], body: bytes, client_port: int
    ) -> None:
        #: The runtime's side of the TCP connection: one value means one connection.
        self.client_port = client_port
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    @classmethod
    def of(cls, request: StubHandler) -> Seen:
        """The request ``request`` is handling, its body read."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.read_body()
        return cls(request.command, request.path, headers, body, request.client_address[1])

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Seen({self.method} {self.path}, {self.body[:80]!r})"


class FakeRuntimeApi:
    """Queue invocations with ``invoke``; read what came back with ``wait_for``."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[bytes, dict[str, str]] | None] = queue.Queue()
        self.seen: list[Seen] = []
        self._seen_changed = threading.Condition()
        #: path suffix -> list of (status, body) to answer instead of the normal reply
        self.faults: dict[str, list[tuple[int, bytes]]] = {}
        #: path suffix -> number of times to drop the connection instead of answering
        self.drops: dict[str, int] = {}
        api = self

        class Handler(StubHandler):
            def _record(self) -> Seen:
                seen = Seen.of(self)
                with api._seen_changed:
                    api.seen.append(seen)
                    api._seen_changed.notify_all()
                return seen

            def _fault(self) -> bool:
                for suffix, count in api.drops.items():
                    if self.path.endswith(suffix) and count:
                        api.drops[suffix] = count - 1
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return True
                for suffix, replies in api.faults.items():
                    if self.path.endswith(suffix) and replies:
                        status, body = replies.pop(0)
                        self.reply(status, body)
                        return True
                return False

            def do_GET(self) -> None:
                self._record()
                if self._fault():
                    return
                if self.path == RUNTIME + "/invocation/next":
                    item = api._events.get()
                    if item is None:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    body, headers = item
                    self.reply(200, body, headers)
                elif self.path == "/2020-01-01/extension/event/next":
                    threading.Event().wait()  # an extension with no events waits forever
                else:
                    self.reply(404, b'{"errorType":"NotFound"}')

            def do_POST(self) -> None:
                self._record()
                if self._fault():
                    return
                if self.path == "/2020-01-01/extension/register":
                    self.reply(
                        200, b'{"functionName":"f"}', {"Lambda-Extension-Identifier": "ext-1"}
                    )
                else:
                    self.reply(202, b'{"status":"OK"}')

        self._server = StubServer(Handler, poll_s=0.05)
        self.address = self._server.address

    def invoke(self, event: Any = None, *, raw: bytes | None = None, **headers: str) -> str:
        """Queue one invocation; return its request id. ``headers`` use ``_`` for ``-``."""
        request_id = str(uuid.uuid4())
        all_headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": "99999999999999",
            "Lambda-Runtime-Invoked-Function-Arn": (
                "arn:aws:lambda:us-east-1:123456789012:function:f"
            ),
            "Content-Type": "application/json",
        }
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        self._events.put((raw if raw is not None else json.dumps(event).encode(), all_headers))
        return request_id

    def wait_for(self, suffix: str, count: int = 1, timeout: float = 20.0) -> list[Seen]:
        """The first ``count`` requests whose path ends with ``suffix``, waiting for them."""

        def matching() -> list[Seen]:
            return [s for s in self.seen if s.path.endswith(suffix)]

        with self._seen_changed:
            if not self._seen_changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"no {count} x {suffix} within {timeout}s; seen: {self.seen}")
            return matching()[:count]

    def results(self) -> list[Seen]:
        """Every /response and /error posted, in order."""
        return [s for s in self.seen if s.path.endswith(("/response", "/error"))]

    def close(self) -> None:
        self._events.put(None)
        self._server.close()
