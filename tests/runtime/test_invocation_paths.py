"""docs/architecture.md's "One invocation" table, checked against the code that runs.

One invocation of each kind (sync, ``async def``, streaming) goes through the real
``bootstrap`` in the local Lambda, with a profiling hook installed by a small program that
``LAMBDABOOT_RUN`` starts in the runtime's place (same interpreter, same import path) before
it calls ``runtime_core.main``. The hook opens its window when the event's ``Invocation`` is
made (and takes the ``runtime_core`` files then on the call stack: the engine and
``main.py`` waiting below it), records every ``runtime_core`` file with a function called
after that, and closes it at the engine's after-the-response step (``after_response``,
called once the post has been answered). Those files, less the value helpers the doc names,
must be the table's row: a file added to a path, or one the doc lists and the code no longer
goes through, fails here, and so does a call from a file of the row back into one before it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from local_lambda import LocalLambda
from tests.conftest import REPO, on_bootstrap, write_function

DOC = REPO / "docs" / "architecture.md"

TRACER = """
import json
import os
import sys

import runtime_core
from runtime_core.main import main

ROOT = os.path.dirname(runtime_core.__file__) + os.sep
OUT = os.environ["TRACE_FILE"]
seen = set()
edges = set()
state = {"open": False}


def rel(path):
    return path[len(ROOT):]


def profile(frame, event, arg):
    if event != "call":
        return
    path = frame.f_code.co_filename
    if not path.startswith(ROOT):
        return
    name = frame.f_code.co_name
    if not state["open"]:
        if name == "__init__" and rel(path) == "invocation.py":
            state["open"] = True
            below = frame
            while below is not None:
                if below.f_code.co_filename.startswith(ROOT):
                    seen.add(rel(below.f_code.co_filename))
                below = below.f_back
        return
    if name == "after_response" and rel(path) == "serialize.py":
        sys.setprofile(None)
        with open(OUT + ".part", "w") as out:
            json.dump({"files": sorted(seen), "calls": sorted(edges)}, out)
        os.rename(OUT + ".part", OUT)
        return
    seen.add(rel(path))
    caller = frame.f_back
    while caller is not None and not caller.f_code.co_filename.startswith(ROOT):
        caller = caller.f_back
    if caller is not None and caller.f_code.co_filename != path:
        edges.add((rel(caller.f_code.co_filename), rel(path)))


sys.setprofile(profile)
main()
"""

HANDLERS = {
    "sync": """
        def handler(event, context):
            return {"echo": event}
        """,
    "async": """
        async def handler(event, context):
            return {"echo": event}
        """,
    "streaming": """
        from runtime_core import streaming_response

        @streaming_response
        async def handler(event, stream, context):
            await stream.write(b"chunk one ")
            await stream.write(b"chunk two")
        """,
}


def _doc_table() -> tuple[dict[str, tuple[list[str], list[str]]], list[str]]:
    """The table's rows (kind -> its files in order, the helpers it calls) and the helpers
    the counting rule names."""
    section = DOC.read_text().split("### One invocation, from `bootstrap` to the posted result")[1]
    rows: dict[str, tuple[list[str], list[str]]] = {}
    for line in section.splitlines():
        match = re.match(r"\| (sync|async|streaming) \(.*?\) \| (.*?) \| (.*?) \|$", line)
        if match:
            path, called = (re.findall(r"`([\w/]+\.py)`", match.group(n)) for n in (2, 3))
            rows[match.group(1)] = (path, called)
    rule = section.split("The counting rule:")[1].split("\n\n")[0]
    helpers = re.findall(r"`([\w/]+\.py)`", rule.split("except `bootstrap`")[1])
    return rows, helpers


def _trace(kind: str, task_root: Path) -> dict[str, list[Any]]:
    write_function(task_root, {"app.py": HANDLERS[kind], "tracer.py": TRACER})
    trace = task_root.parent / "trace.json"
    config = on_bootstrap(
        task_root,
        env={"LAMBDABOOT_RUN": str(task_root / "tracer.py"), "TRACE_FILE": str(trace)},
        timeout=10.0,
    )
    with LocalLambda(config) as lam:
        result = lam.invoke({"n": 1})
        if kind == "streaming":
            assert result.payload == b"chunk one chunk two"
        else:
            assert json.loads(result.payload) == {"echo": {"n": 1}}
        # The hook writes its file just after the post is answered, by when the local
        # Lambda may have frozen the environment (the pipelined GET /next came with the
        # post, as on Lambda): a second invocation thaws it, and the file is then written.
        lam.invoke({"n": 2})
        for _ in range(200):
            if trace.exists():
                break
            time.sleep(0.05)
        return dict(json.loads(trace.read_text()))


def test_the_doc_states_one_row_per_kind_of_six_files() -> None:
    rows, helpers = _doc_table()
    assert sorted(rows) == ["async", "streaming", "sync"]
    assert all(len(path) == 6 for path, _ in rows.values()), rows
    assert "dispatch.py" not in helpers and "serialize.py" in helpers


@pytest.mark.parametrize("kind", ["sync", "async", "streaming"])
def test_an_invocation_goes_through_the_files_the_doc_lists(kind: str, tmp_path: Path) -> None:
    rows, helpers = _doc_table()
    trace = _trace(kind, tmp_path / "task")
    ran = trace["files"]
    assert "dispatch.py" in ran  # the hook saw the invocation at all
    path, called = rows[kind]
    assert sorted(set(ran) - set(helpers)) == sorted(path), " ".join(ran)
    assert set(ran) & set(helpers) <= set(called), " ".join(ran)
    # and the helpers are leaves: none of them calls on into a file of the path
    onward = [(a, b) for a, b in trace["calls"] if a in helpers and b not in helpers]
    assert onward == []
    # and the row is in reading order: no file calls back into one before it (a hop back)
    back = [
        (a, b)
        for a, b in trace["calls"]
        if a in path and b in path and path.index(b) < path.index(a)
    ]
    assert back == []
