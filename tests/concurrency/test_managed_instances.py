"""Lambda Managed Instances (``AWS_LAMBDA_MAX_CONCURRENCY``) end to end: the real ``bootstrap``
under a local Lambda that keeps N invocations in flight in one environment.

Interleaving is proven without timing: each of N handlers marks its arrival and then
waits until all N have arrived, which can only finish if N are served at once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local_lambda import FunctionConfig, InvokeResult, LocalLambda
from tests.conftest import RUNTIME_PYTHONS, on_bootstrap, write_function

APP = """
import asyncio, logging, os, time
from runtime_core import current_invocation

def _arrive(event, context):
    open(os.path.join(event["dir"], context.aws_request_id), "w").close()

def _all_here(event):
    return len(os.listdir(event["dir"])) >= event["n"]

async def together(event, context):
    _arrive(event, context)
    for _ in range(3000):  # at most 30 s, then the invocation times out and the test fails
        if _all_here(event):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)  # let the others run between arrival and answer
    logging.getLogger("app").warning("serving %s", context.aws_request_id)
    inv = current_invocation()
    return {"rid": context.aws_request_id, "current": inv.request_id, "trace": inv.trace_id,
            "tenant": inv.tenant_id, "env_trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "pid": os.getpid()}

def together_sync(event, context):
    _arrive(event, context)
    for _ in range(3000):
        if _all_here(event):
            break
        time.sleep(0.01)
    return {"rid": context.aws_request_id, "pid": os.getpid(),
            "env_trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "current": current_invocation().request_id}

async def environment(event, context):
    names = ("AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_INITIALIZATION_TYPE", \
"AWS_LAMBDA_LOG_FORMAT")
    return {name: os.environ.get(name) for name in names} | {"pid": os.getpid()}

async def held(event, context):  # until the test lets go
    open(os.path.join(event["dir"], f"{context.aws_request_id}.{os.getpid()}"), "w").close()
    while not os.path.exists(event["release"]):
        await asyncio.sleep(0.01)
    return {"pid": os.getpid()}

async def maybe_slow(event, context):
    if event.get("sleep"):
        await asyncio.sleep(event["sleep"])
    return {"pid": os.getpid()}
"""


def make_lambda(
    task: Path, handler: str, n: int, python: Path | None = None, **config: Any
) -> LocalLambda:
    config = {"timeout": 40, **config}
    task_root = write_function(task, {"app.py": APP})
    python = python or RUNTIME_PYTHONS["3.11"]
    return LocalLambda(
        on_bootstrap(task_root, python, handler=f"app.{handler}", max_concurrency=n, **config)
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _shares(n: int, processes: int) -> list[int]:
    """What a user expects: n slots over min(n, processes) processes, differing by one."""
    processes = min(n, processes)
    return sorted(n // processes + (i < n % processes) for i in range(processes))


def invoke_together(lam: LocalLambda, n: int, meeting: Path) -> list[InvokeResult]:
    meeting.mkdir()
    event = {"n": n, "dir": str(meeting)}
    with ThreadPoolExecutor(n) as pool:
        futures = [
            pool.submit(
                lam.invoke,
                event,
                trace_id=f"Root=1-5e1b4151-{i:024x};Parent=53995c3f42cd8ad8;Sampled=0",
                tenant_id=f"tenant-{i}",
            )
            for i in range(n)
        ]
        return [future.result() for future in futures]


def test_async_handlers_are_served_n_at_a_time_with_their_own_ids(
    function_dir: Path, tmp_path: Path, runtime_python: Path
) -> None:
    n = 8
    with make_lambda(function_dir, "together", n, runtime_python) as lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
        output = lam.output
    bodies = [result.json() for result in results]
    assert all(result.function_error is None for result in results), bodies
    # One uvloop engine per CPU the runtime may use, each holding its share of the slots.
    assert sorted(Counter(body["pid"] for body in bodies).values()) == _shares(n, _cpus())
    for i, (result, body) in enumerate(zip(results, bodies, strict=True)):
        assert body["rid"] == body["current"] == result.request_id
        assert body["trace"].startswith(f"Root=1-5e1b4151-{i:024x}")
        assert body["tenant"] == f"tenant-{i}"
        assert body["env_trace"] is None  # never mutated with several in flight
    # Logs are JSON, and each record carries the id of the invocation that wrote it.
    records = [json.loads(line) for line in output.splitlines() if '"serving ' in line]
    assert len(records) == n
    for record in records:
        assert record["message"] == f"serving {record['requestId']}"
    assert {record["tenantId"] for record in records} == {f"tenant-{i}" for i in range(n)}


def test_sync_handlers_get_one_process_per_slot(function_dir: Path, tmp_path: Path) -> None:
    n = 4
    with make_lambda(function_dir, "together_sync", n) as lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
    bodies = [result.json() for result in results]
    assert len({body["pid"] for body in bodies}) == n
    for i, (result, body) in enumerate(zip(results, bodies, strict=True)):
        assert body["rid"] == body["current"] == result.request_id
        # Each process serves one invocation at a time, so the trace id is in its environment.
        assert body["env_trace"].startswith(f"Root=1-5e1b4151-{i:024x}")


def test_sync_handlers_on_threads_when_asked(function_dir: Path, tmp_path: Path) -> None:
    n = 4
    env = {"LAMBDABOOT_SYNC_THREADS": "1"}
    with make_lambda(function_dir, "together_sync", n, env=env) as lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
    bodies = [result.json() for result in results]
    assert len({body["pid"] for body in bodies}) == 1
    for result, body in zip(results, bodies, strict=True):
        assert body["rid"] == body["current"] == result.request_id
        assert body["env_trace"] is None


def test_the_environment_is_a_managed_instances_one(function_dir: Path) -> None:
    with make_lambda(function_dir, "environment", 3) as lam:
        body = lam.invoke({}).json()
    assert body["AWS_LAMBDA_MAX_CONCURRENCY"] == "3"
    assert body["AWS_LAMBDA_INITIALIZATION_TYPE"] == "lambda-managed-instances"
    assert body["AWS_LAMBDA_LOG_FORMAT"] == "JSON"


def test_a_timeout_ends_one_invocation_not_the_environment(function_dir: Path) -> None:
    env = {"LAMBDABOOT_ASYNC_PROCESSES": "1"}  # one process, so its pid says it is the same
    with make_lambda(function_dir, "maybe_slow", 2, timeout=1.0, env=env) as lam:
        first = lam.invoke({})
        slow = lam.invoke({"sleep": 2.0})
        # The slow handler answers a second after its timeout: that post gets 410, is
        # logged by the runtime, and the environment goes on serving.
        for _ in range(300):
            if "answered 410" in lam.output:
                break
            time.sleep(0.1)
        last = lam.invoke({})
        output = lam.output
    assert first.function_error is None
    assert slow.error_type == "Sandbox.Timedout"
    assert "answered 410" in output
    assert last.function_error is None
    assert last.json()["pid"] == first.json()["pid"]
    assert output.count("platform.initStart") == 1  # JSON logs: one init


RIC_APP = """
import os, time

def together_sync(event, context):
    open(os.path.join(event["dir"], context.aws_request_id), "w").close()
    for _ in range(3000):
        if len(os.listdir(event["dir"])) >= event["n"]:
            break
        time.sleep(0.01)
    print("served by worker", os.getpid(), flush=True)
    return {"pid": os.getpid()}
"""


def test_awslambdaric_runs_under_managed_instances(function_dir: Path, tmp_path: Path) -> None:
    """The comparison the benchmark makes: AWS's client in its process-per-slot mode, its
    workers' output coming through the log socket Managed Instances provide."""
    n = 3
    lam = LocalLambda(
        FunctionConfig(
            command=[sys.executable, "-m", "awslambdaric", "app.together_sync"],
            task_root=write_function(function_dir, {"app.py": RIC_APP}),
            handler="app.together_sync",
            max_concurrency=n,
            timeout=40,
        )
    )
    with lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
        output = lam.output
    assert [result.function_error for result in results] == [None] * n
    pids = {result.json()["pid"] for result in results}
    assert len(pids) == n
    for pid in pids:
        assert f"served by worker {pid}" in output


HOOK_APP = """
import os
from runtime_core import on_shutdown

@on_shutdown
def flush():
    open(os.path.join(os.environ["HOOK_DIR"], str(os.getpid())), "w").write("flushed")

def handler(event, context):
    return {"pid": os.getpid()}
"""


def test_process_per_slot_workers_run_their_shutdown_hooks(
    function_dir: Path, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    config = on_bootstrap(
        write_function(function_dir, {"app.py": HOOK_APP}),
        env={"HOOK_DIR": str(hooks)},
        handler="app.handler",
        max_concurrency=2,
        shutdown_internal_ms=5000,
    )
    with LocalLambda(config) as lam:
        served = lam.invoke({}).json()["pid"]
        result = lam.shutdown()
    assert result.signals == ["SIGTERM"] and result.exit_status == 0
    flushed = sorted(path.name for path in hooks.iterdir())
    assert len(flushed) == 2 and str(served) in flushed  # each worker ran its hook


def test_async_slots_stay_in_one_process_when_pinned_to_one_cpu(
    function_dir: Path, tmp_path: Path
) -> None:
    n = 4
    with make_lambda(function_dir, "together", n) as pinned:
        config = dataclasses.replace(
            pinned.config, command=["taskset", "-c", "0", *pinned.config.command]
        )
    with LocalLambda(config) as lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
    assert [result.function_error for result in results] == [None] * n
    assert len({result.json()["pid"] for result in results}) == 1


def test_async_slots_in_one_process_when_asked(function_dir: Path, tmp_path: Path) -> None:
    n = 4
    env = {"LAMBDABOOT_ASYNC_PROCESSES": "1"}
    with make_lambda(function_dir, "together", n, env=env) as lam:
        results = invoke_together(lam, n, tmp_path / "meeting")
    assert [result.function_error for result in results] == [None] * n
    assert len({result.json()["pid"] for result in results}) == 1


def _hold(lam: LocalLambda, pool: ThreadPoolExecutor, n: int, where: Path) -> tuple[Any, ...]:
    """n invocations of ``held``, all in flight: their futures, the file that lets them
    go, and which process holds each (request id -> pid)."""
    held, release = where / "held", where / "release"
    held.mkdir(parents=True)
    event = {"dir": str(held), "release": str(release)}
    futures = [pool.submit(lam.invoke, event) for _ in range(n)]
    for _ in range(3000):
        if len(os.listdir(held)) == n:
            break
        time.sleep(0.01)
    return futures, release, dict(name.split(".") for name in os.listdir(held))


def test_a_killed_async_worker_fails_what_it_held_and_is_replaced(
    function_dir: Path, tmp_path: Path
) -> None:
    n = 4
    env = {"LAMBDABOOT_ASYNC_PROCESSES": "2"}  # two workers even on a 1-CPU machine
    with make_lambda(function_dir, "held", n, env=env) as lam, ThreadPoolExecutor(n) as pool:
        futures, release, marks = _hold(lam, pool, n, tmp_path / "first")
        by_pid = Counter(marks.values())
        assert sorted(by_pid.values()) == [2, 2], marks  # two slots in each worker
        victim = min(by_pid)
        os.kill(int(victim), signal.SIGKILL)
        for _ in range(3000):  # the parent answers for what the dead worker held
            if sum(future.done() for future in futures) == 2:
                break
            time.sleep(0.01)
        release.touch()
        results = {result.request_id: result for result in (f.result() for f in futures)}
        # All n slots hold an invocation again: the dead worker's two are in a new process.
        again, release, again_marks = _hold(lam, pool, n, tmp_path / "again")
        release.touch()
        again_results = [future.result() for future in again]
    assert set(results) == set(marks)  # each invocation answered, exactly once
    for request_id, result in results.items():
        if marks[request_id] == victim:
            assert result.error_type == "Runtime.ExitError", result
            assert "exit status -9" in result.json()["errorMessage"]
        else:
            assert result.function_error is None, result
    assert [result.function_error for result in again_results] == [None] * n
    pids = Counter(again_marks.values())
    assert sorted(pids.values()) == [2, 2] and victim not in pids, again_marks


ASYNC_HOOK_APP = """
import os
from runtime_core import on_shutdown

@on_shutdown
async def flush():
    with open(os.path.join(os.environ["HOOK_DIR"], str(os.getpid())), "a") as mark:
        mark.write("flushed;")

async def handler(event, context):
    return {"pid": os.getpid()}
"""


def test_async_workers_run_their_shutdown_hooks_once_each(
    function_dir: Path, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    config = on_bootstrap(
        write_function(function_dir, {"app.py": ASYNC_HOOK_APP}),
        env={"HOOK_DIR": str(hooks), "LAMBDABOOT_ASYNC_PROCESSES": "2"},
        handler="app.handler",
        max_concurrency=4,
        shutdown_internal_ms=5000,
    )
    with LocalLambda(config) as lam:
        served = lam.invoke({}).json()["pid"]
        result = lam.shutdown()
    assert result.signals == ["SIGTERM"] and result.exit_status == 0
    marks = {path.name: path.read_text() for path in hooks.iterdir()}
    assert len(marks) == 2 and str(served) in marks, lam.output  # each worker, not the parent
    assert set(marks.values()) == {"flushed;"}  # once each
