"""The charts ``make bench`` draws re-render from the results it recorded (so a change to a
chart or to a result's shape that breaks the other shows here, not an hour into a run)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import billed_cold_start, concurrency, devloop_load, soak, startup_floor
from benchmarks.run_all import RESULTS


def _png(path: Path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


def test_each_chart_renders_from_its_recorded_result(tmp_path: Path) -> None:
    def load(name: str) -> dict:  # type: ignore[type-arg]
        return json.loads((RESULTS / f"{name}.json").read_text())

    billed_cold_start.chart(load("billed_cold_start"), tmp_path / "billed.png")
    startup_floor.chart(load("startup_floor"), tmp_path / "floor.png")
    soak.chart(load("soak")["results"], tmp_path / "soak.png", every=1000)
    devloop_load._plot(load("devloop_load"), tmp_path / "devloop.png")
    points = load("concurrency")
    concurrency._plot(points["points"], tmp_path / "concurrency.png", 3.0, "3.11")
    assert all(_png(tmp_path / f"{n}.png") for n in ("billed", "floor", "soak", "devloop"))
    assert _png(tmp_path / "concurrency.png")
