"""One shell at most between Lambda and the interpreter, in every mode, on real starts.

Lambda execs the runtime's entry point (``/opt/bootstrap``, or the exec wrapper with the
managed runtime's command line); every further program exec'd before the interpreter is a
shell's start-up paid at every cold start. ``strace -f -e trace=execve`` records the
programs the local Lambda's runtime process becomes, from the moment its sandbox gate
hands over (the gate stands for AWS's own machinery) to the interpreter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BOOTSTRAP, LAMBDABOOT, write_function
from tests.layer_build.conftest import WRAPPER_ENV


@pytest.fixture(autouse=True)
def _strace() -> None:
    """These tests need strace; `make test` installs it (Makefile's `strace` target).
    Without it they fail saying how to get it, rather than skip and prove nothing."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed: apt-get install strace (make test installs it)")


# `1234 execve("/opt/bootstrap", ["/opt/bootstrap"], 0x... /* 30 vars */) = 0`
_EXECVE = re.compile(r'^(\d+) +execve\("([^"]*)", \[(.*?)\], .*\) = 0$')
# The local Lambda's gate: `sh -c '... exec "$@"' lambdaboot-gate RUNTIME...`.
_GATE = '"lambdaboot-gate"'


def _programs_after_the_gate(*invoke_args: str, tmp_path: Path) -> list[str]:
    """The programs (paths) the runtime process exec'd after the local Lambda's gate."""
    programs, _, answer = _trace(*invoke_args, tmp_path=tmp_path)
    assert answer == "1", answer
    return programs


def _trace(*invoke_args: str, tmp_path: Path, app: str = "") -> tuple[list[str], str, str]:
    """The programs the runtime process exec'd after the gate, its pid and the answer."""
    app = app or "def handler(e, c):\n    return 1\n"
    task = write_function(tmp_path / "fn", {"app.py": app})
    trace = tmp_path / "execve.txt"
    strace = ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace)]
    done = subprocess.run(
        [*strace, str(LAMBDABOOT), "invoke", *invoke_args, str(task)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    calls = [m.groups() for m in map(_EXECVE.match, trace.read_text().splitlines()) if m]
    gates = [i for i, (_, _, argv) in enumerate(calls) if _GATE in argv]
    assert gates, trace.read_text()[-2000:]
    gate_pid = calls[gates[-1]][0]
    programs = [path for pid, path, argv in calls[gates[-1] + 1 :] if pid == gate_pid]
    return programs, gate_pid, done.stdout.strip()


def _is_shell_script(path: str) -> bool:
    return Path(path).read_bytes().startswith(b"#!/bin/sh")


def test_custom_runtime_bootstrap_is_the_only_shell(tmp_path: Path) -> None:
    """provided.* with the repository's bootstrap: the bootstrap, then the interpreter."""
    programs = _programs_after_the_gate(
        "--in-place", "--runtime-cmd", str(BOOTSTRAP), tmp_path=tmp_path
    )
    assert len(programs) == 2, programs
    assert programs[0] == str(BOOTSTRAP) and _is_shell_script(programs[0])
    assert re.search(r"/python3?(\.\d+)?$", programs[1]), programs


def test_managed_mode_exec_wrapper_is_the_only_shell(built_layer: Path, tmp_path: Path) -> None:
    """python3.12 with AWS_LAMBDA_EXEC_WRAPPER: the wrapper sources bootstrap (no second
    program) and execs the managed runtime's interpreter."""
    env = [f"--env={k}={v}" for k, v in WRAPPER_ENV.items()]
    programs = _programs_after_the_gate(
        "--runtime", "python3.12", "--layer", str(built_layer), *env, tmp_path=tmp_path
    )
    assert programs[:1] == ["/opt/lambdaboot-wrapper"], programs
    assert len(programs) == 2, f"more than one program before the interpreter: {programs}"
    assert re.search(r"/python3?(\.\d+)?$", programs[1]), programs


def test_provided_mode_embedded_interpreter_is_one_shell_away(
    provided_layer: Path, tmp_path: Path
) -> None:
    """provided.al2023 with the layer's embedded interpreter: /opt/bootstrap, then it."""
    programs = _programs_after_the_gate(
        "--runtime", "provided.al2023", "--layer", str(provided_layer), tmp_path=tmp_path
    )
    assert programs == ["/opt/bootstrap", "/opt/python-runtime/bin/python3"], programs


def test_snapstart_adds_no_program(tmp_path: Path) -> None:
    """SnapStart (the local Lambda's fork of the runtime after init): still the bootstrap,
    then the interpreter; the restored copy is forked, never exec'd through a shell."""
    app = "import os\ndef handler(e, c):\n    return os.getpid()\n"
    programs, gate_pid, answer = _trace(
        "--in-place", "--runtime-cmd", str(BOOTSTRAP), "--snap-start", tmp_path=tmp_path, app=app
    )
    assert answer.isdigit() and answer != gate_pid, (answer, gate_pid)  # served by a fork
    assert len(programs) == 2, programs
    assert programs[0] == str(BOOTSTRAP) and _is_shell_script(programs[0])
    assert re.search(r"/python3?(\.\d+)?$", programs[1]), programs
