"""The command line's edges, as a user meets them: real subprocesses, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAMBDABOOT = str(Path(sys.executable).parent / "lambdaboot")


def test_serve_host_moves_only_the_invoke_api(function_dir: Path) -> None:
    (function_dir / "app.py").write_text("def handler(e, c):\n    return e\n")
    serve = subprocess.Popen(
        [LAMBDABOOT, "serve", str(function_dir), "--host", "0.0.0.0", "--function-url-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        lines = [serve.stdout.readline() for _ in range(3)]
    finally:
        serve.terminate()
        serve.wait(60)
    shown = dict(line.strip().split(": ", 1) for line in lines)
    assert shown["Invoke API"].startswith("http://0.0.0.0:")
    assert shown["Function URL"].startswith("http://0.0.0.0:")
    assert shown["Runtime API"].startswith("127.0.0.1:")  # and the Extensions API with it
