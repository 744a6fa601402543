"""What ``lambdaboot bench`` shows: the JSON document, the terminal table and the PNG chart.

The JSON carries every figure (the raw samples too), so a chart or a later comparison
never needs a re-run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import importtime
from .runner import MEMORY_ENFORCED, PHASES, Samples, Target
from .stats import pairwise_ratios, summarize

UNITS = {
    "init_ms": "ms",
    "first_invoke_ms": "ms",
    "first_response_ms": "ms",
    "billed_cold_start_ms": "ms",
    "warm_ms": "ms",
    "max_memory_mb": "MB",
}
TITLES = {
    "init_ms": "Init Duration",
    "first_invoke_ms": "First invoke",
    "first_response_ms": "First response",
    "billed_cold_start_ms": "Billed cold start",
    "warm_ms": "Warm invoke",
    "max_memory_mb": "Max Memory Used",
}
# What each figure measures, under its title on the chart and in the JSON.
MEANINGS = {
    "init_ms": "runtime spawn to its first /next",
    "first_invoke_ms": "event delivered to response posted",
    "first_response_ms": "cold: spawn to response posted (what the caller waits for)",
    "billed_cold_start_ms": "Init + first Duration (ends at the next /next)",
    "warm_ms": "event delivered to response posted",
    "max_memory_mb": "after the first invoke",
}
MEMORY_NOTE = (
    "Memory size is passed to the runtime (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) and Max Memory Used "
    "is measured, but the local Lambda does not enforce the limit."
)


def document(
    targets: list[Target], samples: dict[str, Samples], command: str, cold: int, warm: int
) -> dict[str, Any]:
    """The whole result as JSON-able data."""
    configs: dict[str, Any] = {}
    for target in targets:
        config = target.config
        measured = samples[target.label]
        configs[target.label] = {
            "runtime_cmd": config.command,
            "runtime": config.runtime,  # the emulated Lambda runtime (None: none)
            "function": str(config.task_root),
            "handler": config.handler,
            "memory_mb": config.memory_mb,
            "layers": [str(p) for p in getattr(config, "layers", None) or []],
            "phases": {
                phase: {
                    "title": TITLES[phase],
                    "meaning": MEANINGS[phase],
                    "unit": UNITS[phase],
                    "summary": summarize(values),
                    "samples": values,
                }
                for phase, values in measured.phases.items()
            },
            "import_profile_ms": measured.import_profile,
        }
    result: dict[str, Any] = {
        "command": command,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": {"cold": cold, "warm": warm},
        "memory_enforced": MEMORY_ENFORCED,
        "memory_note": MEMORY_NOTE,
        "configs": configs,
    }
    if len(targets) == 2:
        a, b = (t.label for t in targets)
        ratios = {}
        for phase in PHASES:
            pairs = pairwise_ratios(samples[a].phases[phase], samples[b].phases[phase])
            ratios[phase] = {"summary": summarize(pairs), "pairs": pairs}
        result["comparison"] = {"a": a, "b": b, "ratio": "b / a, pair by pair", "phases": ratios}
    return result


def table(result: dict[str, Any]) -> Any:
    """A rich Table: per phase and configuration, median, p90, min and max (and B/A ratios)."""
    from rich.table import Table

    comparison = result.get("comparison")
    table = Table(
        title=f"lambdaboot bench — {result['runs']['cold']} cold, {result['runs']['warm']} warm"
    )
    for column in ("phase", "config", "median", "p90", "min", "max"):
        left = column in ("phase", "config")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    if comparison:
        table.add_column("B/A median", justify="right")
    for phase in PHASES:
        for label, config in result["configs"].items():
            summary = config["phases"][phase]["summary"]
            if not summary.get("n"):
                continue
            unit = UNITS[phase]
            row = [TITLES[phase], label] + [
                f"{summary[k]:.2f} {unit}" for k in ("median", "p90", "min", "max")
            ]
            if comparison:
                ratio = comparison["phases"][phase]["summary"]
                row.append(
                    f"{ratio['median']:.3f}" if label == comparison["b"] and ratio.get("n") else ""
                )
            table.add_row(*row)
    table.caption = MEMORY_NOTE
    return table


def profile_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="Import time during init (self time by top-level package)")
    labels = [label for label, c in result["configs"].items() if c["import_profile_ms"]]
    table.add_column("package", no_wrap=True)
    for label in labels:
        table.add_column(f"{label} ms", justify="right")
    names: list[str] = []
    for label in labels:
        for name in importtime.top(result["configs"][label]["import_profile_ms"]):
            if name not in names:
                names.append(name)
    for name in names:
        cells = []
        for label in labels:
            shown = importtime.top(result["configs"][label]["import_profile_ms"])
            cells.append(f"{shown[name]:.1f}" if name in shown else "")
        table.add_row(name, *cells)
    return table


def _describe(config: dict[str, Any]) -> str:
    """A configuration in a few words: its runtime command (or emulated runtime) and layers."""
    command = config.get("runtime_cmd") or []
    runtime = config.get("runtime")
    words = [Path(command[0]).name if command else f"{runtime or 'emulated'} runtime"]
    if "-m" in command[:-1]:
        words = [command[command.index("-m") + 1]]
    if command and runtime:
        words.append(f"on {runtime}")
    if config.get("layers"):
        words.append(f"+ {len(config['layers'])} layer(s)")
    return " ".join(words)


def chart(result: dict[str, Any], path: Path) -> None:
    """A PNG: one box plot per measured phase (configurations side by side, by name, with
    B/A pair by pair) and the import profile; the title says what was run and how often."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = result["configs"]
    labels = list(configs)
    comparison = result.get("comparison")
    phases = [
        phase
        for phase in PHASES
        if any(configs[label]["phases"][phase]["samples"] for label in labels)
    ]
    profiled = [label for label in labels if configs[label]["import_profile_ms"]]
    panels = len(phases) + (1 if profiled else 0)
    columns = min(4, max(panels, 1))
    rows = max(1, math.ceil(panels / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 4.2 * rows), squeeze=False)
    flat = list(axes.flat)
    for axis, phase in zip(flat, phases, strict=False):
        data = [configs[label]["phases"][phase]["samples"] or [0.0] for label in labels]
        axis.boxplot(data, showfliers=True)
        axis.set_xticks(range(1, len(labels) + 1), labels, rotation=10)
        for x, label in enumerate(labels, start=1):
            median = configs[label]["phases"][phase]["summary"].get("median", 0.0)
            text = f"{median:.2f}"
            if comparison and label == comparison["b"]:
                ratio = comparison["phases"][phase]["summary"].get("median")
                if ratio:
                    text += f"\n{ratio:.2f}x {comparison['a']}"
            axis.annotate(text, (x, median), xytext=(14, 0), textcoords="offset points", fontsize=8)
        axis.set_title(f"{TITLES[phase]}\n{MEANINGS[phase]}", fontsize=10)
        axis.set_ylabel(UNITS[phase])
        axis.grid(axis="y", alpha=0.3)
    if profiled:
        profile_axis = flat[len(phases)]
        height = 0.8 / len(profiled)
        names: list[str] = []
        for label in profiled:
            for name in importtime.top(configs[label]["import_profile_ms"], 10):
                if name not in names:
                    names.append(name)
        for index, label in enumerate(profiled):
            shown = importtime.top(configs[label]["import_profile_ms"], 10)
            positions = [row + index * height for row in range(len(names))]
            profile_axis.barh(positions, [shown.get(n, 0.0) for n in names], height, label=label)
        profile_axis.set_yticks([row + 0.4 - height / 2 for row in range(len(names))], names)
        profile_axis.invert_yaxis()
        profile_axis.set_xlabel("ms of import self time, cold start (init + first invocation)")
        profile_axis.set_title("Import profile")
        profile_axis.legend()
    for unused in flat[panels:]:
        fig.delaxes(unused)
    first = configs[labels[0]]
    function = f"{Path(first['function']).name} ({first['handler']})"
    runtimes = "; ".join(f"{label}: {_describe(configs[label])}" for label in labels)
    runs = result["runs"]
    fig.suptitle(
        f"lambdaboot bench: {function}, {first['memory_mb']} MB\n{runtimes} · "
        f"{runs['cold']} cold starts and {runs['warm']} warm invocations per configuration"
        + (" (interleaved; ratio = pair by pair)" if comparison else ""),
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
