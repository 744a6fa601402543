"""The documented examples of ``runtime_core.testing`` and ``local_lambda.testing`` run.

A user copies them into their own tests, so they are run as a user would: written into a
fresh folder beside the function they name (``app.py``; for the local Lambda's,
``build/function`` with its ``bootstrap``), and run by pytest in one subprocess, which
finds ``local_lambda_factory`` through the installed ``pytest11`` plugin as a user's would.
An example that no longer parses, or whose assertion no longer holds, fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import BOOTSTRAP, REPO, RUNTIME_PYTHONS

#: The sections whose ```python blocks are the examples, by document.
SECTIONS = {
    "README.md": "### Testing handlers in-process",
    "docs/local_lambda.md": "## In your tests (`local_lambda.testing`)",
}

#: The README's ``app``, as its comment gives it (no name: a KeyError).
APP = """
def handler(event, context):
    return {"greeting": f"Hello, {event['name']}"}
"""
#: The function under ``build/function`` the local Lambda's examples invoke.
FUNCTION = """
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"greeting": f"Hello, {event['name']}"} if event else {}
"""


def python_blocks(document: str, heading: str) -> list[str]:
    """The ```python blocks of the section under ``heading`` (up to the next heading of
    the same or a higher level)."""
    text = (REPO / document).read_text()
    level = heading.split(" ", 1)[0]
    section = text.split("\n" + heading + "\n", 1)[1]
    end = re.search(rf"^#{{1,{len(level)}}} ", section, re.MULTILINE)
    section = section[: end.start()] if end else section
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def as_test_module(blocks: list[str]) -> str:
    """The blocks as one module: a block that defines tests stays as it is, one made of
    statements becomes a test function of its own."""
    parts = []
    for number, block in enumerate(blocks):
        if re.search(r"^def test_", block, re.MULTILINE):
            parts.append(block)
        else:
            parts.append(f"def test_example_{number}():\n" + textwrap.indent(block, "    "))
    return "\n\n".join(parts)


def test_every_documented_testing_example_runs(tmp_path: Path) -> None:
    blocks = {document: python_blocks(document, heading) for document, heading in SECTIONS.items()}
    assert all(blocks.values()), f"a section lost its examples: {blocks}"
    (tmp_path / "app.py").write_text(APP)
    function = tmp_path / "build" / "function"
    function.mkdir(parents=True)
    (function / "app.py").write_text(FUNCTION)
    bootstrap = function / "bootstrap"  # the repository's, with a runtime-only interpreter
    python = RUNTIME_PYTHONS["3.12"]
    bootstrap.write_text(f'#!/bin/sh\nLAMBDABOOT_PYTHON={python} exec {BOOTSTRAP} "$@"\n')
    bootstrap.chmod(0o755)
    for number, found in enumerate(blocks.values()):
        (tmp_path / f"test_example_{number}.py").write_text(as_test_module(found))
    expected = sum(
        max(1, len(re.findall(r"^def test_", block, re.MULTILINE)))
        for found in blocks.values()
        for block in found
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{expected} passed" in run.stdout, run.stdout[-2000:]
