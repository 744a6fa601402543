"""A handler that breaks its own environment still gets its answer, or one clear record.

Deleting the current directory, closing stdin/stdout/stderr and ``SystemExit`` are all
things real handlers do; the runtime must not lose the invocation's answer to them, nor
let a later connection take fd 1 (log lines would then be written into the Runtime API).
SIGTERM with no shutdown hooks ends the runtime promptly with status 0.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile_api import HostileApi
from tests.runtime.conftest import Start

BREAKING = """
    import os, shutil, sys

    def handler(event, context):
        what = event["break"]
        if what == "cwd":
            os.mkdir("/tmp/lambdaboot-cwd-" + context.aws_request_id)
            os.chdir("/tmp/lambdaboot-cwd-" + context.aws_request_id)
            shutil.rmtree(os.getcwd())
            raise ValueError("after deleting the cwd")
        if what == "stdio":
            for fd in (0, 1, 2):
                os.close(fd)
            raise ValueError("after closing stdio")
        if what == "exit":
            sys.exit(3)
        if what == "print":
            print("printed before SIGTERM", end="")  # no newline, no flush
        return {"ok": what}
"""
ASYNC_BREAKING = BREAKING.replace("def handler", "async def handler")
ENGINES = pytest.mark.parametrize(
    ("files", "env"),
    [
        ({"app.py": BREAKING}, {}),
        ({"app.py": ASYNC_BREAKING}, {}),
        ({"app.py": BREAKING}, {"AWS_LAMBDA_MAX_CONCURRENCY": "2"}),
        ({"app.py": BREAKING}, {"AWS_LAMBDA_MAX_CONCURRENCY": "8"}),
        (
            {"app.py": ASYNC_BREAKING},
            {"AWS_LAMBDA_MAX_CONCURRENCY": "8", "LAMBDABOOT_ASYNC_PROCESSES": "1"},
        ),
        (
            {"app.py": ASYNC_BREAKING},
            {"AWS_LAMBDA_MAX_CONCURRENCY": "8", "LAMBDABOOT_ASYNC_PROCESSES": "2"},
        ),
    ],
    ids=["blocking", "uvloop", "processes-x2", "processes-x8", "uvloop-x8", "uvloop-x8-processes"],
)


@pytest.fixture
def runtime_python() -> Path:
    return Path(sys.executable)


@pytest.fixture
def api() -> Iterator[HostileApi]:
    server = HostileApi()
    yield server
    server.close()


@ENGINES
@pytest.mark.parametrize("what", ["cwd", "stdio"])
def test_the_handlers_error_is_reported_in_a_broken_environment(
    api: HostileApi, start_runtime: Start, files: dict[str, str], env: dict[str, str], what: str
) -> None:
    runtime = start_runtime(files, env=env)
    broken = api.invoke({"break": what})
    # stdio closed: the keep-alive connection is dropped, so the next post needs a new one
    api.fault("any", "close_after")
    after = api.invoke({"break": "nothing"})
    api.wait_answered(2)
    (error,) = api.accepted[broken]
    assert error.kind == "error"
    assert error.json()["errorType"] == "ValueError"
    assert what in error.json()["errorMessage"] or "after" in error.json()["errorMessage"]
    assert api.accepted[after][0].json() == {"ok": "nothing"}
    # nothing but HTTP ever arrived: no log line went into a Runtime API connection
    assert all(s.method in ("GET", "POST") for s in api.seen)
    assert runtime.process.poll() is None


@ENGINES
def test_system_exit_in_the_handler_leaves_one_record_naming_it(
    api: HostileApi, start_runtime: Start, files: dict[str, str], env: dict[str, str]
) -> None:
    runtime = start_runtime(files, env=env)
    exiting = api.invoke({"break": "exit"})
    if env and env.get("LAMBDABOOT_ASYNC_PROCESSES") != "1":
        # a worker process: replaced; its invocation gets Runtime.ExitError from the parent
        api.wait_answered(1)
        (error,) = api.accepted[exiting]
        assert error.json()["errorType"] == "Runtime.ExitError"
        assert runtime.process.poll() is None
    else:  # one process (at concurrency 8 too: the handler asked the process to end)
        assert runtime.wait(timeout=20) == 3  # the handler's own status, as under awslambdaric
    records = [line for line in runtime.output().splitlines() if "SystemExit" in line]
    assert len(records) == 1, runtime.output()
    assert exiting in records[0]


@pytest.mark.parametrize(
    "files", [{"app.py": BREAKING}, {"app.py": ASYNC_BREAKING}], ids=["blocking", "uvloop"]
)
def test_sigterm_without_hooks_ends_the_runtime_with_status_0(
    api: HostileApi, start_runtime: Start, files: dict[str, str]
) -> None:
    runtime = start_runtime(files)
    api.invoke({"break": "print"})
    api.wait_answered(1)
    api.wait_parked(2)
    os.kill(runtime.process.pid, signal.SIGTERM)
    assert runtime.wait(timeout=20) == 0
    assert "printed before SIGTERM" in runtime.output()  # the log was flushed


def test_a_worker_crash_loop_abandons_its_slots_and_answers_every_invocation(
    api: HostileApi, start_runtime: Start
) -> None:
    """Process per slot: a worker that dies is replaced (its invocation gets
    ``Runtime.ExitError`` from the parent); one whose replacements keep dying at once
    loses its slot, and with no slot left the runtime exits 1, saying so."""
    runtime = start_runtime(
        {"app.py": "import os\n\ndef handler(event, context):\n    os._exit(7)\n"},
        env={"AWS_LAMBDA_MAX_CONCURRENCY": "2"},
    )
    ids = [api.invoke({"n": n}) for n in range(6)]  # 2 slots x 3 quick deaths each
    assert runtime.wait(timeout=30) == 1
    answered = api.answers_per_invocation()
    assert all(answered.get(rid) == 1 for rid in ids), answered
    assert {api.accepted[rid][0].json()["errorType"] for rid in ids} == {"Runtime.ExitError"}
    assert "no worker slot is left" in runtime.output()
