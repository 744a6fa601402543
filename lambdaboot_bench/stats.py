"""Summaries of repeated measurements: medians and spreads, never a single run."""

from __future__ import annotations

import statistics


def summarize(values: list[float]) -> dict[str, float]:
    """Median, p90, min, max, mean and count of ``values`` (empty input gives count 0)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p90": p90,
        "min": ordered[0],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def ratios(
    summaries: dict[str, dict[str, float]], baseline: str, key: str = "median"
) -> dict[str, float]:
    """Each contender's ``key`` divided by the baseline's (below 1.0 = faster than the baseline)."""
    base = summaries[baseline][key]
    return {name: round(summary[key] / base, 3) for name, summary in summaries.items()}


def pairwise_ratios(a: list[float], b: list[float]) -> list[float]:
    """``b[i] / a[i]`` for runs taken side by side (A B A B), so drift in the machine
    cancels out."""
    return [y / x for x, y in zip(a, b, strict=False) if x > 0]
