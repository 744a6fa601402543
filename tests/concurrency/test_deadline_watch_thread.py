"""The sync deadline watch (``LAMBDABOOT_DEADLINE_MARGIN_MS``) is one long-lived thread for
the process, not a timer thread started and stopped for every invocation; it still fires
(``test_deadlines.py`` checks the stack it logs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.conftest import on_bootstrap, write_function

APP = """
import threading

def handler(event, context):
    return sorted(
        (thread.name, thread.ident) for thread in threading.enumerate()
        if thread is not threading.current_thread()
    )
"""


@pytest.mark.parametrize(
    ("concurrency", "env"),
    [(1, {}), (2, {"LAMBDABOOT_SYNC_THREADS": "1"})],
    ids=["blocking", "threads"],
)
def test_one_watch_thread_serves_every_invocation(
    function_dir: Path, runtime_python: Path, concurrency: int, env: dict[str, str]
) -> None:
    config = on_bootstrap(
        write_function(function_dir, {"app.py": APP}),
        runtime_python,
        {"LAMBDABOOT_DEADLINE_MARGIN_MS": "1000"} | env,
        handler="app.handler",
        timeout=10.0,
        max_concurrency=concurrency,
    )
    with LocalLambda(config) as lam:
        seen = [[tuple(thread) for thread in lam.invoke({}).json()] for _ in range(4)]
    watchers = [{t for t in threads if t[0] == "lambdaboot-deadline"} for threads in seen]
    assert all(len(found) == 1 for found in watchers), seen
    assert len(set.union(*watchers)) == 1  # the same thread every time
    assert not [t for threads in seen for t in threads if t[0].startswith("Thread-")], seen
