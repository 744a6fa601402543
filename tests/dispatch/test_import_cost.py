"""The start-up path stays cheap: importing dispatch loads nothing heavy, and serving the
first invocation of a plain sync handler loads neither orjson nor ``json`` (orjson is
loaded after the first response is posted; see runtime_core/serialize.py), nor
traceback, decimal, logging or anything asyncio.

Checked in a fresh interpreter (``-I -S``, as the bootstrap starts it) per runtime Python,
by which modules end up in ``sys.modules``: a fact, not a timing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO

SCRIPT = r"""
import sys, time
sys.path[:0] = [{repo!r}, {site!r}]
import runtime_core
before = set(sys.modules)
import runtime_core.dispatch as d
added_by_dispatch = sorted(set(sys.modules) - before)
from runtime_core.invocation import Invocation
sys.path.insert(0, {task!r})
handler = d.load_handler("app.handler", {task!r})
inv = Invocation("r", int(time.time() * 1000) + 3000, "arn", b'{{"a": [1, 2, {{"b": "c"}}]}}')
outcome = d.call_sync(handler, inv)
after_call = sorted(sys.modules)
import json
print(json.dumps({{
    "added_by_dispatch": added_by_dispatch,
    "after_call": after_call,
    "is_async": d.is_async(handler),
    "body": outcome.body.decode(),
}}))
"""

HEAVY = {
    "orjson", "json", "dataclasses", "inspect", "uuid", "traceback", "decimal",
    "asyncio", "uvloop", "structlog", "httpx", "logging", "typing_extensions",
}


def _probe(python: Path, task: Path) -> dict[str, object]:
    (task / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    site = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    script = SCRIPT.format(repo=str(REPO), site=site, task=str(task))
    done = subprocess.run([str(python), "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_importing_dispatch_adds_only_runtime_core_modules(runtime_python: Path, function_dir: Path) -> None:
    result = _probe(runtime_python, function_dir)
    added = result["added_by_dispatch"]
    assert isinstance(added, list)
    # os (with what it loads) is imported by bootstrap's prelude before runtime_core, and any
    # runtime needs it to read its environment; under -S nothing else has loaded it yet.
    os_closure = {"os", "os.path", "posixpath", "genericpath", "stat", "_stat", "_collections_abc"}
    assert [m for m in added if not m.startswith("runtime_core.") and m not in os_closure] == []


def test_serving_the_first_invocation_loads_nothing_heavy(runtime_python: Path, function_dir: Path) -> None:
    result = _probe(runtime_python, function_dir)
    assert result["body"] == '{"got":{"a":[1,2,{"b":"c"}]}}'
    assert result["is_async"] is False
    loaded = set(result["after_call"])  # type: ignore[arg-type]
    assert sorted(HEAVY & loaded) == []
