"""The start-up path stays cheap: what bootstrap's prelude imports (``runtime_core.main``),
the Runtime API client it builds (with httptools' C parser), loading the handler and
serving the first invocation of a plain sync handler load nothing heavy: not ``typing``,
``importlib`` or ``warnings``, not orjson or ``json`` (orjson is loaded after the first
response is posted; see runtime_core/serialize.py), nor traceback, decimal, logging or
anything asyncio.

Checked per runtime Python by which modules end up in ``sys.modules``: a fact, not a
timing. bootstrap runs ``-s -u``, which lets ``site`` process the ``.pth`` files of the
venv the interpreter lives in (the suite's own venv has editable installs whose hooks
import ``importlib``; a Lambda environment has none), so the probe runs under ``-I -S``
with the interpreter's site-packages put on ``sys.path`` by hand: only what lambdaboot
itself imports shows up.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO

SCRIPT = """
import sys, os, time  # sys and os: what bootstrap's prelude has imported before runtime_core
sys.path[:0] = [{repo!r}, {site!r}]
before = set(sys.modules)
from runtime_core.main import main
from runtime_core.engine.client import RuntimeClient
client = RuntimeClient("127.0.0.1:9001")  # builds the transport and its parser; \
connects on first send
added_by_start = sorted(set(sys.modules) - before)
from runtime_core.dispatch import call_sync, is_async
from runtime_core.handler_loader import load_handler
from runtime_core.invocation import Invocation
sys.path.insert(0, {task!r})
handler = load_handler("app.handler", {task!r})
inv = Invocation("r", int(time.time() * 1000) + 3000, "arn", b'{{"a": [1, 2, {{"b": "c"}}]}}')
outcome = call_sync(handler, inv)
request = client.protocol.post(inv, outcome)
after_call = sorted(sys.modules)
import json
print(json.dumps({{
    "added_by_start": added_by_start,
    "after_call": after_call,
    "is_async": is_async(handler),
    "body": outcome.body.decode(),
    "request_ends_with_body": request.raw.endswith(outcome.body),
}}))
"""

HEAVY = {
    "orjson",
    "json",
    "dataclasses",
    "inspect",
    "uuid",
    "traceback",
    "decimal",
    "typing",
    # importlib (and on 3.12 the warnings it imports, ~1 ms there, ~0.2 ms on 3.13) is paid
    # on purpose: the handler's module is imported by importlib.import_module, as
    # awslambdaric imports it, so that an exception raised at import has the same stack.
    "asyncio",
    "uvloop",
    "structlog",
    "httpx",
    "logging",
    "typing_extensions",
}

# Besides runtime_core's own modules, all that start-up may add (each measured, see
# docs/architecture.md): the C socket module, httptools' C parser (not its package, whose
# __init__ imports typing), and what ``from __future__`` and ``contextvars`` cost.
START_UP_EXTRAS = {
    "__future__",
    "_contextvars",
    "contextvars",
    "_socket",
    "httptools.parser.parser",
    "httptools.parser.errors",
    "cython_runtime",
    # importlib.machinery finds httptools' C parser (runtime_core.startup: the private
    # PathFinder saved under 1 ms, and importlib is loaded anyway to import the handler).
    "importlib",
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "importlib.machinery",
    "warnings",
}


def _probe(python: Path, task: Path) -> dict[str, object]:
    (task / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    site = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    script = SCRIPT.format(repo=str(REPO), site=site, task=str(task))
    done = subprocess.run(
        [str(python), "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_starting_the_runtime_adds_only_budgeted_modules(
    runtime_python: Path, function_dir: Path
) -> None:
    result = _probe(runtime_python, function_dir)
    added = result["added_by_start"]
    assert isinstance(added, list)
    assert "runtime_core.main" in added and "httptools.parser.parser" in added
    unexpected = [
        name
        for name in added
        if not name.startswith(("runtime_core.", "_cython_"))
        and name != "runtime_core"
        and name not in START_UP_EXTRAS
    ]
    assert unexpected == []


def test_serving_the_first_invocation_loads_nothing_heavy(
    runtime_python: Path, function_dir: Path
) -> None:
    result = _probe(runtime_python, function_dir)
    assert result["body"] == '{"got":{"a":[1,2,{"b":"c"}]}}'
    assert result["request_ends_with_body"] is True
    assert result["is_async"] is False
    loaded = set(result["after_call"])  # type: ignore[arg-type]
    assert sorted(HEAVY & loaded) == []
