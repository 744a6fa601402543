"""The warm-path kit: the C floor and both Runtime API stubs serve real runtimes, and the
suites write what they promise (JSON with the command, ratios, a PNG), in smoke sizes.

No timings are asserted (the machine is shared); what is checked is that every
invocation was served, echoed, and measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.contenders import Contender, c_loop
from benchmarks.warm.harness import Pair
from tests.conftest import REPO

EVENT = b'{"key":"value","n":[1,2.5,null]}'
SERVERS = ["python", "go"]


def _need_go(server: str) -> None:
    """The Go stub is AWS's kind of server: without Go its case fails (never skips) and says
    how to get it."""
    if server == "go" and shutil.which("go") is None:
        pytest.fail(
            "Go is not installed: apt-get install golang-go (make test installs it as root)",
            pytrace=False,
        )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "event.json").write_bytes(EVENT)
    return tmp_path


def _lambdaboot() -> Contender:
    return Contender("lambdaboot", [str(REPO / "bootstrap")], {"LAMBDABOOT_PYTHON": sys.executable})


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("make", [c_loop, _lambdaboot], ids=["c-loop", "lambdaboot"])
def test_a_runtime_behind_a_stub_echoes_and_every_invocation_is_timed(
    work: Path, server: str, make: object
) -> None:
    _need_go(server)
    pair = Pair(server, make(), work / "event.json", work, "app.handler")  # type: ignore[operator]
    try:
        assert json.loads(pair.echo()) == json.loads(EVENT)
        first, second = pair.run(25), pair.run(7)
    finally:
        pair.close()
    assert len(first.holding_ns) == 25 and len(second.holding_ns) == 7
    assert all(ns > 0 for ns in first.holding_ns + second.holding_ns)
    assert first.runtime_cpu_ns > 0 and first.server_cpu_ns > 0


def test_the_c_loop_posts_a_body_larger_than_its_first_buffer(work: Path) -> None:
    big = json.dumps({"data": "x" * 300_000, "n": list(range(1000))}).encode()
    (work / "event.json").write_bytes(big)
    pair = Pair("python", c_loop(), work / "event.json", work, "app.handler")
    try:
        assert pair.echo() == big
        assert len(pair.run(3).holding_ns) == 3
    finally:
        pair.close()


def test_a_runtime_that_dies_is_a_clear_error_not_a_hang(work: Path) -> None:
    dead = Contender("dead", [sys.executable, "-c", "print('bye')"])
    pair = Pair("python", dead, work / "event.json", work, "app.handler")
    try:
        with pytest.raises(SystemExit, match="dead / python: the runtime exited"):
            # the stub waits for a GET /next that never comes: the harness must notice
            pair.run(1)
    finally:
        pair.close()


def test_warm_path_smoke_writes_json_with_ratios_and_a_chart(tmp_path: Path) -> None:
    out = tmp_path / "warm"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.warm_path",
            "--smoke",
            "--servers",
            "python",
            "--blocks",
            "2",
            "--block",
            "20",
            "--warmup",
            "5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["command"].startswith("python -m benchmarks.warm_path --smoke")
    labels = {
        "c-loop / python",
        "python-floor / python",
        "lambdaboot / python",
        "lambdaboot-one-at-a-time / python",
        "awslambdaric / python",
    }
    assert set(result["summary"]) == labels
    assert result["ratio_vs_c_loop"]["c-loop / python"] == {"held_us": 1.0, "cpu_us": 1.0}
    floor = result["ratio_vs_python_floor"]["python-floor / python"]
    assert floor == {"held_us": 1.0, "cpu_us": 1.0}
    assert all(len(result["per_block"][label]["held_us"]) == 2 for label in labels)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_event_sizes_smoke_writes_the_size_table(tmp_path: Path) -> None:
    out = tmp_path / "sizes"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.event_sizes",
            "--smoke",
            "--server",
            "python",
            "--sizes",
            "1KB",
            "--rounds",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert set(result["sizes"]["1KB"]["summary"]) == {"c-loop", "lambdaboot", "awslambdaric"}
    assert "| 1KB |" in done.stdout
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_warm_tricks_smoke_judges_each_trick_against_the_plain_code(tmp_path: Path) -> None:
    _need_go("go")
    out = tmp_path / "tricks.json"
    smoke = ["--rounds", "2", "--block", "20", "--event", "15B", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.warm_tricks", *smoke],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["command"].startswith("python -m benchmarks.warm_tricks --rounds 2")
    assert set(result["measurements"]) == {
        "15B event, pipelined",
        "15B event, one request at a time",
    }
    for entry in result["measurements"].values():
        assert entry["ratio_vs_shipped"]["shipped"] == {"wall_us": 1.0, "cpu_us": 1.0}
        assert all(len(m["wall_us"]) == 2 for m in entry["per_round"].values())
    assert set(result["verdicts"]) == {"response-template", "guard-shortcut", "header-names"}
    assert all(isinstance(v["kept"], bool) for v in result["verdicts"].values())


def test_warm_steps_smoke_times_each_step_of_two_trees(tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    smoke = ["--runs", "1", "--number", "50", "--repeat", "1", "--against", str(REPO)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.warm_steps", *smoke, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["command"].startswith("python -m benchmarks.warm_steps --runs 1")
    steps = result["best_us"]["this tree"]
    assert "socketless loop (one invocation)" in steps and "parse_invocation" in steps
    assert set(result["saved_us"]) == set(steps)
    assert all(value > 0 for value in steps.values())
    assert "socketless loop (one invocation)" in done.stdout


def test_warm_steps_refuses_a_tree_without_runtime_core(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.warm_steps", "--against", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert f"--against {tmp_path}: no runtime_core there" in done.stderr
    assert "Traceback" not in done.stderr
