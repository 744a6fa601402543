"""Every benchmark suite in one go (``make bench``): results in benchmarks/results/, table
in README.

Suites:
- ``cold_start``: ``lambdaboot bench``'s runner on the example function, lambdaboot against
  awslambdaric (each on a bare interpreter with its packages where a layer puts them),
  interleaved, with the import profile of each cold start;
- every suite in ``SUITES`` (``runtime_overhead``: the runtime's own warm holding time and
  cold start, four contenders; the others as their docstrings say), each run as
  ``python -m benchmarks.<suite>``, writing its own ``results/<suite>.json``;
- ``conformance``: ``lambdaboot conform`` against lambdaboot's bootstrap and awslambdaric.

``--smoke`` runs each suite with a handful of runs on the suite's own interpreter (no
package installs): what the tests use to keep this script working. ``--quick`` runs every
suite with fewer samples (``make bench BENCH_FLAGS=--quick``); ``--only`` picks suites.

    python -m benchmarks.run_all [--smoke | --quick] [--only SUITE ...] [--results DIR]
        [--readme PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import event_sizes, startup_ladder
from benchmarks.contenders import awslambdaric, lambdaboot
from benchmarks.environments import REPO, compile_repo_sources
from lambdaboot_bench import report, runner
from lambdaboot_conform import kit
from local_lambda.model import FunctionConfig

RESULTS = REPO / "benchmarks" / "results"
README = REPO / "benchmarks" / "README.md"
EXAMPLE = REPO / "examples" / "hello"
EVENT = b'{"name": "bench"}'
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _runtimes(smoke: bool, handler: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Runtime command and environment per contender: bare layer-like envs, or this interpreter."""
    if smoke:
        python = sys.executable
        return {
            "lambdaboot": ([str(REPO / "bootstrap")], {"LAMBDABOOT_PYTHON": python}),
            "awslambdaric": ([python, "-s", "-m", "awslambdaric", handler], {}),
        }
    return {c.name: (c.command, c.env) for c in (lambdaboot(), awslambdaric(handler))}


def cold_start(smoke: bool, out: Path, command: str, quick: bool = False) -> dict[str, Any]:
    cold, warm = (2, 3) if smoke else (8, 50) if quick else (30, 300)
    targets = [
        runner.Target(
            name,
            FunctionConfig(
                command=cmd, task_root=EXAMPLE, handler="app.handler", env=env, memory_mb=128
            ),
        )
        for name, (cmd, env) in _runtimes(smoke, "app.handler").items()
    ]
    samples = runner.run(targets, EVENT, cold, warm, profile=True)
    result = report.document(targets, samples, command + " (suite cold_start)", cold, warm)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    report.chart(result, out.with_suffix(".png"))
    return result


def conformance(smoke: bool, out: Path, command: str) -> dict[str, Any]:
    runs = {}
    for name, (cmd, env) in _runtimes(True, "{handler}").items():
        runs[name] = kit.document(cmd, kit.run(cmd, env))
    result = {"command": command + " (suite conformance)", "spec": kit.SPEC, "runtimes": runs}
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return result


@dataclass(frozen=True)
class Suite:
    """A suite run as its own program (``python -m benchmarks.<module> <args>``), writing
    ``results/<name>.json`` with the command that made it (and a PNG where it draws one).

    ``args`` are the sizes README.md and docs/ quote their figures from; ``quick`` the sizes
    of ``--quick`` (same suites, fewer samples, the same files: for a check, not a quote)."""

    name: str
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    module: str = ""

    def command(self, quick: bool) -> list[str]:
        return [
            "-m",
            f"benchmarks.{self.module or self.name}",
            *(self.quick if quick else self.args),
        ]


HELLO_BILLED = "benchmarks/results/billed_cold_start_hello.json"
ALLOCATOR = "benchmarks/results/event_sizes_allocator"
_BIG = "MALLOC_MMAP_THRESHOLD_=268435456,MALLOC_TRIM_THRESHOLD_=268435456"
ALLOCATOR_VARIANTS = (
    "--variant", "pymalloc-off:PYTHONMALLOC=malloc",
    "--variant", f"thresholds:{_BIG}",
    "--variant", f"both:PYTHONMALLOC=malloc,{_BIG}",
    "--variant", "top-pad:MALLOC_TOP_PAD_=67108864",
)  # fmt: skip
_64M = "67108864"
THRESHOLD_VARIANTS = (
    "--variant", f"thresholds-256M:{_BIG}",
    "--variant", f"thresholds-64M:MALLOC_MMAP_THRESHOLD_={_64M},MALLOC_TRIM_THRESHOLD_={_64M}",
    "--variant", f"mmap-only-64M:MALLOC_MMAP_THRESHOLD_={_64M}",
    "--variant", f"trim-only-64M:MALLOC_TRIM_THRESHOLD_={_64M}",
)  # fmt: skip
# The tree before the warm path's plain-code cuts (311b823), for its before/after figures.
BEFORE_CUTS = "git:311b823^"
BEFORE_AFTER = (
    "--servers", "go",
    "--variant", f"before:{BEFORE_CUTS}",
    "--variant", f"before-again:{BEFORE_CUTS}",
    "--variant", "after-again:.",
    "--out", "benchmarks/results/warm_path_before_after",
)  # fmt: skip
# Every suite whose figures README.md or docs/ quote, with the sizes they were quoted at.
SUITES = (
    Suite("warm_path", ("--blocks", "12", "--block", "2000"), ("--blocks", "3", "--block", "500")),
    Suite("event_sizes", ("--rounds", "10"), ("--rounds", "2")),
    Suite("event_decode", (), ("--rounds", "3", "--repeat", "5")),
    Suite("warm_tricks", (), ("--rounds", "3", "--block", "200")),
    # The plain-code cuts to the CPU per invocation, against the tree before them.
    Suite("warm_steps", ("--against", BEFORE_CUTS), ("--against", BEFORE_CUTS, "--runs", "1")),
    Suite(
        "warm_path_before_after",
        ("--blocks", "12", "--block", "2000", *BEFORE_AFTER),
        ("--blocks", "3", "--block", "500", *BEFORE_AFTER),
        module="warm_path",
    ),
    # The allocator settings tried for big events (docs/architecture.md, Big events).
    Suite(
        "event_sizes_allocator",
        ("--rounds", "10", "--sizes", "1KB,1MB,5MB", *ALLOCATOR_VARIANTS, "--out", ALLOCATOR),
        ("--rounds", "2", "--sizes", "1KB,1MB,5MB", *ALLOCATOR_VARIANTS, "--out", ALLOCATOR),
        module="event_sizes",
    ),
    Suite(
        "event_sizes_allocator_5mb",
        ("--rounds", "20", "--sizes", "5MB", *THRESHOLD_VARIANTS, "--out", ALLOCATOR + "_5mb"),
        ("--rounds", "3", "--sizes", "5MB", *THRESHOLD_VARIANTS, "--out", ALLOCATOR + "_5mb"),
        module="event_sizes",
    ),
    Suite("startup_ladder", ("--runs", "20"), ("--runs", "5")),
    Suite(
        "startup_floor",
        ("--runs", "40", "--python", ".venv-3.12/bin/python"),
        ("--runs", "8", "--python", ".venv-3.12/bin/python"),
    ),
    Suite("billed_cold_start", ("--runs", "20"), ("--runs", "5")),
    Suite(
        "billed_cold_start_hello",
        ("--runs", "20", "--function", "examples/hello", "--json", HELLO_BILLED),
        ("--runs", "5", "--function", "examples/hello", "--json", HELLO_BILLED),
        module="billed_cold_start",
    ),
    Suite(
        "runtime_overhead", ("--warm", "10000", "--cold", "20"), ("--warm", "2000", "--cold", "5")
    ),
    Suite("import_anatomy", ("--runs", "6"), ("--runs", "2")),
    Suite("layer_coldstart", ("--runs", "10"), ("--runs", "3")),
    Suite("realistic_cold_start", ("--cold", "10"), ("--cold", "3")),
    Suite("streaming", (), ("--ttfb", "10", "--mb", "32", "--runs", "1")),
    Suite("concurrency", (), ("--seconds", "1")),
    Suite("extension_overhead", (), ("--warm", "500", "--cold", "5")),
    Suite("native_overhead", (), ("--invocations", "500")),
    Suite("devloop_load", ("--seconds", "5", "--levels", "1", "4", "16"), ("--seconds", "2")),
    Suite("fault_matrix"),
    # Reduced from the full soak (--small 100000 --big 20000), which takes ~5x as long.
    Suite(
        "soak",
        ("--small", "20000", "--big", "4000"),
        ("--small", "2000", "--big", "400", "--every", "200"),
    ),
)
# Results this script writes or tabulates itself; every other JSON is listed as a suite.
OWN_TABLES = {
    "cold_start",
    "runtime_overhead",
    "conformance",
    "warm_path",
    "event_sizes",
    "startup_ladder",
}


def run_suites(quick: bool, only: set[str] | None = None) -> list[str]:
    """Run every suite in ``SUITES`` (or those in ``only``) in its own process, timing
    each; the names of those that failed."""
    failed = []
    for suite in SUITES:
        if only is not None and suite.name not in only:
            continue
        print(f"{suite.name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, *suite.command(quick)], cwd=REPO).returncode != 0:
            failed.append(suite.name)
        print(f"{suite.name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return failed


def _first_response(summaries: dict[str, Any]) -> dict[str, Any]:
    """``lambdaboot bench``'s first response (named ``cold_round_trip_ms`` in older files)."""
    found: dict[str, Any] = summaries.get("first_response_ms") or summaries.get(
        "cold_round_trip_ms", {}
    )
    return found


def readme_tables(results: Path) -> str:
    """The Markdown tables README.md carries, from whatever result files exist."""
    parts = [f"_Refreshed {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `make bench`._\n"]
    cold_file = results / "cold_start.json"
    if cold_file.exists():
        data = json.loads(cold_file.read_text())
        parts.append(
            f"### Cold start (`examples/hello`, {data['runs']['cold']} cold, "
            f"{data['runs']['warm']} warm; medians, ms)\n\n"
            "| runtime | Init Duration | p90 | first invoke | first response "
            "| billed cold start | warm invoke | Max Memory Used (MB) |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        for name, config in data["configs"].items():
            s = {p: v["summary"] for p, v in config["phases"].items()}
            parts.append(
                f"| {name} | {s['init_ms']['median']:.1f} | {s['init_ms']['p90']:.1f} | "
                f"{s['first_invoke_ms']['median']:.2f} | "
                f"{_first_response(s).get('median', 0):.1f} | "
                f"{s.get('billed_cold_start_ms', {}).get('median', 0):.1f} | "
                f"{s['warm_ms']['median']:.3f} | {s['max_memory_mb']['median']:.0f} |"
            )
        comparison = data.get("comparison")
        if comparison:
            ratios = {p: v["summary"] for p, v in comparison["phases"].items()}
            parts.append(
                f"\n{comparison['b']} / {comparison['a']}, pair by pair (median): "
                f"init {ratios['init_ms'].get('median', 0):.2f}, "
                f"first response {_first_response(ratios).get('median', 0):.2f}, "
                f"billed cold start {ratios.get('billed_cold_start_ms', {}).get('median', 0):.2f}, "
                f"warm {ratios['warm_ms'].get('median', 0):.2f}. "
                "Memory is measured, not enforced, by the local Lambda.\n"
            )
    warm_file = results / "warm_path.json"
    if warm_file.exists():
        parts.append(warm_path_table(json.loads(warm_file.read_text())))
    sizes_file = results / "event_sizes.json"
    if sizes_file.exists():
        data = json.loads(sizes_file.read_text())
        parts.append(
            f"### Event size (`event_sizes.json`; echo handler, {data['server']}; "
            f"{data['runs']['rounds']} interleaved rounds, medians)\n\n{event_sizes.table(data)}\n"
        )
    ladder_file = results / "startup_ladder.json"
    if ladder_file.exists():
        data = json.loads(ladder_file.read_text())
        parts.append(
            f"### Start-up ladder (`startup_ladder.json`; {data['runs']} cold starts per rung, "
            f"medians)\n\n{startup_ladder.table(data)}\n"
        )
    overhead_file = results / "runtime_overhead.json"
    if overhead_file.exists():
        data = json.loads(overhead_file.read_text())
        parts.append(
            "### Runtime overhead (`runtime_overhead.json`; medians)\n\n"
            "| runtime | warm holding µs | init ms | cold round trip ms |\n|---|---|---|---|"
        )
        for name in data.get("cold") or data.get("warm") or {}:
            warm = data.get("warm", {}).get(name, {}).get("median")
            cold = data.get("cold", {}).get(name, {})
            parts.append(
                f"| {name} | {'' if warm is None else f'{warm:.1f}'} | "
                f"{cold.get('init_ms', {}).get('median', 0):.1f} | "
                f"{cold.get('round_trip_ms', {}).get('median', 0):.1f} |"
            )
        parts.append("")
    others = sorted(p for p in results.glob("*.json") if p.stem not in OWN_TABLES)
    if others:
        parts.append("### Other suites\n\n| suite | command | results |\n|---|---|---|")
        for path in others:
            made_by = json.loads(path.read_text()).get("command", "")
            parts.append(f"| {path.stem} | `{made_by}` | `results/{path.name}` |")
        parts.append("")
    conform_file = results / "conformance.json"
    if conform_file.exists():
        data = json.loads(conform_file.read_text())
        names = list(data["runtimes"])
        parts.append(
            "### Conformance (`lambdaboot conform`)\n\n"
            f"| check | spec ({data['spec']}) | "
            + " | ".join(names)
            + " |\n|---|---|"
            + "---|" * len(names)
        )
        by_runtime = {n: {c["check"]: c for c in data["runtimes"][n]["checks"]} for n in names}
        for check in by_runtime[names[0]]:
            cells = [by_runtime[n][check]["status"].upper() for n in names]
            parts.append(
                f"| {check} | {by_runtime[names[0]][check]['section']} | "
                + " | ".join(cells)
                + " |"
            )
        parts.append("")
    return "\n".join(parts)


def warm_path_table(data: dict[str, Any]) -> str:
    """Held time and CPU per invocation against the C loop, per server."""
    runs = data["runs"]
    lines = [
        f"### Warm path (`warm_path.json`; echo handler, {runs['blocks']} interleaved blocks "
        f"of {runs['per_block']}; medians of block medians)\n",
        "| runtime / stub | held µs | x C loop | CPU µs | x C loop | stub CPU µs |",
        "|---|---|---|---|---|---|",
    ]
    for label, metrics in data["summary"].items():
        ratio = data["ratio_vs_c_loop"][label]
        lines.append(
            f"| {label} | {metrics['held_us']['median']:.1f} | {ratio['held_us']:.2f} | "
            f"{metrics['cpu_us']['median']:.1f} | {ratio['cpu_us']:.2f} | "
            f"{metrics['server_cpu_us']['median']:.1f} |"
        )
    limits = data["targets"]["limits_vs_c_loop"]
    lines.append(
        f"\nTargets: held ≤ {limits['held']}x and CPU ≤ {limits['cpu']}x the C loop's. "
        "Spread of block medians ((max - min) / median): "
        + ", ".join(f"{k} {v:.2f}" for k, v in data["noise"]["held_spread_over_blocks"].items())
        + ".\n"
    )
    return "\n".join(lines)


def refresh_readme(readme: Path, tables: str) -> None:
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{tables}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a few runs of each suite, no installs"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every suite with fewer samples (minutes, not an hour); the figures are for a "
        "check, not for quoting",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SUITE",
        choices=["cold_start", "conformance", *(s.name for s in SUITES)],
        help="run just these suites (the README table is still refreshed from every result)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results go")
    parser.add_argument(
        "--readme", type=Path, default=README, help="the README whose table is refreshed"
    )
    args = parser.parse_args(argv)
    command = "python -m benchmarks.run_all " + " ".join(argv if argv is not None else sys.argv[1:])
    only = set(args.only) if args.only else None
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.smoke:
        compile_repo_sources()
    started = time.monotonic()
    if only is None or "cold_start" in only:
        print("cold_start ...", file=sys.stderr, flush=True)
        cold_start(args.smoke, args.results / "cold_start", command.strip(), args.quick)
    failed = [] if args.smoke else run_suites(args.quick, only)
    if only is None or "conformance" in only:
        print("conformance ...", file=sys.stderr, flush=True)
        conformance(args.smoke, args.results / "conformance", command.strip())
    refresh_readme(args.readme, readme_tables(args.results))
    print(
        f"results in {args.results}, table in {args.readme} "
        f"({(time.monotonic() - started) / 60:.1f} min)",
        file=sys.stderr,
    )
    if failed:
        print(f"suites that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
