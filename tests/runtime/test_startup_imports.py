"""The blocking engine serves a sync handler without importing the event-loop stack.

A correctness property of the cold-start design (see design.md's import budget), not a
timing: asyncio, uvloop, structlog and httpx must not be loaded until a handler asks.
"""

from __future__ import annotations

from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

HEAVY = ["asyncio", "uvloop", "structlog", "httpx"]


def test_sync_handler_runs_without_event_loop_modules(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    start_runtime(
        {
            "app.py": f"""
        import sys
        def handler(event, context):
            return [name for name in {HEAVY!r} if name in sys.modules]
    """
        }
    )
    api.invoke({})
    api.invoke({})
    first, second = api.wait_for("/response", 2)
    assert first.json() == [] and second.json() == []


def test_async_handler_does_get_the_loop(api: FakeRuntimeApi, start_runtime: Start) -> None:
    """The same check can fail: with an ``async def`` handler the uvloop engine is loaded."""
    start_runtime(
        {
            "app.py": f"""
        import sys
        async def handler(event, context):
            return [name for name in {HEAVY!r} if name in sys.modules]
    """
        }
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == ["asyncio", "uvloop"]
