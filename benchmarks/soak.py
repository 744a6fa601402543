"""Soak: does the runtime's memory stay flat over many invocations? lambdaboot vs awslambdaric.

Two phases per contender, one process each: ``--small`` invocations of a tiny event, then
``--big`` invocations of a 256 KB event (the handler returns its length). The runtime's
resident set (``VmRSS``, its own and its children's) is sampled every ``--every``
invocations; the verdict is the growth from the first sample after warm-up to the last.
The Runtime API is the test suite's ``HostileApi`` with no fault scripted (a plain,
well-behaved server on real sockets), so nothing but the runtime is measured.

    python -m benchmarks.soak [--small 100000] [--big 20000] [--every 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.environments import REPO
from tests.hostile_api import HostileApi

RESULTS = REPO / "benchmarks" / "results"
HANDLER = (
    "def handler(event, context):\n    return len(event) if isinstance(event, str) else event\n"
)
BIG = "x" * (256 * 1024 - 2)  # a 256 KB JSON string event
BASELINE = "awslambdaric"
CONTENDERS = {
    "lambdaboot": [str(REPO / "bootstrap")],
    "awslambdaric": [sys.executable, "-s", "-m", "awslambdaric", "app.handler"],
}


def rss_kb(pid: int) -> int:
    """Resident set of ``pid`` and its children, kB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def phase(api: HostileApi, pid: int, count: int, event: object, every: int) -> list[int]:
    """Serve ``count`` invocations of ``event``, keeping ~200 queued; RSS every ``every``."""
    samples: list[int] = []
    start = len(api.accepted)
    queued = 0
    while queued < count or len(api.accepted) - start < count:
        answered = len(api.accepted) - start
        while queued < count and queued - answered < 200:
            api.invoke(event)
            queued += 1
        api.wait(lambda a=answered: len(api.accepted) - start > a, 60)
        answered = len(api.accepted) - start
        if answered // every > len(samples):
            samples.append(rss_kb(pid))
    return samples


def soak(name: str, command: list[str], small: int, big: int, every: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp()) / "task"
    root.mkdir()
    (root / "app.py").write_text(HANDLER)
    api = HostileApi()
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(root),
        "_HANDLER": "app.handler",
        "LAMBDABOOT_PYTHON": sys.executable,
        "AWS_LAMBDA_FUNCTION_NAME": "soak",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "PYTHONPATH": str(root),
    }
    process = subprocess.Popen(
        command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        started = time.monotonic()
        small_rss = phase(api, process.pid, small, {"k": "v"}, every)
        small_s = time.monotonic() - started
        started = time.monotonic()
        big_rss = phase(api, process.pid, big, BIG, max(1, every // 5))
        big_s = time.monotonic() - started
        answers = api.answers_per_invocation()
    finally:
        process.kill()
        process.wait()
        api.close()
    return {
        "name": name,
        "small": {"count": small, "seconds": round(small_s, 1), "rss_kb": small_rss},
        "big": {"count": big, "seconds": round(big_s, 1), "rss_kb": big_rss},
        "small_growth_kb": small_rss[-1] - small_rss[min(1, len(small_rss) - 1)],
        "big_growth_kb": big_rss[-1] - big_rss[min(1, len(big_rss) - 1)],
        "every_invocation_answered_once": set(answers.values()) == {1},
    }


def chart(results: list[dict[str, object]], path: Path, every: int) -> None:
    """RSS against invocations served, one line per runtime, each phase its own panel; the
    legend gives each runtime's last sample and its ratio to awslambdaric's."""
    plt = charts.pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    last = {
        key: {str(r["name"]): r[key]["rss_kb"][-1] / 1024 for r in results}  # type: ignore[index]
        for key in ("small", "big")
    }
    for result in results:
        for axis, key in zip(axes, ("small", "big"), strict=True):
            part = result[key]
            assert isinstance(part, dict)
            samples = [kb / 1024 for kb in part["rss_kb"]]
            step = part["count"] / max(1, len(samples))
            name = str(result["name"])
            label = f"{name}: {last[key][name]:.1f} MB at the end"
            if name != BASELINE and last[key].get(BASELINE):
                label += f" ({charts.ratio_text(last[key][name] / last[key][BASELINE], BASELINE)})"
            axis.plot([step * (i + 1) for i in range(len(samples))], samples, label=label)
            axis.set_title(
                f"{'tiny' if key == 'small' else '256 KB'} events: "
                f"{part['count']:,} invocations, one process",
                fontsize=10,
            )
            axis.set_xlabel("invocations served")
            axis.set_ylabel("resident set (MB)")
    for axis in axes:
        axis.set_ylim(0, axis.get_ylim()[1] * 1.25)
        axis.legend(loc="lower right", fontsize=8)
        axis.grid(alpha=0.3)
    charts.suptitle(
        figure,
        "Soak: the runtime's memory over many invocations (the handler returns what it got)",
        runtime=f"lambdaboot vs awslambdaric 4.2.2, Python {sys.version.split()[0]}",
        n=f"RSS sampled every {every:,} (tiny) and {max(1, every // 5):,} (256 KB) invocations",
    )
    charts.save(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS / "soak")
    args = parser.parse_args()
    results = [
        soak(name, command, args.small, args.big, args.every)
        for name, command in CONTENDERS.items()
    ]
    document = {
        "command": "python -m benchmarks.soak " + " ".join(sys.argv[1:]),
        "python": sys.version.split()[0],
        "results": results,
    }
    args.out.with_suffix(".json").write_text(json.dumps(document, indent=1) + "\n")
    chart(results, args.out.with_suffix(".png"), args.every)
    for result in results:
        print(
            f"{result['name']}: growth small {result['small_growth_kb']} kB, "
            f"big {result['big_growth_kb']} kB, one answer each: "
            f"{result['every_invocation_answered_once']}"
        )


if __name__ == "__main__":
    main()
