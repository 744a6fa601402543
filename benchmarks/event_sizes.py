"""Event size: the warm round trip of an echo handler from 1 KB to 5 MB, and a Kinesis batch.

lambdaboot against awslambdaric 4.2.2, with the C loop as the floor, each behind its own
Go ``net/http`` Runtime API stub (the kind of server AWS runs), stubs and runtimes on
separate cores. For each size, rounds interleave the contenders block by block; figures
are medians over the blocks of each block's median, and the ratio is taken round by
round. The handler returns its event (``return event``), so each invocation parses and
writes the whole body; the C loop posts the bytes back unparsed. Minor page faults per
invocation show where a runtime allocates fresh memory for each event.

    python -m benchmarks.event_sizes [--rounds 10] [--sizes 1KB,100KB,1MB,5MB,kinesis-1MB]
        [--variant NAME:SPEC ...]

``--variant`` adds a changed lambdaboot as one more contender (see ``warm_path``): e.g.
``--variant malloc:PYTHONMALLOC=malloc`` measured the allocator settings side by side.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.contenders import Contender
from benchmarks.environments import REPO, compile_repo_sources
from benchmarks.stats import summarize
from benchmarks.warm.harness import Pair
from benchmarks.warm_path import HANDLER, HANDLER_SOURCE, block_medians, contenders, variant

RESULTS = REPO / "benchmarks" / "results"
SIZES = {"1KB": 1_000, "100KB": 100_000, "1MB": 1_000_000, "5MB": 5_000_000}
KINESIS = "kinesis-1MB"
BASELINE = "awslambdaric"


def generic_event(size: int, rng: random.Random) -> bytes:
    """An API-like event of about ``size`` bytes: records of ids, names, numbers and text."""
    records: list[dict[str, object]] = []
    body = b""
    while len(body) < size:
        for _ in range(max(1, (size - len(body)) // 400)):
            records.append(
                {
                    "id": rng.randrange(10**12),
                    "name": f"item-{len(records)}",
                    "price": round(rng.uniform(0, 1000), 2),
                    "tags": ["a", "bb", "ccc"],
                    "active": rng.random() < 0.5,
                    "text": base64.b64encode(rng.randbytes(210)).decode(),
                }
            )
        body = json.dumps({"records": records}, separators=(",", ":")).encode()
    return body


def kinesis_event(size: int, rng: random.Random) -> bytes:
    """A Kinesis batch of about ``size`` bytes: base64 data, 56-digit sequence numbers."""
    records = []
    body = b""
    while len(body) < size:
        for _ in range(max(1, (size - len(body)) // 1500)):
            sequence = "4959033827149025660855969253836157109592157598913658" + str(
                rng.randrange(1000, 9999)
            )
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": str(rng.randrange(100)),
                        "sequenceNumber": sequence,
                        "data": base64.b64encode(rng.randbytes(900)).decode(),
                        "approximateArrivalTimestamp": 1545084650.987,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"shardId-000000000006:{sequence}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
                    "awsRegion": "us-east-2",
                    "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
                }
            )
        body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    return body


def event_for(name: str) -> bytes:
    rng = random.Random(name)
    if name == KINESIS:
        return kinesis_event(1_000_000, rng)
    return generic_event(SIZES[name], rng)


def per_block(size: int) -> int:
    """Invocations per block: about 20 MB of events, at least 3."""
    return max(3, min(500, 20_000_000 // size))


def measure_size(
    name: str,
    rounds: int,
    version: str,
    server: str = "go",
    smoke: bool = False,
    variants: list[Contender] | None = None,
) -> dict[str, dict[str, list[float]]]:
    event = event_for(name)
    count = per_block(len(event))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "app.py").write_text(HANDLER_SOURCE)
        event_file = work / "event.json"
        event_file.write_bytes(event)
        pairs = [
            Pair(server, contender, event_file, work, HANDLER)
            for contender in contenders(version, smoke, modes=False, variants=variants)
        ]
        try:
            expected = json.loads(event)
            for pair in pairs:
                if json.loads(pair.echo()) != expected:
                    raise SystemExit(f"{pair.label} did not echo the {name} event")
                pair.run(max(1, count // 4))  # warm-up
            blocks: dict[str, list] = {pair.runtime.name: [] for pair in pairs}
            for round_ in range(rounds):
                shift = round_ % len(pairs)
                for pair in pairs[shift:] + pairs[:shift]:
                    blocks[pair.runtime.name].append(pair.run(count))
            print(f"  {name}: {rounds} rounds x {count}", file=sys.stderr, flush=True)
        finally:
            for pair in pairs:
                pair.close()
    return {runtime: block_medians(recorded) for runtime, recorded in blocks.items()}


def round_ratios(metrics: dict[str, dict[str, list[float]]], runtime: str, metric: str) -> float:
    return round(
        statistics.median(
            ours / theirs
            for ours, theirs in zip(
                metrics[runtime][metric], metrics[BASELINE][metric], strict=True
            )
            if theirs > 0
        ),
        3,
    )


def plot(result: dict[str, object], path: Path) -> None:
    plt = charts.pyplot()
    sizes: dict = result["sizes"]  # type: ignore[assignment]
    names = list(sizes)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 4.8), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        entry = sizes[name]
        runtimes = list(entry["summary"])
        charts.bars_with_ratios(
            axis,
            names=runtimes,
            medians=[entry["summary"][r]["held_us"]["median"] / 1000 for r in runtimes],
            lows=[entry["summary"][r]["held_us"]["min"] / 1000 for r in runtimes],
            highs=[entry["summary"][r]["held_us"]["max"] / 1000 for r in runtimes],
            ratios=[entry["ratio_vs_awslambdaric"][r]["held_us"] for r in runtimes],
            baseline=BASELINE,
            fmt="{:.2f} ms",
        )
        axis.set_title(f"{name} ({entry['bytes'] / 1e6:.2f} MB)", fontsize=10)
        axis.set_ylabel("ms held per invocation")
    charts.suptitle(
        fig,
        "Event size: echo handler (return event), time the runtime holds each invocation",
        runtime=f"Python {result['machine']['python']}, {result['server']}",  # type: ignore[index]
        n=f"{result['runs']['rounds']} interleaved rounds per size; bar = median of block medians",  # type: ignore[index]
    )
    charts.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds per size")
    parser.add_argument(
        "--sizes",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        default=[*SIZES, KINESIS],
        help="comma-separated: " + ", ".join([*SIZES, KINESIS]),
    )
    parser.add_argument("--python", default="3.11", help="Python version the runtimes run on")
    parser.add_argument(
        "--server", choices=["go", "python"], default="go", help="the Runtime API stub"
    )
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
    parser.add_argument("--out", type=Path, default=RESULTS / "event_sizes")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sizes if s not in SIZES and s != KINESIS]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}: choose from {', '.join([*SIZES, KINESIS])}")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not args.smoke:
        compile_repo_sources(args.python)
    sizes = {}
    for name in args.sizes:
        metrics = measure_size(
            name, args.rounds, args.python, args.server, args.smoke, args.variant
        )
        sizes[name] = {
            "bytes": len(event_for(name)),
            "invocations_per_block": per_block(len(event_for(name))),
            "summary": {
                runtime: {metric: summarize(values) for metric, values in m.items()}
                for runtime, m in metrics.items()
            },
            "ratio_vs_awslambdaric": {
                runtime: {
                    metric: round_ratios(metrics, runtime, metric)
                    for metric in ("held_us", "cpu_us", "page_faults")
                }
                for runtime in metrics
            },
            "per_block": metrics,
        }
    result = {
        "command": "python -m benchmarks.event_sizes " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": args.python, "platform": platform.platform()},
        "function": "def handler(event, context): return event",
        "server": f"{args.server} Runtime API stub on cpu 0, runtimes on cpu 1",
        "runs": {"rounds": args.rounds},
        "units": {
            "held_us": "µs the runtime holds an invocation",
            "cpu_us": "runtime CPU µs per invocation",
            "page_faults": "runtime minor page faults per invocation",
        },
        "sizes": sizes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    plot(result, args.out.with_suffix(".png"))
    print(table(result))
    return 0


def table(result: dict[str, object]) -> str:
    """The Markdown size table (README and benchmarks/README.md)."""
    sizes: dict = result["sizes"]  # type: ignore[assignment]
    lines = [
        (
            "| event | lambdaboot ms | awslambdaric ms | ratio | C loop ms "
            "| lambdaboot page faults / inv. |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for name, entry in sizes.items():
        s = entry["summary"]
        lines.append(
            f"| {name} | {s['lambdaboot']['held_us']['median'] / 1000:.2f} | "
            f"{s['awslambdaric']['held_us']['median'] / 1000:.2f} | "
            f"**{entry['ratio_vs_awslambdaric']['lambdaboot']['held_us']:.2f}x** | "
            f"{s['c-loop']['held_us']['median'] / 1000:.2f} | "
            f"{s['lambdaboot']['page_faults']['median']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
