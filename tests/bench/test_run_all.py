"""``make bench``'s script in its smoke mode: every suite writes its results and the README
table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_smoke_run_writes_results_and_refreshes_the_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Benchmarks\n\nprose kept\n\n"
        "<!-- results:begin -->\nstale\n<!-- results:end -->\n\ntail kept\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run_all",
            "--smoke",
            "--results",
            str(tmp_path),
            "--readme",
            str(readme),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    cold = json.loads((tmp_path / "cold_start.json").read_text())
    assert cold["command"].startswith("python -m benchmarks.run_all --smoke")
    assert set(cold["configs"]) == {"lambdaboot", "awslambdaric"}
    assert (tmp_path / "cold_start.png").read_bytes()[:4] == b"\x89PNG"
    conformance = json.loads((tmp_path / "conformance.json").read_text())
    assert conformance["runtimes"]["lambdaboot"]["failed"] == 0
    text = readme.read_text()
    assert "stale" not in text and "prose kept" in text and "tail kept" in text
    assert "| lambdaboot |" in text and "| sigterm | §5 | PASS | FAIL |" in text
