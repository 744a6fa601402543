"""The extensions client through a hostile Extensions API: stale keep-alives and resets.

An extension process's calls (register, ``/event/next``, its error reports) go through
the same client as the runtime's, so the same delivery rule holds: a request whose
connection fails before any byte of its answer is sent once more on a new connection.
Driven in-process against ``tests.hostile_api.HostileApi`` over real sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from runtime_core.extensions import ExtensionClient
from runtime_core.extensions.events import InvokeEvent, ShutdownEvent
from tests.hostile_api import HostileApi


@pytest.fixture
def api() -> Iterator[HostileApi]:
    server = HostileApi()
    yield server
    server.close()


def _invoke_event(request_id: str) -> dict[str, object]:
    deadline = int(time.time() * 1000) + 60_000
    return {"eventType": "INVOKE", "requestId": request_id, "deadlineMs": deadline}


# (kind, fault): the fault hits the next request of that kind.
FAULTS = [
    ("register", "close_after"),  # the server closes the idle connection after the 200
    ("register", "reset"),  # reset before the answer: registered by the copy
    ("event/next", "reset"),  # the long poll reset before an event was handed out
    ("event/next", "close_after"),  # an event, then the connection closed at once
    ("event/next", "close_later"),  # closed while the extension works on the event
    ("event/next", "reset_mid_answer"),  # half an event: a GET takes nothing, asked again
    ("event/next", "truncated"),  # Content-Length larger than the event, then closed
    ("extension/error", "reset"),
]


@pytest.mark.parametrize(("kind", "fault"), FAULTS, ids=[f"{k}-{f}" for k, f in FAULTS])
def test_every_extension_call_gets_through_the_fault(
    api: HostileApi, kind: str, fault: str
) -> None:
    api.fault(kind, fault, delay=0.05)
    api.extension_event(_invoke_event("one"))
    api.extension_event(_invoke_event("two"))
    api.extension_event({"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 1})

    async def scenario() -> list[InvokeEvent | ShutdownEvent]:
        client = ExtensionClient(api.address, "probe")
        try:
            registration = await client.register(["INVOKE", "SHUTDOWN"])
            assert registration.extension_id == "ext-1"
            events = [await client.next_event() for _ in range(2)]
            await asyncio.sleep(0.1)  # the extension works on the event; close_later fires
            events.append(await client.next_event())
            await client.exit_error("Extension.Probe", "stopping")
            return events
        finally:
            client.close()

    events = asyncio.run(scenario())
    assert [getattr(e, "request_id", None) for e in events[:2]] == ["one", "two"]
    assert isinstance(events[2], ShutdownEvent)
    assert events[2].reason == "spindown"
    (error,) = api.extension_errors  # the reset one was never answered; its copy was
    assert error.json()["errorType"] == "Extension.Probe"
    assert api.pending_faults() == [], "the fault was never applied"
    assert api.connections() >= 2  # the call that failed went on a new connection
