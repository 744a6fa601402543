"""``lambdaboot invoke`` and ``lambdaboot serve``, end to end as subprocesses."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tests.conftest import LAMBDABOOT, lambdaboot, write_function

RIC = shlex.join([sys.executable, "-m", "awslambdaric", "app.handler"])
APP = """
    def handler(event, context):
        print("got", event)
        if event.get("fail"):
            raise KeyError("missing")
        return {"hello": event.get("name", "world")}
"""


def test_invoke_prints_result_and_logs(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    done = lambdaboot(
        "invoke", str(function_dir), "--runtime-cmd", RIC, "--event", '{"name": "cli"}'
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"hello": "cli"}
    assert "got {'name': 'cli'}" in done.stderr
    assert "REPORT RequestId:" in done.stderr and "Init Duration:" in done.stderr


def test_invoke_reads_stdin_and_fails_on_function_error(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    done = lambdaboot("invoke", str(function_dir), "--runtime-cmd", RIC, stdin='{"fail": true}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "KeyError"


def test_invoke_bad_input_is_one_clear_line(function_dir: Path) -> None:
    done = lambdaboot("invoke", str(function_dir / "missing"), "--event", "{}")
    assert done.returncode == 2
    assert "is not a directory" in done.stderr and "Traceback" not in done.stderr


def iter_until(stream: IO[str], marker: str) -> Iterator[str]:
    """The lines of ``stream`` up to and including the first one holding ``marker``."""
    for line in stream:
        yield line
        if marker in line:
            return


def test_serve_until_interrupted(function_dir: Path) -> None:
    write_function(function_dir, {"app.py": APP})
    proc = subprocess.Popen(
        [str(LAMBDABOOT), "serve", str(function_dir), "--runtime-cmd", RIC],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("Invoke API: ", 1)[1].strip()
        request = urllib.request.Request(url, data=b'{"name": "served"}', method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert json.loads(resp.read()) == {"hello": "served"}
        # The answer comes when the runtime posts it; the invocation ends at its next
        # /next (REPORT): Ctrl-C then finds the environment idle.
        assert proc.stderr is not None
        seen = "".join(iter_until(proc.stderr, "REPORT RequestId:"))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        err = seen + err
    finally:
        proc.kill()
    assert proc.returncode == 130  # 128 + SIGINT, as for any command ended by Ctrl-C
    assert "Shutdown: SIGKILL" in out
    assert "REPORT RequestId:" in err and "got {'name': 'served'}" in err


def test_invoke_defaults_to_lambdaboots_bootstrap(tmp_path: Path) -> None:
    """What `make run` does: no --runtime-cmd, the repository's own bootstrap runs the example."""
    example = Path(__file__).resolve().parents[2] / "examples" / "hello"
    done = lambdaboot(
        "invoke", str(example), "--handler", "app.handler", "--event", '{"name": "make run"}'
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello, make run!"
    assert "REPORT RequestId:" in done.stderr
