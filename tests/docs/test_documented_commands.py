"""Every shell command shown in README.md and docs/ works as written, from a fresh clone.

The repository is cloned into a temporary folder (so a command that relies on a file
nobody committed fails), ``lambdaboot`` and ``.venv/bin/lambdaboot`` there run the clone's
code with this test's interpreter, and each ```sh block's commands run in order, one
document after the other, in the clone (a ``build`` early in a document makes the zips a
later ``check`` or ``invoke`` uses). ``serve`` is started, waited for, and stopped with
Ctrl-C. A block that starts with ``#!`` is a file's content, not commands. A command whose
comment says ``# exit N`` must exit with N (a verdict the docs show), any other with 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]

#: Commands not run here, and why.
EXCLUDED = {
    r"^make (run|test)\b": "sets up virtualenvs from the network and runs the whole suite:"
    " CI runs `make test` as its own step, and `make run` is its first half",
    r"^make bench\b": "a long measurement run (minutes), made by `make bench` on purpose",
    r"^lambdaboot (publish|rollout|drift)\b|\.venv/bin/lambdaboot publish\b": "needs real AWS"
    " (its behaviour is tested against moto's server in tests/layer_build and tests/fleet)",
    r"--python-dist cpython-": "needs a python-build-standalone tarball downloaded from GitHub",
}
#: Adjustments so that parallel CI jobs do not fight over one port.
REWRITES = {"--port 9000": "--port 0"}


def shell_commands(document: Path) -> list[str]:
    """The commands of ``document``'s ```sh blocks (continued lines joined)."""
    found = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", document.read_text(), re.S):
        if block.startswith("#!"):
            continue
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                found.append(command.strip())
    return found


def _excluded(command: str) -> bool:
    return any(re.search(pattern, command) for pattern in EXCLUDED)


def _clone(tmp: Path) -> Path:
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    shim = f'#!/bin/sh\nexec {sys.executable} -m lambdaboot_cli "$@"\n'
    python = f'#!/bin/sh\nexec {sys.executable} "$@"\n'
    for folder in (tmp / "bin", clone / ".venv" / "bin"):
        folder.mkdir(parents=True)
        (folder / "lambdaboot").write_text(shim)
        (folder / "lambdaboot").chmod(0o755)
    (clone / ".venv" / "bin" / "python").write_text(python)
    (clone / ".venv" / "bin" / "python").chmod(0o755)
    for version in ("3.12", "3.13"):  # what `make` would have made: runtime-only venvs
        if (REPO / f".venv-{version}").exists():
            (clone / f".venv-{version}").symlink_to((REPO / f".venv-{version}").resolve())
    return clone


def _run(command: str, clone: Path, env: dict[str, str]) -> str:
    """'' if ``command`` worked, else what went wrong."""
    for old, new in REWRITES.items():
        command = command.replace(old, new)
    if re.match(r"(\.venv/bin/)?lambdaboot serve\b", command):
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=clone, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        ok = first.startswith("Invoke API: http://") and proc.returncode == 130
        return "" if ok else f"{command}\n{first}{err[-2000:]}"
    expected = re.search(r"# exit (\d+)", command)
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], cwd=clone, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode == (int(expected.group(1)) if expected else 0):
        return ""
    return f"{command}\n(exit {done.returncode}) {done.stderr[-2000:]}"


@pytest.mark.timeout(900)
def test_every_documented_command_works_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(clone)
    failures, ran = [], 0
    for name in DOCUMENTS:
        for command in shell_commands(clone / name):
            if _excluded(command):
                continue
            ran += 1
            started = time.monotonic()
            problem = _run(command, clone, env)
            print(f"{time.monotonic() - started:6.1f} s  {command}")
            if problem:
                failures.append(f"{name}: {problem}")
    assert ran >= 15  # the parsing found the commands
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_docs_stand_alone(name: str) -> None:
    """Nothing points outside the repository or at one machine's paths."""
    text = (REPO / name).read_text()
    assert "../shared" not in text
    assert not re.search(r"/work/|/home/\w+|/root/", text), name
