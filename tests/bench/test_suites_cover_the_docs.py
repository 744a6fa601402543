"""``make bench`` makes every figure the docs quote: each suite README.md or docs/ cites
(``python -m benchmarks.X`` or ``benchmarks/results/X.json``) is one ``run_all`` runs, and
each recorded result says which command made it."""

from __future__ import annotations

import json
import re

from benchmarks.run_all import RESULTS, SUITES
from tests.conftest import REPO

# Written by run_all itself rather than by a suite of their own.
RUN_ALL_OWN = {"cold_start", "conformance"}
# Not a figure: a chart of `lambdaboot bench` made by hand for a pull request.
NOT_QUOTED = {"first_response_vs_billed"}


def _cited() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        for name in re.findall(r"python -m benchmarks\.(\w+)", text) + re.findall(
            r"benchmarks/results/(\w+)\.(?:json|png)", text
        ):
            cited.setdefault(name, set()).add(doc.name)
    return cited


def test_every_cited_suite_is_run_by_make_bench() -> None:
    made = RUN_ALL_OWN | {s.name for s in SUITES} | {s.module for s in SUITES if s.module}
    missing = {name: docs for name, docs in _cited().items() if name not in made | {"run_all"}}
    assert not missing, f"cited but not run by benchmarks/run_all.py's SUITES: {missing}"


def test_every_result_records_the_command_that_made_it() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        if path.stem in NOT_QUOTED:
            continue
        command = json.loads(path.read_text()).get("command", "")
        assert command.startswith("python -m benchmarks."), (path.name, command)
