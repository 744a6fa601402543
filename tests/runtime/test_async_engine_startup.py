"""The event-loop engine does not build the blocking engine's client (a socket driver and
its 256 KiB buffer) only to throw it away: start-up makes it on the blocking path only."""

from __future__ import annotations

from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

COUNT_DRIVERS = """
    import gc
    from runtime_core.transport.blocking import BlockingTransport

    def drivers():
        return sum(isinstance(o, BlockingTransport) for o in gc.get_objects())
"""


def test_async_handler_has_no_blocking_driver(api: FakeRuntimeApi, start_runtime: Start) -> None:
    start_runtime(
        {
            "app.py": COUNT_DRIVERS
            + """
    async def handler(event, context):
        return drivers()
    """
        }
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == 0


def test_sync_handler_does_have_one(api: FakeRuntimeApi, start_runtime: Start) -> None:
    """The same check can fail: the blocking engine serves through that driver."""
    start_runtime(
        {
            "app.py": COUNT_DRIVERS
            + """
    def handler(event, context):
        return drivers()
    """
        }
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == 1
