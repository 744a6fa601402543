"""What running a native program costs per invocation: exec vs co-process vs pure Python (issue 7).

Three functions do the same work on the same event (summarise 100 numbers):

- ``python``: a Python handler computing the summary itself (the floor: no process at all);
- ``coprocess``: ``exec:bin/analyze`` with ``LAMBDABOOT_EXEC_MODE=coprocess`` (the legacy C
  example, started once, one JSON line each way);
- ``exec``: ``exec:bin/analyze`` run afresh per invocation (fork/exec, the dynamic loader,
  pipes, reaping).

Measured warm, through the real ``bootstrap`` under the local Lambda: the runtime's holding
time per invocation (from the event leaving ``/next`` to the runtime's next ``/next``), in
interleaved blocks so drift on a shared machine hits all three alike.

    python -m benchmarks.native_overhead [--invocations 2000] [--block 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.environments import REPO
from benchmarks.stats import ratios, summarize
from local_lambda import FunctionConfig, InvokeResult, LocalLambda

RESULTS = REPO / "benchmarks" / "results"
EVENT = {"values": list(range(1, 101))}
PYTHON_HANDLER = """
def handler(event, context):
    values = event["values"]
    total = sum(values)
    return {"count": len(values), "sum": total, "mean": total / len(values),
            "min": min(values), "max": max(values), "library": "python"}
"""
CONTENDERS = {
    "python": ("app.handler", {}),
    "coprocess": (
        "exec:bin/analyze",
        {"LAMBDABOOT_EXEC_MODE": "coprocess", "LAMBDABOOT_EXEC_ARGS": "--serve"},
    ),
    "exec": ("exec:bin/analyze", {}),
}


def build_function(root: Path) -> Path:
    """The task root: the C example built into bin/ and lib/, and the Python handler."""
    subprocess.run(
        ["make", "-s", "-C", str(REPO / "examples" / "legacy-c"), f"BUILD={root}"], check=True
    )
    (root / "app.py").write_text(PYTHON_HANDLER)
    return root


def measure(
    task_root: Path, total: int, block: int, python: str
) -> dict[str, dict[str, list[float]]]:
    """Holding time (µs) and the invoker's round trip (µs) of ``total`` warm invocations each."""
    figures: dict[str, dict[str, list[float]]] = {
        n: {"holding_us": [], "round_trip_us": []} for n in CONTENDERS
    }
    results: dict[str, list[InvokeResult]] = {n: [] for n in CONTENDERS}
    lambdas = {
        name: LocalLambda(
            FunctionConfig(
                command=[str(REPO / "bootstrap")],
                task_root=task_root,
                handler=handler,
                timeout=30.0,
                memory_mb=1024,
                env={"LAMBDABOOT_PYTHON": python, **env},
                function_name=name,
            )
        )
        for name, (handler, env) in CONTENDERS.items()
    }
    try:
        for name, lam in lambdas.items():
            for _ in range(100):  # warm-up, not recorded
                _check(name, lam.invoke(EVENT))
        while any(len(r) < total for r in results.values()):
            for name, lam in lambdas.items():
                for _ in range(min(block, total - len(results[name]))):
                    start = time.perf_counter_ns()
                    result = lam.invoke(EVENT)
                    figures[name]["round_trip_us"].append((time.perf_counter_ns() - start) / 1000)
                    _check(name, result)
                    results[name].append(result)
        time.sleep(0.05)  # the last invocation's holding time ends at the runtime's next /next
    finally:
        for lam in lambdas.values():
            lam.close()
    for name, done in results.items():
        figures[name]["holding_us"] = [
            r.timings.holding_ns / 1000 for r in done if r.timings.holding_ns
        ]
    return figures


def _check(name: str, result: InvokeResult) -> None:
    if result.function_error or result.json().get("count") != len(EVENT["values"]):
        raise SystemExit(
            f"{name} did not summarise the event: {result.payload[:300]!r}\n{result.logs}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--invocations", type=int, default=2000, help="warm invocations per contender"
    )
    parser.add_argument(
        "--block", type=int, default=200, help="invocations per contender before switching"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter the runtime runs on")
    parser.add_argument("--out", type=Path, default=RESULTS / "native_overhead")
    args = parser.parse_args(argv)
    if shutil.which("make") is None or shutil.which("gcc") is None:
        raise SystemExit("make and gcc are needed to build examples/legacy-c")

    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(build_function(Path(tmp)), args.invocations, args.block, args.python)

    summary = {name: {k: summarize(v) for k, v in f.items()} for name, f in figures.items()}
    holding = {name: s["holding_us"] for name, s in summary.items()}
    result = {
        "command": "python -m benchmarks.native_overhead "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "event": "summarise 100 numbers (examples/legacy-c analyze, or the same in Python)",
        "units": "µs per warm invocation",
        "summary": summary,
        "holding_ratio_vs_python": ratios(holding, "python"),
        "holding_overhead_vs_python_us": {
            name: round(s["median"] - holding["python"]["median"], 1) for name, s in holding.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    _plot(figures, args.out.with_suffix(".png"))
    for name, s in holding.items():
        print(
            f"{name:>10}: median {s['median']:8.1f} µs  p90 {s['p90']:8.1f} µs  "
            f"(+{result['holding_overhead_vs_python_us'][name]} µs vs python)"
        )  # type: ignore[index]
    return 0


def _plot(figures: dict[str, dict[str, list[float]]], path: Path) -> None:
    plt = charts.pyplot()
    names = list(figures)
    fig, axis = plt.subplots(figsize=(8, 5))
    charts.boxes_with_ratios(axis, {n: figures[n]["holding_us"] for n in names}, baseline=names[0])
    axis.set_yscale("log")
    axis.set_ylabel("µs per warm invocation (runtime holding time, log scale)")
    n = len(figures[names[0]]["holding_us"]) if names else 0
    charts.suptitle(
        fig,
        "Native handler overhead: the same work as Python, exec and co-process",
        runtime="lambdaboot's bootstrap in the local Lambda",
        n=f"{n} warm invocations each; ratio to {names[0]}",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
