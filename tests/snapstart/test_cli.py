"""``--snap-start`` on the command line: what a user types and sees."""

from __future__ import annotations

import subprocess

from tests.conftest import REPO, lambdaboot


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    hello = str(REPO / "examples" / "hello")
    return lambdaboot("invoke", hello, "--event", '{"name": "you"}', *args, timeout=120)


def test_invoke_with_snap_start_prints_the_restore() -> None:
    done = _invoke("--snap-start")
    assert done.returncode == 0, done.stderr
    assert '"Hello, you!"' in done.stdout
    lines = done.stderr.splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines if line.split(" ", 1)[0].isupper()]
    assert kinds.index("INIT_REPORT") < kinds.index("RESTORE_START") < kinds.index("START")
    (report,) = [line for line in lines if line.startswith("REPORT ")]
    assert "\tRestore Duration: " in report and "Init Duration" not in report


def test_snap_start_with_managed_instances_is_one_line_refused() -> None:
    done = _invoke("--snap-start", "--max-concurrency", "2")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "lambdaboot invoke: --snap-start cannot be combined with --max-concurrency above 1"
    ]
