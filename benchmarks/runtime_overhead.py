"""How much time the runtime itself costs, warm and cold, side by side (issue: Runtime core).

Warm: the time the runtime *holds* each invocation, measured by the local Lambda's server
(from the event leaving on ``/next`` to the runtime's next ``/next``, so it includes
receiving the event, calling a trivial handler, posting the result and asking again).
Contenders run interleaved in blocks so drift on a shared machine hits all of them alike.

Cold: a fresh process per run, contenders interleaved A B C D; spawn to first ``/next``
(Lambda's Init Duration) and spawn to first response (cold round trip).

    python -m benchmarks.runtime_overhead [--warm 10000] [--cold 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.contenders import Contender, all_contenders
from benchmarks.environments import REPO, compile_repo_sources
from benchmarks.stats import ratios, summarize
from lambdaboot_bench import runner
from local_lambda import FunctionConfig, LocalLambda

RESULTS = REPO / "benchmarks" / "results"
HANDLER_SOURCE = 'def handler(event, context):\n    return {"ok": True}\n'
EVENT = {"key": "value"}
BASELINE = "awslambdaric"


def _config(contender: Contender, task_root: Path) -> FunctionConfig:
    return FunctionConfig(
        command=contender.command,
        task_root=task_root,
        handler="app.handler",
        timeout=30.0,
        memory_mb=1024,
        env=contender.env,
        function_name=contender.name,
    )


def _check(contender: Contender, result: object) -> None:
    payload = getattr(result, "payload", b"")
    if getattr(result, "function_error", None) or json.loads(payload) != {"ok": True}:
        raise SystemExit(f"{contender.name} did not serve the trivial handler: {payload[:300]!r}")


def warm(
    contenders: list[Contender], task_root: Path, total: int, block: int
) -> dict[str, list[float]]:
    """Holding time per invocation, µs, ``total`` invocations per contender."""
    holding: dict[str, list[float]] = {c.name: [] for c in contenders}
    lambdas = {c.name: LocalLambda(_config(c, task_root)) for c in contenders}
    try:
        for contender in contenders:
            lam = lambdas[contender.name]
            lam.open()
            for _ in range(200):  # warm-up, not recorded
                _check(contender, lam.invoke(EVENT))
        pending: dict[str, object] = {}
        while any(len(values) < total for values in holding.values()):
            for contender in contenders:
                lam = lambdas[contender.name]
                values = holding[contender.name]
                for _ in range(min(block, total - len(values))):
                    result = lam.invoke(EVENT)
                    # An invocation's holding time is known once the runtime asked for the
                    # next one, which it does right after the previous result was accepted.
                    previous = pending.pop(contender.name, None)
                    if previous is not None:
                        values.append(previous.timings.holding_ns / 1000)  # type: ignore[attr-defined]
                    pending[contender.name] = result
        # the last pending results: wait until the runtime's next /next has arrived
        time.sleep(0.05)
        for name, result in pending.items():
            ns = result.timings.holding_ns  # type: ignore[attr-defined]
            if ns and len(holding[name]) < total:
                holding[name].append(ns / 1000)
    finally:
        for lam in lambdas.values():
            lam.close()
    return holding


def cold(
    contenders: list[Contender], task_root: Path, runs: int
) -> dict[str, dict[str, list[float]]]:
    """Init Duration and cold round trip, ms, ``runs`` fresh processes per contender
    (``lambdaboot bench``'s runner)."""
    targets = [runner.Target(c.name, _config(c, task_root)) for c in contenders]
    try:
        samples = runner.run(targets, json.dumps(EVENT).encode(), cold=runs, warm=0, profile=False)
    except runner.BenchError as exc:
        raise SystemExit(str(exc)) from exc
    return {
        name: {"init_ms": s.phases["init_ms"], "round_trip_ms": s.phases["first_response_ms"]}
        for name, s in samples.items()
    }


def plot(
    warm_us: dict[str, list[float]], cold_ms: dict[str, dict[str, list[float]]], path: Path
) -> None:
    plt = charts.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    charts.boxes_with_ratios(left, warm_us, BASELINE)
    left.set_ylabel("µs per invocation (runtime holding time)")
    left.set_title("Warm (local Lambda's Runtime API)")
    charts.boxes_with_ratios(right, {n: cold_ms[n]["round_trip_ms"] for n in cold_ms}, BASELINE)
    right.set_ylabel("ms, spawn to first response")
    right.set_title("Cold round trip")
    warm_n = len(next(iter(warm_us.values()), []))
    cold_n = len(next(iter(cold_ms.values()), {}).get("round_trip_ms", []))
    charts.suptitle(
        fig,
        "Runtime overhead: trivial sync handler (return {'ok': True})",
        runtime="each runtime on one bare interpreter, packages as a layer holds them",
        n=(
            f"{warm_n} warm invocations and {cold_n} cold starts each, interleaved; "
            f"ratio to {BASELINE}"
        ),
    )
    charts.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warm", type=int, default=10_000, help="warm invocations per contender")
    parser.add_argument(
        "--block", type=int, default=500, help="invocations per contender before switching"
    )
    parser.add_argument("--cold", type=int, default=20, help="cold starts per contender")
    parser.add_argument("--python", default="3.11", help="Python version the runtimes run on")
    parser.add_argument("--out", type=Path, default=RESULTS / "runtime_overhead")
    args = parser.parse_args(argv)

    compile_repo_sources(args.python)
    with tempfile.TemporaryDirectory() as tmp:
        task_root = Path(tmp)
        (task_root / "app.py").write_text(HANDLER_SOURCE)
        contenders = all_contenders("app.handler", args.python)
        warm_us = warm(contenders, task_root, args.warm, args.block) if args.warm else {}
        cold_ms = cold(contenders, task_root, args.cold) if args.cold else {}

    warm_summary = {name: summarize(values) for name, values in warm_us.items()}
    cold_summary = {
        name: {phase: summarize(values) for phase, values in phases.items()}
        for name, phases in cold_ms.items()
    }
    result = {
        "command": "python -m benchmarks.runtime_overhead "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": args.python,
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "units": {"warm": "µs of runtime holding time per invocation", "cold": "ms"},
        "warm": warm_summary,
        "warm_ratio_vs_awslambdaric": ratios(warm_summary, BASELINE) if warm_summary else {},
        "cold": cold_summary,
        "cold_round_trip_ratio_vs_awslambdaric": ratios(
            {n: s["round_trip_ms"] for n, s in cold_summary.items()}, BASELINE
        )
        if cold_summary
        else {},
        "cold_init_ratio_vs_awslambdaric": ratios(
            {n: s["init_ms"] for n, s in cold_summary.items()}, BASELINE
        )
        if cold_summary
        else {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    if warm_us and cold_ms:
        plot(warm_us, cold_ms, args.out.with_suffix(".png"))
    _print(result)
    return 0


def _print(result: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Runtime overhead (medians; ratio = / awslambdaric)")
    for column in ("runtime", "warm µs", "warm p90", "ratio", "init ms", "cold RT ms", "ratio"):
        table.add_column(column, justify="right")
    warm_s: dict = result["warm"]  # type: ignore[assignment]
    cold_s: dict = result["cold"]  # type: ignore[assignment]
    warm_r: dict = result["warm_ratio_vs_awslambdaric"]  # type: ignore[assignment]
    cold_r: dict = result["cold_round_trip_ratio_vs_awslambdaric"]  # type: ignore[assignment]
    for name in warm_s or cold_s:
        w = warm_s.get(name, {})
        c = cold_s.get(name, {})
        table.add_row(
            name,
            f"{w.get('median', 0):.1f}",
            f"{w.get('p90', 0):.1f}",
            f"{warm_r.get(name, 0):.2f}",
            f"{c.get('init_ms', {}).get('median', 0):.1f}",
            f"{c.get('round_trip_ms', {}).get('median', 0):.1f}",
            f"{cold_r.get(name, 0):.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    raise SystemExit(main())
