"""What every benchmark chart shares: it says what it measured, names configurations, shows
ratios, and never draws an empty panel.

A chart read on its own (in a README, a pull request) must answer "what function, which
runtime, how many runs, compared with what" without the JSON beside it, so the title
carries the function, the runtime and N, bars carry their value and their ratio to the
named baseline, and panels without data are removed rather than drawn blank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (no display on build machines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def suptitle(fig: Any, what: str, *, runtime: str, n: str) -> None:
    """The figure's title: what was measured, on which runtime, over how many runs."""
    fig.suptitle(f"{what}\n{runtime} · {n}", fontsize=11)


def ratio_text(ratio: float, baseline: str) -> str:
    return f"{ratio:.2f}x {baseline}"


def bars_with_ratios(
    axis: Any,
    *,
    names: list[str],
    medians: list[float],
    ratios: list[float | None],
    baseline: str,
    lows: list[float] | None = None,
    highs: list[float] | None = None,
    fmt: str = "{:.1f}",
) -> None:
    """One bar per configuration (by name), its median written on it and, for all but the
    baseline, its ratio to the baseline; optional whiskers from ``lows`` to ``highs``."""
    positions = range(len(names))
    errors = None
    if lows is not None and highs is not None:
        errors = [
            [max(m - lo, 0.0) for m, lo in zip(medians, lows, strict=True)],
            [max(hi - m, 0.0) for m, hi in zip(medians, highs, strict=True)],
        ]
    palette = [f"C{i}" for i in range(10) if i != 7]  # C7 is the baseline's grey
    colors = [
        "#7f7f7f" if name == baseline else palette[i % len(palette)] for i, name in enumerate(names)
    ]
    axis.bar(positions, medians, yerr=errors, capsize=4, color=colors)
    axis.set_xticks(list(positions), names, rotation=12)
    top = max((h for h in (highs or medians)), default=0.0)
    for x, (name, median, ratio) in enumerate(zip(names, medians, ratios, strict=True)):
        label = fmt.format(median)
        if ratio is not None and name != baseline:
            label += "\n" + ratio_text(ratio, baseline)
        axis.annotate(
            label,
            (x, median),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axis.set_ylim(0, top * 1.25 if top > 0 else 1)
    axis.grid(axis="y", alpha=0.3)


def save(fig: Any, path: Path) -> None:
    """Drop panels that hold no data, then write the PNG."""
    for axis in list(fig.axes):
        if not axis.has_data():
            fig.delaxes(axis)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def label_ratio(axis: Any, x: float, y: float, ratio: float, dy: float = 7) -> None:
    """A line chart's point labelled with its ratio to the compared line's at the same x
    (the panel's title names the two: "labels: A / B")."""
    axis.annotate(
        f"{ratio:.2f}x", (x, y), xytext=(0, dy), textcoords="offset points", fontsize=7,
        ha="center",
    )  # fmt: skip


__all__ = ["bars_with_ratios", "label_ratio", "pyplot", "ratio_text", "save", "suptitle"]


def boxes_with_ratios(
    axis: Any,
    samples: dict[str, list[float]],
    baseline: str,
    fmt: str = "{:.1f}",
    showfliers: bool = False,
) -> None:
    """One box per configuration (by name), its median written beside it and, for all
    but the baseline, its median over the baseline's."""
    import statistics

    names = list(samples)
    axis.boxplot([samples[n] or [0.0] for n in names], showfliers=showfliers)
    axis.set_xticks(range(1, len(names) + 1), names, rotation=10)
    base = statistics.median(samples[baseline]) if samples.get(baseline) else None
    for x, name in enumerate(names, start=1):
        if not samples[name]:
            continue
        median = statistics.median(samples[name])
        text = fmt.format(median)
        if base and name != baseline:
            text += "\n" + ratio_text(median / base, baseline)
        axis.annotate(
            text, (x, median), xytext=(18, 0), textcoords="offset points", fontsize=8, va="center"
        )
    axis.grid(axis="y", alpha=0.3)
