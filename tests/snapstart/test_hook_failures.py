"""The runtime's side of SnapStart request by request, against awslambdaric 4.2.2.

A scripted Runtime API (tests/runtime/fake_api.py) answers ``restore/next`` as a test
wants, so each failure is seen on the wire: which endpoint is posted, with which error
type header and body, and the exit status. awslambdaric, run the same way, is the
reference for every one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import RuntimeProcess
from tests.runtime.fake_api import RUNTIME, FakeRuntimeApi

Start = Callable[..., RuntimeProcess]
PYTHONS = pytest.mark.parametrize("runtime_python", ["3.12", "3.13"], indirect=True)
KINDS = pytest.mark.parametrize("kind", ["lambdaboot", "awslambdaric"])
SNAP = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}

HOOKS = """
import os
from snapshot_restore_py import register_before_snapshot, register_after_restore

@register_before_snapshot
def before():
    if os.environ.get("FAIL") == "before":
        raise ValueError("cannot snapshot")

@register_after_restore
def after():
    if os.environ.get("FAIL") == "after":
        raise KeyError("cannot restore")

def handler(event, context):
    return event
"""


def _start(start_runtime: Start, runtime_python: Path, kind: str, **env: str) -> RuntimeProcess:
    command = None
    if kind == "awslambdaric":
        command = [os.fspath(runtime_python), "-m", "awslambdaric", "app.handler"]
    return start_runtime({"app.py": HOOKS}, env={**SNAP, **env}, command=command)


@PYTHONS
@KINDS
def test_a_failing_before_snapshot_hook_is_an_init_error(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, kind: str
) -> None:
    runtime = _start(start_runtime, runtime_python, kind, FAIL="before")
    assert runtime.wait() == 64
    (posted,) = api.wait_for("/init/error")
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.BeforeSnapshotError"
    body = posted.json()
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == (
        "ValueError",
        "cannot snapshot",
        "",
    )
    assert 'raise ValueError("cannot snapshot")' in body["stackTrace"][-1]
    assert not [s for s in api.seen if "/restore/" in s.path]  # never got as far
    assert "[ERROR] ValueError: cannot snapshot" in runtime.output()


@PYTHONS
@KINDS
def test_restore_next_refused_is_a_before_snapshot_error(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, kind: str
) -> None:
    api.faults["/restore/next"] = [(500, b'{"errorType":"Broken"}')]
    runtime = _start(start_runtime, runtime_python, kind)
    assert runtime.wait() == 64
    (posted,) = api.wait_for("/init/error")
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.BeforeSnapshotError"
    body = posted.json()
    assert body["errorType"] == "LambdaRuntimeClientError"
    assert body["errorMessage"] == (
        f"Request to Lambda Runtime '{RUNTIME}/restore/next' endpoint failed. Reason: '500'."
        """ Response body: 'b'{"errorType":"Broken"}''"""
    )


@PYTHONS
@KINDS
def test_a_failing_after_restore_hook_is_a_restore_error(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, kind: str
) -> None:
    api.faults["/restore/next"] = [(200, b"")]
    runtime = _start(start_runtime, runtime_python, kind, FAIL="after")
    assert runtime.wait() == 65
    (posted,) = api.wait_for("/restore/error")
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.AfterRestoreError"
    body = posted.json()
    assert (body["errorType"], body["errorMessage"]) == ("KeyError", "'cannot restore'")
    assert not [s for s in api.seen if s.path.endswith(("/init/error", "/invocation/next"))]
    assert "[ERROR] KeyError: 'cannot restore'" in runtime.output()


# The handler reports which of its process's TCP connections to the API are still open.
OPEN_CONNECTIONS = HOOKS.replace(
    "def handler(event, context):\n    return event",
    """
def handler(event, context):
    port = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    local_ports = []
    with open("/proc/self/net/tcp") as table:
        for row in table.read().splitlines()[1:]:
            fields = row.split()
            remote_port = int(fields[2].split(":")[1], 16)
            established = fields[3] == "01"
            if fields[9] in mine and remote_port == port and established:
                local_ports.append(int(fields[1].split(":")[1], 16))
    return {"open": sorted(local_ports)}
""",
)


@PYTHONS
@KINDS
def test_the_first_next_is_on_a_new_connection(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, kind: str
) -> None:
    """The connection that carried restore/next was in the snapshot: never reused, and
    closed (a restored copy holds no socket of the snapshot's)."""
    api.faults["/restore/next"] = [(200, b"")]
    command = None
    if kind == "awslambdaric":
        command = [os.fspath(runtime_python), "-m", "awslambdaric", "app.handler"]
    start_runtime({"app.py": OPEN_CONNECTIONS}, env=SNAP, command=command)
    request_id = api.invoke({"ok": 1})
    (restore,) = api.wait_for("/restore/next")
    (first_next,) = api.wait_for("/invocation/next")
    (result,) = api.wait_for(f"/{request_id}/response")
    assert first_next.client_port != restore.client_port
    assert restore.client_port not in result.json()["open"], result.json()
    order = [s.path for s in api.seen]
    assert order.index(RUNTIME + "/restore/next") < order.index(RUNTIME + "/invocation/next")


@pytest.mark.parametrize("runtime_python", ["3.12"], indirect=True)
def test_other_inits_never_load_the_snapstart_module(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path
) -> None:
    probe = """
import sys
def handler(event, context):
    return {"loaded": sorted(m for m in ("runtime_core.snapstart", "snapshot_restore_py") \
if m in sys.modules)}
"""
    start_runtime({"app.py": probe}, env={"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"})
    request_id = api.invoke({})
    (result,) = api.wait_for(f"/{request_id}/response")
    assert result.json() == {"loaded": []}
    assert not [s for s in api.seen if "/restore/" in s.path]


ODD_HOOKS = """
import os, sys
from snapshot_restore_py import register_before_snapshot, register_after_restore

def late():
    print("late hook ran", flush=True)
    sys.exit(3)

def first():
    print("first hook ran", flush=True)
    register_before_snapshot(late)  # registered while the hooks run: still run, next

register_before_snapshot(first)

def handler(event, context):
    return event
"""


@PYTHONS
@KINDS
def test_hooks_registered_by_a_hook_run_and_sys_exit_is_a_hook_failure(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, kind: str
) -> None:
    command = None
    if kind == "awslambdaric":
        command = [os.fspath(runtime_python), "-m", "awslambdaric", "app.handler"]
    runtime = start_runtime({"app.py": ODD_HOOKS}, env=SNAP, command=command)
    assert runtime.wait() == 64  # not the hook's 3: the runtime reports it and exits 64
    (posted,) = api.wait_for("/init/error")
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.BeforeSnapshotError"
    assert (posted.json()["errorType"], posted.json()["errorMessage"]) == ("SystemExit", "3")
    output = runtime.output()
    assert output.index("first hook ran") < output.index("late hook ran")
