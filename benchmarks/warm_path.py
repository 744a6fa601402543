"""Warm path against the floor: lambdaboot vs a minimal C runtime vs awslambdaric 4.2.2.

Every contender runs behind its own Runtime API stub, on two servers side by side: a Go
``net/http`` stub (AWS's Runtime API is Go ``net/http``) and a Python one. Stubs are
pinned to one core and runtimes to the other (``taskset``). Each round hands every
(contender, server) pair one block of invocations in turn, in a rotating order, so drift
on a shared machine hits all of them alike; figures are the median over blocks of each
block's median, and ratios are taken block by block against the C loop behind the same
server in the same round.

Measured per invocation: the time the runtime holds it (event sent -> next ``GET /next``
arrives, measured by the stub), the runtime's CPU (every thread, the scheduler's
accounting) and the stub's CPU. The function echoes its event (``return event``); the
C loop posts the event's bytes back. A skeptic's second floor, ``python-floor``
(``benchmarks/contenders/python_floor_bootstrap.py``), does the C loop's steps in Python
with orjson and the handler call: what any CPython runtime pays, whatever its design;
lambdaboot is also reported as a multiple of it (``ratio_vs_python_floor``).

Targets the suite reports against (issue 15): lambdaboot's held time at most 1.15x the
C loop's, its CPU at most 1.3x.

    python -m benchmarks.warm_path [--blocks 12] [--block 2000] [--servers go,python]
        [--variant NAME:SPEC ...]

``--variant`` adds lambdaboot once more, changed, as one more contender in the same
interleaved rounds: SPEC is a comma-separated list of another tree (a checkout's folder, or
``git:REV``, e.g. ``git:HEAD~1`` for the tree before a change; its ``bootstrap`` runs)
and ``KEY=VALUE`` settings added to its environment (``PYTHONMALLOC=malloc``). That is how
each warm-path trick was measured against the code without it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.contenders import Contender, awslambdaric, c_loop, lambdaboot, python_floor
from benchmarks.environments import REPO, compile_repo_sources
from benchmarks.stats import summarize
from benchmarks.trees import PREFIX, TreeError, export_tree
from benchmarks.warm.harness import Block, Pair

RESULTS = REPO / "benchmarks" / "results"
HANDLER = "app.handler"
HANDLER_SOURCE = "def handler(event, context):\n    return event\n"
EVENT = b'{"key":"value"}'
FLOOR = "c-loop"
#: What CPython itself costs: the C loop's steps in Python, with orjson and the handler.
PY_FLOOR = "python-floor"
TARGETS = {"held": 1.15, "cpu": 1.3}


def contenders(
    version: str,
    smoke: bool = False,
    modes: bool = True,
    variants: list[Contender] | None = None,
    floors: bool = False,
) -> list[Contender]:
    """The C floor (with ``floors``, the Python floor too), lambdaboot (with ``modes``, its
    one-request-at-a-time mode too), its ``variants`` (see ``variant``), and awslambdaric.

    ``smoke``: both Python runtimes on this interpreter, with no package installs (what
    the tests use to keep the suite working).
    """
    if smoke:
        python = sys.executable
        shipped = Contender("lambdaboot", [str(REPO / "bootstrap")], {"LAMBDABOOT_PYTHON": python})
        ours = [shipped, one_at_a_time(shipped)] if modes else [shipped]
        script = Path(python_floor().command[-1])
        return [
            c_loop(),
            *([Contender(PY_FLOOR, [python, "-s", str(script)])] if floors else []),
            *ours,
            *[variant_of(shipped, v) for v in variants or []],
            Contender("awslambdaric", [python, "-s", "-m", "awslambdaric", HANDLER]),
        ]
    shipped = lambdaboot(version)
    ours = [shipped, one_at_a_time(shipped)] if modes else [shipped]
    return [
        c_loop(),
        *([python_floor(version)] if floors else []),
        *ours,
        *[variant_of(shipped, v) for v in variants or []],
        awslambdaric(HANDLER, version),
    ]


def variant(text: str) -> Contender:
    """``NAME:SPEC`` (``--variant``) as a partial contender: the command is a checkout's
    ``bootstrap`` (or empty for this one), the environment the settings given."""
    name, sep, spec = text.partition(":")
    if not sep or not name or not spec or " / " in name:
        raise argparse.ArgumentTypeError(
            f"--variant takes NAME:DIR, NAME:git:REV or NAME:KEY=VALUE[,...], got {text!r}"
        )
    command: list[str] = []
    env: dict[str, str] = {}
    for item in spec.split(","):
        key, equals, value = item.partition("=")
        if equals and key and "/" not in key:
            env[key] = value
        elif item.startswith(PREFIX):
            try:
                command = [str(export_tree(item) / "bootstrap")]
            except TreeError as error:
                raise argparse.ArgumentTypeError(f"--variant {name}: {error}") from None
        elif (Path(item) / "bootstrap").is_file():
            command = [str(Path(item).resolve() / "bootstrap")]
        else:
            raise argparse.ArgumentTypeError(
                f"--variant {name}: {item!r} is neither KEY=VALUE nor a checkout with a bootstrap"
            )
    return Contender(name, command, env)


def variant_of(shipped: Contender, changed: Contender) -> Contender:
    """lambdaboot as shipped, with a variant's checkout and settings."""
    return Contender(
        changed.name, changed.command or shipped.command, {**shipped.env, **changed.env}
    )


def one_at_a_time(contender: Contender) -> Contender:
    return Contender(
        contender.name + "-one-at-a-time",
        contender.command,
        {**contender.env, PIPELINE_OFF[0]: PIPELINE_OFF[1]},
    )


PIPELINE_OFF = ("LAMBDABOOT_PIPELINE", "0")


def interleave(pairs: list[Pair], blocks: int, size: int) -> dict[str, list[Block]]:
    """``blocks`` rounds; in each, every pair serves ``size`` invocations, order rotating."""
    recorded: dict[str, list[Block]] = {pair.label: [] for pair in pairs}
    for round_ in range(blocks):
        shift = round_ % len(pairs)
        for pair in pairs[shift:] + pairs[:shift]:
            recorded[pair.label].append(pair.run(size))
        print(f"  round {round_ + 1}/{blocks}", file=sys.stderr, flush=True)
    return recorded


def block_medians(blocks: list[Block]) -> dict[str, list[float]]:
    """Per block: median held µs, runtime and stub CPU µs per invocation, faults per invocation."""
    return {
        "held_us": [statistics.median(b.holding_ns) / 1000 for b in blocks],
        "cpu_us": [b.runtime_cpu_ns / len(b.holding_ns) / 1000 for b in blocks],
        "server_cpu_us": [b.server_cpu_ns / len(b.holding_ns) / 1000 for b in blocks],
        "page_faults": [b.page_faults / len(b.holding_ns) for b in blocks],
    }


def block_ratios(
    per_block: dict[str, dict[str, list[float]]], floor: str
) -> dict[str, dict[str, float]]:
    """Each contender over the floor, block by block (same server, same round), then the median."""
    result: dict[str, dict[str, float]] = {}
    for label, metrics in per_block.items():
        _, server = label.split(" / ")
        base = per_block[f"{floor} / {server}"]
        result[label] = {
            metric: round(
                statistics.median(
                    value / reference
                    for value, reference in zip(metrics[metric], base[metric], strict=True)
                    if reference > 0
                ),
                3,
            )
            for metric in ("held_us", "cpu_us")
        }
    return result


def measure(args: argparse.Namespace, event: bytes, handler_source: str) -> dict[str, object]:
    """Start every pair, check each echoes the event, warm them up, then interleave."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "app.py").write_text(handler_source)
        event_file = work / "event.json"
        event_file.write_bytes(event)
        pairs = [
            Pair(server, contender, event_file, work, HANDLER)
            for server in args.servers
            for contender in contenders(args.python, args.smoke, variants=args.variant, floors=True)
        ]
        try:
            for pair in pairs:
                echoed = pair.echo()
                if json.loads(echoed) != json.loads(event):
                    raise SystemExit(f"{pair.label} did not echo the event: {echoed[:200]!r}")
                pair.run(args.warmup)
            recorded = interleave(pairs, args.blocks, args.block)
        finally:
            for pair in pairs:
                pair.close()
    return {label: block_medians(blocks) for label, blocks in recorded.items()}


def document(
    args: argparse.Namespace, argv: list[str], per_block: dict[str, dict[str, list[float]]]
) -> dict[str, object]:
    ratios = block_ratios(per_block, FLOOR)
    over_python = block_ratios(per_block, PY_FLOOR)
    summary = {
        label: {metric: summarize(values) for metric, values in metrics.items()}
        for label, metrics in per_block.items()
    }
    targets = {
        label: {
            "held": ratio["held_us"] <= TARGETS["held"],
            "cpu": ratio["cpu_us"] <= TARGETS["cpu"],
        }
        for label, ratio in ratios.items()
        if not label.startswith((FLOOR, PY_FLOOR, "awslambdaric"))
    }
    spread = {
        label: round(
            (max(metrics["held_us"]) - min(metrics["held_us"]))
            / statistics.median(metrics["held_us"]),
            3,
        )
        for label, metrics in per_block.items()
    }
    return {
        "command": "python -m benchmarks.warm_path " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": args.python,
            "platform": platform.platform(),
            "cpus": "stubs on cpu 0, runtimes on cpu 1 (taskset)",
        },
        "function": "def handler(event, context): return event",
        "event": EVENT.decode(),
        "runs": {"blocks": args.blocks, "per_block": args.block, "warmup_per_pair": args.warmup},
        "units": {
            "held_us": "µs the runtime holds an invocation (median of the block)",
            "cpu_us": "runtime CPU µs per invocation (all threads)",
            "server_cpu_us": "stub CPU µs per invocation",
            "page_faults": "runtime minor page faults per invocation",
        },
        "summary": summary,
        "ratio_vs_c_loop": ratios,
        "ratio_vs_python_floor": over_python,
        "targets": {"limits_vs_c_loop": TARGETS, "met": targets},
        "noise": {
            "held_spread_over_blocks": spread,
            "note": "(max - min) / median of the block medians, per pair",
        },
        "per_block": per_block,
    }


def plot(result: dict[str, object], path: Path) -> None:
    plt = charts.pyplot()
    summary: dict = result["summary"]  # type: ignore[assignment]
    ratios: dict = result["ratio_vs_c_loop"]  # type: ignore[assignment]
    servers = sorted({label.split(" / ")[1] for label in summary})
    metrics = [("held_us", "µs held per invocation"), ("cpu_us", "runtime CPU µs per invocation")]
    fig, axes = plt.subplots(
        len(metrics), len(servers), figsize=(6 * len(servers), 8), squeeze=False
    )
    runs: dict = result["runs"]  # type: ignore[assignment]
    for column, server in enumerate(servers):
        labels = [label for label in summary if label.endswith(f" / {server}")]
        for row, (metric, unit) in enumerate(metrics):
            axis = axes[row][column]
            charts.bars_with_ratios(
                axis,
                names=[label.split(" / ")[0] for label in labels],
                medians=[summary[label][metric]["median"] for label in labels],
                lows=[summary[label][metric]["min"] for label in labels],
                highs=[summary[label][metric]["max"] for label in labels],
                ratios=[ratios[label][metric] for label in labels],
                baseline=FLOOR,
            )
            axis.set_ylabel(unit)
            axis.set_title(f"{server} Runtime API stub: {unit.split(' per')[0]}")
    charts.suptitle(
        fig,
        "Warm path: echo handler, 15-byte event",
        runtime=f"Python {result['machine']['python']}",  # type: ignore[index]
        n=(
            f"{runs['blocks']} interleaved blocks x {runs['per_block']} invocations; "
            "bar = median of block medians, whiskers = min/max block"
        ),
    )
    charts.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--blocks", type=int, default=12, help="interleaved rounds (at least 10 for a record)"
    )
    parser.add_argument("--block", type=int, default=2000, help="invocations per pair per round")
    parser.add_argument(
        "--warmup", type=int, default=500, help="unrecorded invocations per pair first"
    )
    parser.add_argument(
        "--servers",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        default=["go", "python"],
        help="Runtime API stubs, comma-separated: go, python",
    )
    parser.add_argument("--python", default="3.11", help="Python version the runtimes run on")
    parser.add_argument(
        "--smoke", action="store_true", help="runtimes on this interpreter, no installs"
    )
    parser.add_argument(
        "--variant",
        type=variant,
        action="append",
        default=[],
        help="NAME:SPEC, lambdaboot changed (another checkout's DIR, KEY=VALUE settings)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "warm_path")
    args = parser.parse_args(argv)
    unknown = set(args.servers) - {"go", "python"}
    if unknown or not args.servers:
        parser.error(f"--servers takes go and/or python, got {','.join(args.servers)}")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not args.smoke:
        compile_repo_sources(args.python)
    per_block = measure(args, EVENT, HANDLER_SOURCE)
    result = document(args, argv, per_block)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    plot(result, args.out.with_suffix(".png"))
    _print(result)
    return 0


def _print(result: dict[str, object]) -> None:
    summary: dict = result["summary"]  # type: ignore[assignment]
    ratios: dict = result["ratio_vs_c_loop"]  # type: ignore[assignment]
    print(
        f"{'contender / server':32} {'held µs':>9} {'x C':>6} "
        f"{'CPU µs':>8} {'x C':>6} {'stub CPU':>9}"
    )
    for label, metrics in summary.items():
        print(
            f"{label:32} {metrics['held_us']['median']:9.1f} {ratios[label]['held_us']:6.2f} "
            f"{metrics['cpu_us']['median']:8.1f} {ratios[label]['cpu_us']:6.2f} "
            f"{metrics['server_cpu_us']['median']:9.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
