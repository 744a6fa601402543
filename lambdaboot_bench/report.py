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


def chart(result: dict[str, Any], path: Path) -> None:
    """A PNG: one box plot per phase (configurations side by side) and the import profile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = result["configs"]
    labels = list(configs)
    fig, axes = plt.subplots(2, 4, figsize=(19, 8.5))
    for axis, phase in zip(axes.flat, PHASES, strict=False):
        data = [configs[label]["phases"][phase]["samples"] for label in labels]
        if any(data):
            axis.boxplot([d or [0.0] for d in data], showfliers=True)
            axis.set_xticks(range(1, len(labels) + 1), labels)
        axis.set_title(f"{TITLES[phase]}\n{MEANINGS[phase]}", fontsize=10)
        axis.set_ylabel(UNITS[phase])
        axis.grid(axis="y", alpha=0.3)
    profile_axis = axes.flat[len(PHASES)]
    height = 0.8 / max(len(labels), 1)
    names: list[str] = []
    for label in labels:
        for name in importtime.top(configs[label]["import_profile_ms"], 10):
            if name not in names:
                names.append(name)
    for index, label in enumerate(labels):
        shown = importtime.top(configs[label]["import_profile_ms"], 10)
        positions = [row + index * height for row in range(len(names))]
        profile_axis.barh(positions, [shown.get(n, 0.0) for n in names], height, label=label)
    profile_axis.set_yticks([row + 0.4 - height / 2 for row in range(len(names))], names)
    profile_axis.invert_yaxis()
    profile_axis.set_xlabel("ms of import self time, cold start (init + first invocation)")
    profile_axis.set_title("Import profile")
    if len(labels) > 1:
        profile_axis.legend()
    for unused in axes.flat[len(PHASES) + 1 :]:
        unused.set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
