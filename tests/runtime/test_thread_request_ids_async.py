"""Threads started by ``async def`` and streaming handlers see the invocation, at concurrency 1.

The blocking engine already makes the one invocation process-wide
(``tests/logs/test_e2e_threads.py``); the event-loop engine did not, so a thread's log records
had an empty request id there.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from local_lambda import LocalLambda

MakeLambda = Callable[..., LocalLambda]

APP = """
import logging, threading
from runtime_core import current_invocation

def _in_a_thread():
    seen = []
    def work():
        logging.getLogger("worker").warning("from a thread")
        inv = current_invocation()
        seen.append(inv.request_id if inv else None)
    thread = threading.Thread(target=work)  # a new thread: no copy of the context variables
    thread.start()
    thread.join()
    return seen[0]

async def async_handler(event, context):
    return {"thread_saw": _in_a_thread()}

async def streaming_handler(event, context):
    yield _in_a_thread().encode()
"""


@pytest.mark.parametrize("handler", ["async_handler", "streaming_handler"])
def test_threads_of_an_async_handler_carry_the_request_id(
    make_lambda: MakeLambda, handler: str
) -> None:
    lam = make_lambda({"app.py": APP}, handler=f"app.{handler}", log_format="JSON")
    for _ in range(2):
        result = lam.invoke({})
        assert result.function_error is None
        saw = result.json()["thread_saw"] if handler == "async_handler" else result.payload.decode()
        assert saw == result.request_id
        records = [
            json.loads(line)
            for line in result.logs.splitlines()
            if line.startswith("{") and "from a thread" in line
        ]
        assert [record["requestId"] for record in records] == [result.request_id]
