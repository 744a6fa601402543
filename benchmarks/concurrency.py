"""Managed Instances concurrency: an I/O-bound handler (it waits 50 ms) at N in flight.

lambdaboot serves an ``async def`` handler N at a time on a uvloop engine per CPU (each
process holding its share of the N slots, forked after init); awslambdaric 4.2.2
(AWS's client) runs its process-per-slot mode (N forked workers, each one invocation at a
time) with the same wait written as a sync handler, since it has no async handlers. Both
run under the local Lambda with ``max_concurrency=N``, driven by N callers in a closed
loop for a fixed time per point. Memory is Max Memory Used as the local Lambda measures
it (the environment's cgroup peak, or summed PSS where there is no cgroup), never summed RSS.

Bars (issue 5): throughput >= 0.8*N x the N=1 figure up to N=32; memory at N=16 <= 1/4 of
awslambdaric's.

    python -m benchmarks.concurrency [--seconds 3] [--levels 1 8 16 32 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import charts
from benchmarks.contenders import Contender, awslambdaric, lambdaboot
from benchmarks.environments import REPO, compile_repo_sources
from local_lambda import FunctionConfig, LocalLambda
from local_lambda.model import PendingInvoke

RESULTS = REPO / "benchmarks" / "results"
APP = """
import asyncio, time

async def wait_async(event, context):
    await asyncio.sleep(0.05)
    return {"ok": True}

def wait_sync(event, context):
    time.sleep(0.05)
    return {"ok": True}
"""


def _contenders() -> list[tuple[Contender, str]]:
    return [(lambdaboot(), "app.wait_async"), (awslambdaric("app.wait_sync"), "app.wait_sync")]


async def _drive(lam: LocalLambda, n: int, seconds: float) -> tuple[int, int, int]:
    """N callers in a closed loop for ``seconds``; (completed, errors, peak memory MB)."""
    stop = time.perf_counter() + seconds
    completed = errors = memory = 0

    async def caller() -> None:
        nonlocal completed, errors, memory
        while time.perf_counter() < stop:
            result = await lam.run(PendingInvoke(b"{}", lam.function_arn))
            if result.function_error:
                errors += 1
            else:
                completed += 1
            if result.report is not None:
                memory = max(memory, result.report.max_memory_used_mb)

    await asyncio.gather(*(caller() for _ in range(n)))
    return completed, errors, memory


def measure(
    contender: Contender, handler: str, task_root: Path, n: int, seconds: float
) -> dict[str, Any]:
    config = FunctionConfig(
        command=contender.command,
        task_root=task_root,
        handler=handler,
        timeout=30.0,
        memory_mb=2048,
        env=contender.env,
        function_name=contender.name,
        max_concurrency=n,
    )
    with LocalLambda(config) as lam:
        warm = lam.call(_drive(lam, n, 0.5))  # init, then every worker warm
        if warm[1]:
            raise SystemExit(f"{contender.name} failed at N={n}: {lam.output[-2000:]}")
        started = time.perf_counter()
        completed, errors, memory = lam.call(_drive(lam, n, seconds))
        elapsed = time.perf_counter() - started
    return {
        "contender": contender.name,
        "n": n,
        "invocations": completed,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "throughput_per_s": round(completed / elapsed, 1),
        "max_memory_used_mb": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    args = parser.parse_args()
    compile_repo_sources()
    task_root = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    (task_root / "app.py").write_text(APP)
    points = []
    for n in args.levels:
        for contender, handler in _contenders():
            point = measure(contender, handler, task_root, n, args.seconds)
            print(json.dumps(point), flush=True)
            points.append(point)
    summary = _bars(points)
    out = {
        "command": "python -m benchmarks.concurrency " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "handler": "waits 50 ms (asyncio.sleep for lambdaboot, time.sleep for awslambdaric)",
        "points": points,
        "bars": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "concurrency.json").write_text(json.dumps(out, indent=2) + "\n")
    _plot(points, RESULTS / "concurrency.png", args.seconds, platform.python_version())
    print(json.dumps(summary, indent=2))


def _bars(points: list[dict[str, Any]]) -> dict[str, Any]:
    def at(name: str, n: int) -> dict[str, Any] | None:
        return next((p for p in points if p["contender"] == name and p["n"] == n), None)

    bars: dict[str, Any] = {"throughput": [], "memory_n16": None}
    base = at("lambdaboot", 1)
    for point in points:
        if point["contender"] != "lambdaboot" or base is None or point["n"] > 32:
            continue
        ratio = point["throughput_per_s"] / base["throughput_per_s"]
        bars["throughput"].append(
            {
                "n": point["n"],
                "x_n1": round(ratio, 2),
                "needed": round(0.8 * point["n"], 2),
                "met": ratio >= 0.8 * point["n"],
            }
        )
    ours, theirs = at("lambdaboot", 16), at("awslambdaric", 16)
    if ours and theirs and theirs["max_memory_used_mb"]:
        share = ours["max_memory_used_mb"] / theirs["max_memory_used_mb"]
        bars["memory_n16"] = {
            "lambdaboot_mb": ours["max_memory_used_mb"],
            "awslambdaric_mb": theirs["max_memory_used_mb"],
            "share": round(share, 3),
            "met": share <= 0.25,
        }
    return bars


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _plot(points: list[dict[str, Any]], path: Path, seconds: float, python: str) -> None:
    plt = charts.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for name in ("lambdaboot", "awslambdaric"):
        mine = [p for p in points if p["contender"] == name]
        ns = [p["n"] for p in mine]
        left.plot(ns, [p["throughput_per_s"] for p in mine], marker="o", label=name)
        right.plot(ns, [p["max_memory_used_mb"] for p in mine], marker="o", label=name)
    ideal = [p for p in points if p["contender"] == "lambdaboot"]
    if ideal:
        base = ideal[0]["throughput_per_s"] / ideal[0]["n"]
        left.plot([p["n"] for p in ideal], [base * p["n"] for p in ideal], "k:", label="N x (N=1)")
    theirs = {p["n"]: p for p in points if p["contender"] == "awslambdaric"}
    for p in ideal:  # lambdaboot over awslambdaric at each N, on lambdaboot's points
        other = theirs.get(p["n"])
        for axis, key, below in ((left, "throughput_per_s", -14), (right, "max_memory_used_mb", 8)):
            if other and other[key]:
                charts.label_ratio(axis, p["n"], p[key], p[key] / other[key], below)
    left.set(
        xlabel="invocations in flight (N)",
        ylabel="invocations / s",
        title="Throughput (labels: lambdaboot / awslambdaric)",
    )
    right.set(
        xlabel="invocations in flight (N)",
        ylabel="Max Memory Used (MB)",
        title="Environment memory (labels: lambdaboot / awslambdaric)",
    )
    for axes in (left, right):
        axes.set_xscale("log", base=2)
        axes.legend()
        axes.grid(alpha=0.3)
    charts.suptitle(
        fig,
        "Concurrency (Lambda Managed Instances): 50 ms I/O-bound async handler",
        runtime="lambdaboot (a uvloop process per CPU) vs awslambdaric 4.2.2 "
        f"(a process per slot), Python {python}",
        n=f"N callers in a closed loop for {seconds:g} s at each N",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    main()
