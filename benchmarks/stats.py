"""Summaries the benchmark suites report: the ones ``lambdaboot bench`` uses, so both agree."""

from __future__ import annotations

from lambdaboot_bench.stats import pairwise_ratios, ratios, summarize

__all__ = ["pairwise_ratios", "ratios", "summarize"]
