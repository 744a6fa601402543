"""As a non-root user (nobody, through setpriv), layers are merged at a read-only /opt, the
function sits at a read-only /var/task and the exec wrapper runs: in a user and mount
namespace of the user's own where the kernel allows it, else with a one-line message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

LAMBDABOOT = str(Path(sys.executable).parent / "lambdaboot")
PROBE = """
import os, sys

def handler(event, context):
    try:
        open("/var/task/new.txt", "w")
        task = "written"
    except OSError as exc:
        task = exc.strerror
    return {"opt": open("/opt/data.txt").read(), "task_root": os.environ["LAMBDA_TASK_ROOT"],
            "task_write": task, "lambdaboot": "runtime_core" in sys.modules}
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_invoke_with_layers_and_the_exec_wrapper_as_nobody(wheel_cache: Path) -> None:
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to run as nobody"
    tmp_path = Path(tempfile.mkdtemp(prefix="lambdaboot-nobody-"))  # pytest's is root-only
    try:
        _invoke_as_nobody(tmp_path, wheel_cache)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _invoke_as_nobody(tmp_path: Path, wheel_cache: Path) -> None:
    """lambdaboot's python3.11 layer (its packages vendored: nobody cannot reach this
    machine's virtualenvs) and a directory layer, in managed mode behind the wrapper."""
    home = tmp_path / "home"
    (home / "fn").mkdir(parents=True)
    (home / "fn" / "app.py").write_text(PROBE)
    layer = home / "layer"
    layer.mkdir()
    (layer / "data.txt").write_text("from the layer")
    built = subprocess.run(
        [LAMBDABOOT, "build", "--python", "3.11", "--out", str(home / "dist"),
         "--wheel-cache", str(wheel_cache)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else path.stat().st_mode | 0o444)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home)}
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", LAMBDABOOT, "invoke",
         "fn", "--layer", "dist/lambdaboot-managed-py311-al2-x86_64.zip", "--layer", "layer",
         "--runtime", "python3.11", "--env", "AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdaboot-wrapper",
         "--event", "{}"],
        capture_output=True, text=True, timeout=120, cwd=home, env=env,
    )  # fmt: skip
    userns = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "-Urm",
         "true"], capture_output=True, timeout=30,
    ).returncode == 0  # fmt: skip
    if userns:
        assert done.returncode == 0, done.stderr
        assert "filesystem: namespace" in done.stderr
        assert json.loads(done.stdout) == {
            "opt": "from the layer",
            "task_root": "/var/task",
            "task_write": "Read-only file system",
            "lambdaboot": True,  # the wrapper started lambdaboot's runtime
        }
    else:
        assert done.returncode == 2
        assert "cannot mount for a non-root user" in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2, done.stderr
