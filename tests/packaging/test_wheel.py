"""lambdaboot installed from its wheel, outside the checkout, works: package data
(bootstrap, the exec wrapper, the lock file) travels with it. One test: a wheel build and
a virtualenv are slow, so both are made once and used for ``invoke`` and ``build``
(pip's own cache keeps the downloads off the network after the first run)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.timeout(1200)
def test_the_wheel_installs_and_runs_invoke_and_build_outside_the_checkout(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"  # a clone: building must not write into the checkout
    _run("git", "clone", "-q", str(REPO), str(source), cwd=tmp_path)
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source),
         cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("lambdaboot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("local_lambda/assets/bootstrap", "local_lambda/assets/exec-wrapper",
                 "layer_build/runtime.lock"):  # fmt: skip
        assert data in names

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    _run(str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[local,build]", cwd=tmp_path)
    lambdaboot = str(venv / "bin" / "lambdaboot")

    fn = tmp_path / "fn"
    fn.mkdir()
    (fn / "app.py").write_text(
        "import runtime_core, sys\n\n"
        "def handler(event, context):\n"
        "    return {'got': event, 'runtime_core': runtime_core.__file__, 'python': sys.prefix}\n"
    )
    invoked = _run(
        lambdaboot, "invoke", "fn", "--in-place", "--event", '{"x": 1}', cwd=tmp_path, timeout=120
    )
    seen = json.loads(invoked.stdout)
    assert seen["got"] == {"x": 1}
    assert seen["runtime_core"].startswith(str(venv))  # the installed copy, not the checkout's
    assert "REPORT RequestId:" in invoked.stderr
    # The default run: the layer built from the installed copy, at /opt as on Lambda.
    default = _run(lambdaboot, "invoke", "fn", cwd=tmp_path, timeout=300)
    assert json.loads(default.stdout)["runtime_core"] == "/opt/lambdaboot/runtime_core/__init__.py"

    built = _run(lambdaboot, "build", "--out", "dist", cwd=tmp_path)
    (layer,) = (tmp_path / "dist").glob("lambdaboot-managed-*.zip")
    entries = zipfile.ZipFile(layer).namelist()
    assert "bootstrap" in entries and "lambdaboot-wrapper" in entries, built.stdout
    assert any(name.startswith("lambdaboot/runtime_core/") for name in entries)
    with_layer = _run(
        lambdaboot, "invoke", "fn", "--layer", str(layer), "--runtime", "python3.12",
        "--env", "AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdaboot-wrapper", "--handler", "app.handler",
        "--event", "{}", cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert json.loads(with_layer.stdout)["got"] == {}
