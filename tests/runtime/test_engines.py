"""Both engines, end to end: the real bootstrap in the local Lambda, on every Python."""

from __future__ import annotations

from collections.abc import Callable

from local_lambda import LocalLambda

MakeLambda = Callable[..., LocalLambda]


def test_sync_handler_gets_event_and_context(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        from runtime_core import current_invocation
        def handler(event, context):
            return {"event": event, "id": context.aws_request_id,
                    "current": current_invocation().request_id,
                    "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000}
    """
        }
    )
    for n in range(3):
        result = lam.invoke({"n": n})
        assert result.function_error is None, result.payload
        assert result.json() == {
            "event": {"n": n},
            "id": result.request_id,
            "current": result.request_id,
            "remaining_ok": True,
        }


def test_handler_exception_becomes_one_error_and_the_runtime_goes_on(
    make_lambda: MakeLambda,
) -> None:
    lam = make_lambda(
        {
            "app.py": """
        def handler(event, context):
            if event == ["boom"]:
                raise ValueError("bad value")
            return "fine"
    """
        }
    )
    failed = lam.invoke(["boom"])
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "ValueError"
    assert failed.json()["errorMessage"] == "bad value"
    assert lam.invoke(["ok"]).json() == "fine"


def test_asyncio_run_inside_a_sync_handler(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        import asyncio
        async def double(x):
            await asyncio.sleep(0)
            return x * 2
        def handler(event, context):
            return asyncio.run(double(event))
    """
        }
    )
    assert lam.invoke(21).json() == 42
    assert lam.invoke(5).json() == 10


def test_async_handler_loop_and_clients_live_across_invocations(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        import asyncio, threading
        from runtime_core import current_invocation
        made_at_import = asyncio.Queue()  # bound to the engine's loop on first use
        state = {}
        async def handler(event, context):
            loop = asyncio.get_running_loop()
            if "lock" not in state:
                state["lock"] = asyncio.Lock()  # created in one invocation, used in the next
                state["loop"] = id(loop)
            async with state["lock"]:
                await made_at_import.put(event)
                got = await made_at_import.get()
            return {"same_loop": state["loop"] == id(loop), "got": got,
                    "loop": type(loop).__module__, \
"main_thread": threading.current_thread() is threading.main_thread(),
                    "current": current_invocation().request_id}
    """
        }
    )
    for n in range(3):
        result = lam.invoke(n)
        assert result.function_error is None, lam.output
        body = result.json()
        assert body["same_loop"] and body["got"] == n and body["current"] == result.request_id
        assert body["loop"].startswith("uvloop") and body["main_thread"]


def test_trace_id_env_set_per_invocation_and_removed_when_absent(api, start_runtime) -> None:  # type: ignore[no-untyped-def]
    start_runtime(
        {
            "app.py": """
        import os
        def handler(event, context):
            return os.environ.get("_X_AMZN_TRACE_ID", "<unset>")
    """
        }
    )
    api.invoke(1, Lambda_Runtime_Trace_Id="Root=1-aaa;Parent=b;Sampled=1")
    api.invoke(2)
    api.invoke(3, Lambda_Runtime_Trace_Id="Root=1-ccc")
    api.invoke(4, Lambda_Runtime_Trace_Id="")  # Managed Instances send empty values
    posts = api.wait_for("/response", 4)
    assert [p.json() for p in posts] == [
        "Root=1-aaa;Parent=b;Sampled=1",
        "<unset>",
        "Root=1-ccc",
        "<unset>",
    ]


def test_trace_id_in_the_local_lambda(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        import os
        def handler(event, context):
            return os.environ.get("_X_AMZN_TRACE_ID")
    """
        }
    )
    assert lam.invoke(1, trace_id="Root=1-5e1b4151-5ac6c58f5d2d4f1c8b4e6c47;Sampled=1").json() == (
        "Root=1-5e1b4151-5ac6c58f5d2d4f1c8b4e6c47;Sampled=1"
    )
