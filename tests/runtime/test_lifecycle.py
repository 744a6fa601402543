"""Init errors, crashes, shutdown hooks, and the container-image entry point."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.conftest import REPO
from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

MakeLambda = Callable[..., LocalLambda]


def test_import_error_is_reported_as_init_error_then_exit(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    runtime = start_runtime({"app.py": "import no_such_module_anywhere\n"})
    [report] = api.wait_for("/init/error")
    assert report.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert "no_such_module_anywhere" in report.json()["errorMessage"]
    assert runtime.wait(timeout=10) != 0
    assert not [s for s in api.seen if s.path.endswith("/invocation/next")]


def test_init_error_in_the_local_lambda(make_lambda: MakeLambda) -> None:
    lam = make_lambda({"app.py": "def not_the_handler(event, context): pass\n"})
    result = lam.invoke({})
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.HandlerNotFound"


def test_crash_mid_invocation(make_lambda: MakeLambda) -> None:
    lam = make_lambda(
        {
            "app.py": """
        import os
        def handler(event, context):
            if event == ["crash"]:
                os._exit(7)
            return event
    """
        }
    )
    assert lam.invoke(["fine"]).json() == ["fine"]
    crashed = lam.invoke(["crash"])
    assert crashed.error_type == "Runtime.ExitError"
    assert "exit status 7" in crashed.json()["errorMessage"]
    assert lam.invoke(["again"]).json() == ["again"]


HOOKS = textwrap.dedent("""
    import os
    from runtime_core import on_shutdown
    OUT = os.environ["HOOK_DIR"]

    @on_shutdown
    def sync_hook():
        open(os.path.join(OUT, "sync"), "w").write("ran")

    @on_shutdown
    async def async_hook():
        import asyncio
        await asyncio.sleep(0)
        open(os.path.join(OUT, "async"), "w").write("ran")
""")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_shutdown_hooks_run_on_sigterm_and_exit_0(
    make_lambda: MakeLambda, tmp_path: Path, kind: str
) -> None:
    handler = (
        "async def handler(event, context):\n"
        if kind == "async"
        else "def handler(event, context):\n"
    )
    lam = make_lambda(
        {"app.py": HOOKS + "\n" + handler + "    return 'ok'\n"}, env={"HOOK_DIR": str(tmp_path)}
    )
    assert lam.invoke({}).json() == "ok"
    result = lam.shutdown()
    assert result.signals == ["SIGTERM"]  # the internal extension made Lambda send it
    assert result.exit_status == 0
    assert (tmp_path / "sync").read_text() == "ran"
    assert (tmp_path / "async").read_text() == "ran"


def test_extension_registered_before_first_next_only_with_hooks(
    api: FakeRuntimeApi, start_runtime: Start, tmp_path: Path
) -> None:
    runtime = start_runtime(
        {"app.py": HOOKS + "\ndef handler(event, context):\n    return 1\n"},
        env={"HOOK_DIR": str(tmp_path)},
    )
    api.wait_for("/event/next")
    api.wait_for("/invocation/next")
    paths = [s.path for s in api.seen]
    register = paths.index("/2020-01-01/extension/register")
    assert register < paths.index("/2018-06-01/runtime/invocation/next")
    registration = api.seen[register]
    assert registration.json() == {"events": []}
    assert registration.headers["lambda-extension-name"]
    [poll] = api.wait_for("/event/next")
    assert poll.headers["lambda-extension-identifier"] == "ext-1"
    os.kill(runtime.process.pid, signal.SIGTERM)
    assert runtime.wait(timeout=10) == 0
    assert (tmp_path / "sync").exists() and (tmp_path / "async").exists()


def test_no_extension_without_hooks(api: FakeRuntimeApi, start_runtime: Start) -> None:
    start_runtime({"app.py": "def handler(event, context):\n    return 1\n"})
    api.invoke({})
    api.wait_for("/invocation/next", 2)
    assert not [s for s in api.seen if s.path.startswith("/2020-01-01/")]


def test_python_m_runtime_core(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path
) -> None:
    """The container-image entry: the handler as an argument, no bootstrap, no _HANDLER."""
    start_runtime(
        {"app.py": "def handler(event, context):\n    return {'image': event}\n"},
        handler="",
        env={"PYTHONPATH": str(REPO)},
        command=[str(runtime_python), "-m", "runtime_core", "app.handler"],
    )
    api.invoke(5)
    assert api.wait_for("/response")[0].json() == {"image": 5}


@pytest.mark.parametrize("engine", ["blocking", "async"])
def test_a_failing_or_hanging_hook_does_not_stop_the_exit(
    make_lambda: MakeLambda, tmp_path: Path, engine: str
) -> None:
    """On either engine: a hook that raises is reported, the next one still runs, and a
    sync hook that never returns is abandoned at the budget; the runtime exits 0."""
    handler = "async def handler" if engine == "async" else "def handler"
    lam = make_lambda(
        {
            "app.py": """
        import os, threading
        from runtime_core import on_shutdown

        @on_shutdown
        def raises():
            raise RuntimeError("hook failed")

        @on_shutdown
        def writes():
            open(os.path.join(os.environ["HOOK_DIR"], "second"), "w").write("ran")

        @on_shutdown
        def hangs():
            threading.Event().wait()

        HANDLER(event, context):
            return "ok"
    """.replace("HANDLER", handler)
        },
        env={"HOOK_DIR": str(tmp_path)},
    )
    assert lam.invoke({}).json() == "ok"
    result = lam.shutdown()
    assert result.signals == ["SIGTERM"] and result.exit_status == 0
    assert (tmp_path / "second").read_text() == "ran"
    assert "hook failed" in lam.output and "did not finish" in lam.output


def test_concurrency_runs_sync_handlers_on_worker_threads(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """AWS_LAMBDA_MAX_CONCURRENCY > 1 with threads opted in (the default is a process per
    slot): the uvloop engine, one connection per worker, and sync handlers off the loop's
    thread, so two slow invocations overlap."""
    start_runtime(
        {
            "app.py": """
        import threading
        both_in = threading.Barrier(2, timeout=10)
        def handler(event, context):
            both_in.wait()  # only returns when both invocations run at once
            return {"thread": threading.current_thread().name, "id": context.aws_request_id}
    """
        },
        env={"AWS_LAMBDA_MAX_CONCURRENCY": "2", "LAMBDABOOT_SYNC_THREADS": "1"},
    )
    ids = {api.invoke({}), api.invoke({})}
    results = [r.json() for r in api.wait_for("/response", 2)]
    assert {r["id"] for r in results} == ids
    assert all(r["thread"] != "MainThread" for r in results)
    assert len({s.client_port for s in api.seen if s.path.endswith("/next")}) == 2
