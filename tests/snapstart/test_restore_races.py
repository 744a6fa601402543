"""Races between a restored copy of the snapshot and its environment's start.

The holder forks a copy and reports its pid at once; the copy then makes itself a
process group, which its environment's extensions join. Nothing guaranteed that the
group existed when the local Lambda started those extensions: a copy that ran late
(a loaded machine) left them unlaunchable (``setpgid`` EPERM), the restored
environment's init failed with Extension.LaunchError, and its Telemetry subscriber got
nothing. The function below makes every fork's child late on purpose
(``os.register_at_fork`` runs before the agent's code in the copy), so the race is
lost every time without the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from local_lambda import FunctionConfig, LocalLambda
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, write_function
from tests.local_lambda.test_extensions_kit import TelemetryListener, extension, make_layer
from tests.local_lambda.test_telemetry import SHIPPER

LATE_CHILD = """
import os, time

os.register_at_fork(after_in_child=lambda: time.sleep(0.5))

def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid()}
"""


def test_a_late_copy_still_gets_its_environments_extensions(
    function_dir: Path, tmp_path: Path
) -> None:
    """A restored environment whose copy runs late starts its extension, which subscribes
    and sees that environment's restore and invocation."""
    listener = TelemetryListener()
    try:
        write_function(function_dir, {"app.py": LATE_CHILD})
        layer = make_layer(tmp_path / "layer.zip", {"extensions/shipper": extension(SHIPPER)})
        env = {**bootstrap_env(RUNTIME_PYTHONS["3.12"]), "PORT": str(listener.port)}
        env["RECORD"] = os.fspath(tmp_path / "record.jsonl")
        config = FunctionConfig(
            command=[os.fspath(BOOTSTRAP)],
            task_root=function_dir,
            layers=[layer],
            env=env,
            snap_start=True,
        )
        with LocalLambda(config) as lam:
            lam.invoke({"crash": True})  # the first environment ends; a copy replaces it
            restored = lam.invoke({})
            assert restored.function_error is None, lam.output
            listener.wait_for("platform.report", requestId=restored.request_id)
        assert "Extension.LaunchError" not in "\n".join(lam.output)
    finally:
        listener.close()


#: Only the snapshot's first fork (the holder) runs late: the copy, forked after it, sees
#: the parent's count of forks already at one.
LATE_HOLDER = """
import os, time

INIT_PID = os.getpid()
with open(os.environ["INIT_FILE"], "a") as out:
    out.write(f"{INIT_PID}\\n")
forks = []
os.register_at_fork(
    after_in_parent=lambda: forks.append(1), after_in_child=lambda: forks or time.sleep(1.0)
)

def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid(), "init_pid": INIT_PID}
"""


def test_a_late_holder_is_not_ended_with_the_first_environment(
    function_dir: Path, tmp_path: Path
) -> None:
    """The holder leaves the first environment (its process group and cgroups) only once
    it has run; until then, that environment's freeze and reset reached it too. A holder
    that runs late must still outlive the first environment: the environment after a crash
    is a copy of the snapshot, not a second init."""
    write_function(function_dir, {"app.py": LATE_HOLDER})
    env = {**bootstrap_env(RUNTIME_PYTHONS["3.12"]), "INIT_FILE": os.fspath(tmp_path / "inits")}
    config = FunctionConfig(
        command=[os.fspath(BOOTSTRAP)], task_root=function_dir, env=env, snap_start=True
    )
    with LocalLambda(config) as lam:
        first = lam.invoke({})
        assert first.function_error is None, lam.output
        lam.invoke({"crash": True})  # the first environment ends; a copy replaces it
        restored = lam.invoke({})
        assert restored.function_error is None, lam.output
    init_pid = first.json()["init_pid"]
    assert (tmp_path / "inits").read_text().split() == [str(init_pid)], lam.output
    assert restored.json()["init_pid"] == init_pid and restored.json()["pid"] != init_pid


def test_a_late_holder_is_no_part_of_the_restore(function_dir: Path, tmp_path: Path) -> None:
    """Taking the snapshot (the holder's start, before the first environment's copy is
    forked) is no part of restoring it: a holder that runs late on a loaded machine leaves
    the restore its whole limit, and Restore Duration leaves it out. Here the holder is
    2 s late against a limit of 1.5 s: SnapStartTimeoutException (408) without this."""
    write_function(function_dir, {"app.py": LATE_HOLDER.replace("sleep(1.0)", "sleep(2.0)")})
    env = {**bootstrap_env(RUNTIME_PYTHONS["3.12"]), "INIT_FILE": os.fspath(tmp_path / "inits")}
    config = FunctionConfig(
        command=[os.fspath(BOOTSTRAP)],
        task_root=function_dir,
        env=env,
        snap_start=True,
        restore_timeout=1.5,
    )
    with LocalLambda(config) as lam:
        first = lam.invoke({})
    assert (first.status_code, first.function_error) == (200, None), (first.payload, lam.output)
    assert first.report is not None and first.report.restore_duration_ms is not None
    assert first.report.restore_duration_ms < 1500, lam.output
