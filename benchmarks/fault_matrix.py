"""The fault matrix of docs/reliability.md: each hostile-API fault, lambdaboot vs awslambdaric.

Each runtime is started against ``tests.hostile_api.HostileApi``, served one warm
invocation, then the fault is scripted and three invocations follow; the verdict is
whether each delivered invocation got exactly one result or error.

    python -m benchmarks.fault_matrix [--out benchmarks/results/fault_matrix.json]

The verdicts go to the JSON (with the command) and, one row a fault, to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.environments import REPO
from tests.hostile_api import HostileApi
from tests.runtime.test_hostile_api import FAULTS

RESULTS = REPO / "benchmarks" / "results"

HANDLER = """import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return event
"""
RUNTIMES = {
    "lambdaboot": [str(REPO / "bootstrap")],
    "awslambdaric": [sys.executable, "-s", "-m", "awslambdaric", "app.handler"],
}
EXTRA: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("deadline", "bad", {}, {}),
    ("gone", "gone", {}, {}),
]


def _scenario(api: HostileApi, process: subprocess.Popen[bytes], fault: tuple[Any, ...]) -> str:
    kind, name, options, event = fault
    api.invoke({"warm": True})
    api.wait_answered(1, timeout=10)
    api.wait_parked(2, timeout=10)
    if kind == "gone":
        api.close()
        try:
            return f"exits {process.wait(10)}"
        except subprocess.TimeoutExpired:
            return "hangs"
    if kind == "deadline":
        bad = api.invoke({"n": 0}, Lambda_Runtime_Deadline_Ms="soon")
        api.invoke({"n": 1})
        try:
            api.wait_answered(3, timeout=8)
        except AssertionError:
            state = f"exits {process.poll()}" if process.poll() is not None else "alive"
            return f"lost, {state}"
        return "answered " + str(api.accepted[bad][0].json().get("errorType"))
    api.fault(kind, name, **options)
    for n in range(3):
        api.invoke({"n": n, **event})
    try:
        api.wait_answered(4, timeout=8)
    except AssertionError:
        answers = api.answers_per_invocation()
        lost = sum(1 for v in answers.values() if v == 0) + 4 - len(answers)
        state = f"exits {process.poll()}" if process.poll() is not None else "alive"
        return f"{lost} lost, {state}"
    answers = api.answers_per_invocation()
    return "one answer each" if set(answers.values()) == {1} else f"answers {answers}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "fault_matrix.json")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp()) / "task"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    rows: list[dict[str, str]] = []
    for fault in [*FAULTS, *EXTRA]:
        kind, name, options, _ = fault
        row = [f"{kind} {name}{' (taken)' if options.get('taken') else ''}"]
        for runtime, command in RUNTIMES.items():
            api = HostileApi()
            env = {
                "PATH": os.environ["PATH"],
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "LAMBDA_TASK_ROOT": str(root),
                "_HANDLER": "app.handler",
                "LAMBDABOOT_PYTHON": sys.executable,
                "AWS_LAMBDA_FUNCTION_NAME": "f",
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "PYTHONPATH": str(root),
            }
            with open(root.parent / f"{runtime}.log", "wb") as log:
                process = subprocess.Popen(
                    command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT
                )
                try:
                    row.append(_scenario(api, process, fault))
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.wait()
                    with contextlib.suppress(Exception):
                        api.close()
        print(" | ".join(row), flush=True)
        rows.append(dict(zip(["fault", *RUNTIMES], row, strict=True)))
    document = {
        "command": " ".join(["python -m benchmarks.fault_matrix", *(argv or sys.argv[1:])]),
        "python": sys.version.split()[0],
        "verdict": "whether each invocation delivered after the fault got exactly one answer",
        "rows": rows,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
