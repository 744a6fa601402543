"""What parsing a big event costs in-process, step by step: the big-integer guard, orjson,
the runtime's whole decode (guard + orjson) and the stdlib's ``json.loads``.

``event_sizes`` measures whole round trips; this one separates the parse, to show what the
guard (``runtime_core.serialize._may_hold_big_int``) costs against the parser it protects
on each of the size table's events, and the guard as it was before it skipped the chunks
where no long run ends at a separator (``guard, before``: the module at ``BEFORE``, loaded
from git). The steps run interleaved, round after round, on one interpreter with orjson
already imported (the path of every invocation once it pays); medians of per-round
medians are reported, with ratios to ``json.loads``.

    python -m benchmarks.event_decode [--rounds 15] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.event_sizes import KINESIS, SIZES, event_for
from benchmarks.stats import summarize
from runtime_core import serialize

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
BASELINE = "json.loads"
#: The last commit whose guard looked at every long run that starts after a separator.
BEFORE = "2e0d15a"


def guard_before() -> Callable[[bytes], bool]:
    """The guard as ``BEFORE`` had it, side by side with today's in the same process."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BEFORE}:runtime_core/serialize.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("serialize_before")
    exec(compile(source, "serialize_before.py", "exec"), module.__dict__)
    guard: Callable[[bytes], bool] = module._may_hold_big_int
    return guard


def steps(body: bytes, before: Callable[[bytes], bool]) -> dict[str, Callable[[], Any]]:
    import orjson

    return {
        "guard": lambda: serialize._may_hold_big_int(body),
        "guard, before": lambda: before(body),
        "orjson.loads": lambda: orjson.loads(body),
        "decode_event": lambda: serialize.decode_event(body, "application/json"),
        BASELINE: lambda: json.loads(body),
    }


def per_call_us(step: Callable[[], Any], repeat: int) -> float:
    """The median of ``repeat`` calls, µs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        step()
        times.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=20, help="calls per step per round")
    parser.add_argument("--out", type=Path, default=RESULTS / "event_decode")
    args = parser.parse_args(argv)
    serialize.preload()
    before = guard_before()
    sizes: dict[str, Any] = {}
    for name in [*SIZES, KINESIS]:
        body = event_for(name)
        named = steps(body, before)
        samples: dict[str, list[float]] = {step: [] for step in named}
        for round_ in range(args.rounds):
            order = list(named)
            shift = round_ % len(order)
            for step in order[shift:] + order[:shift]:
                samples[step].append(per_call_us(named[step], args.repeat))
        medians = {step: statistics.median(values) for step, values in samples.items()}
        sizes[name] = {
            "bytes": len(body),
            "guard_says_may_hold_big_int": serialize._may_hold_big_int(body),
            "summary_us": {step: summarize(values) for step, values in samples.items()},
            "ratio_vs_json_loads": {
                step: round(value / medians[BASELINE], 3) for step, value in medians.items()
            },
            "guard_share_of_decode": round(medians["guard"] / medians["decode_event"], 3),
        }
        print(
            f"{name:>12}: "
            + "  ".join(f"{step} {value / 1000:.3f} ms" for step, value in medians.items()),
            file=sys.stderr,
        )
    result = {
        "command": " ".join(["python -m benchmarks.event_decode", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "what": "in-process µs per call, orjson imported; median over rounds of each "
        "round's median of --repeat calls; steps interleaved",
        "runs": {"rounds": args.rounds, "repeat": args.repeat},
        "guard_before": f"runtime_core/serialize.py at {BEFORE}",
        "sizes": sizes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    return 0


def plot(result: dict[str, Any], path: Path) -> None:
    from benchmarks import charts

    plt = charts.pyplot()
    names = list(result["sizes"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.8 * len(names), 4.0))
    for axis, name in zip(axes, names, strict=True):
        data = result["sizes"][name]
        steps_ = list(data["summary_us"])
        charts.bars_with_ratios(
            axis,
            names=steps_,
            medians=[data["summary_us"][s]["median"] / 1000 for s in steps_],
            ratios=[data["ratio_vs_json_loads"][s] for s in steps_],
            baseline=BASELINE,
            fmt="{:.3g}",
        )
        axis.set_title(f"{name} ({data['bytes']:,} B)", fontsize=9)
        axis.set_ylabel("ms per call")
        axis.tick_params(axis="x", labelsize=7)
    charts.suptitle(
        fig,
        "Parsing an event in-process: the big-integer guard against the parsers",
        runtime=f"Python {result['machine']['python']}, orjson imported",
        n=f"{result['runs']['rounds']} rounds x {result['runs']['repeat']} calls",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
