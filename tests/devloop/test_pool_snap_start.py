"""A SnapStart function's scale-out environment has extensions of its own, on the shared address.

Extensions are not in a snapshot here (see docs/snapstart.md): each environment starts its
own, and they find the Runtime API at the address every copy of the snapshot knows,
shared by the function's environments. An extension that holds its ``/event/next`` after
an INVOKE keeps the first environment busy, so the second request needs a second
environment: a copy of the snapshot whose own extension must register with *that*
environment (else the copy's restore fails: its extension never registers there).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from local_lambda import FunctionConfig
from local_lambda.devloop.function_set import FunctionSet, ServedFunction
from tests.conftest import BOOTSTRAP, RUNTIME_PYTHONS, bootstrap_env, write_function
from tests.devloop.test_router_busy import APP, _invoke, _reported, held_function
from tests.snapstart.test_one_snapshot import APP as ONE_SNAPSHOT_APP
from tests.snapstart.test_one_snapshot import _gone, _snapshots, temp_folder
from tests.streaming.test_answer_moments import strict_client

__all__ = ["temp_folder"]  # the fixture


def test_the_second_environment_is_a_copy_with_its_own_extension(
    function_dir: Path, tmp_path: Path
) -> None:
    python = RUNTIME_PYTHONS["3.12"]
    options = {"snap_start": True, "python": python}
    with held_function(function_dir, tmp_path, APP, "handler", **options) as held:
        boto, release, lines = held
        first_env, first = _invoke(boto)  # answered; its extension holds the environment
        second_env, second = _invoke(boto)  # so: a second environment, from the snapshot
        assert (first_env, second_env) == ("Held#1", "Held#2"), lines
        assert not _reported(lines, first) and not _reported(lines, second)
        (release / "all").touch()
        for _ in range(6000):  # at most 60 s, then the assertions below fail
            if _reported(lines, first) and _reported(lines, second):
                break
            threading.Event().wait(0.01)
    log = "\n".join(lines)
    assert sum(" INIT_START " in line for line in lines) == 1, log
    (report,) = [line for line in lines if re.search(rf"REPORT RequestId: {second}\b", line)]
    assert report.startswith("[Held#2] ") and "\tRestore Duration: " in report, log
    assert "Init Duration" not in report


def test_new_code_publishes_again_and_the_old_snapshot_ends(
    function_dir: Path, tmp_path: Path, temp_folder: Path
) -> None:
    """A reload (``--watch``) replaces the function's environments, as publishing a new
    version does: the new ones come from a new init, and the old snapshot ends with the
    last old environment, not with the ``serve`` process."""
    write_function(function_dir, {"app.py": ONE_SNAPSHOT_APP})
    env = {**bootstrap_env(RUNTIME_PYTHONS["3.12"]), "INIT_FILE": str(tmp_path / "inits")}
    config = FunctionConfig(
        command=[str(BOOTSTRAP)], task_root=function_dir, function_name="Fn", env=env,
        snap_start=True,
    )  # fmt: skip
    served = [ServedFunction(config, ("Fn",), 2)]
    with FunctionSet() as functions:
        functions.replace(served)
        boto = strict_client(functions.endpoint)
        first = json.loads(boto.invoke(FunctionName="Fn", Payload=b"{}")["Payload"].read())
        (old,) = _snapshots(temp_folder)
        functions.replace(served, renew={"Fn"})  # the code changed
        second = json.loads(boto.invoke(FunctionName="Fn", Payload=b"{}")["Payload"].read())
        for _ in range(3000):  # at most 30 s, then the assertion below fails
            if not old.exists():
                break
            threading.Event().wait(0.01)
        assert not old.exists() and len(_snapshots(temp_folder)) == 1
        assert _gone(first["init_pid"]) and _gone(first["pid"])
    assert first["init_pid"] != second["init_pid"]
    inits = (tmp_path / "inits").read_text().split()
    assert inits == [str(first["init_pid"]), str(second["init_pid"])]
    assert _snapshots(temp_folder) == [] and _gone(second["init_pid"])
