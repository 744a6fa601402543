"""``lambdaboot conform`` against the real runtimes: lambdaboot's bootstrap and awslambdaric
4.2.2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambdaboot_conform import kit
from lambdaboot_conform.checks import CHECKS
from tests.conftest import BOOTSTRAP, bootstrap_env, lambdaboot

AWSLAMBDARIC = [sys.executable, "-s", "-m", "awslambdaric", "{handler}"]

# Where awslambdaric 4.2.2 departs from the contract, as this kit finds it (README's table).
AWSLAMBDARIC_FAILS = {
    "response-too-large",  # exits after the 413 instead of serving the next invoke
    "gone-410",  # exits after a 410
    "streaming",  # no response streaming in the Python RIC
    "stream-trailers",
    "sigterm",  # on 3.11 its main thread sits in C on /next, so the SIGTERM handler never runs
}


def test_lambdaboot_passes_every_check(runtime_python: Path) -> None:
    verdicts = kit.run([str(BOOTSTRAP)], bootstrap_env(runtime_python))
    assert {v.check: v.status for v in verdicts} == {c.name: "pass" for c in CHECKS}, verdicts
    assert all(v.reason and v.section.startswith("§") for v in verdicts)


def test_awslambdaric_fails_where_it_departs_from_the_contract() -> None:
    verdicts = {v.check: v for v in kit.run(AWSLAMBDARIC)}
    failed = {name for name, v in verdicts.items() if v.status == "fail"}
    assert failed == AWSLAMBDARIC_FAILS, {
        n: verdicts[n].reason for n in failed ^ AWSLAMBDARIC_FAILS
    }
    assert "SIGKILL" in verdicts["sigterm"].reason


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return lambdaboot("conform", *args, env={"LAMBDABOOT_PYTHON": sys.executable}, timeout=300)


def test_cli_prints_verdicts_and_writes_json() -> None:
    done = _cli("--check", "error-shape", "--check", "trace-id", "--json", "-")
    assert done.returncode == 0, done.stderr
    assert "PASS error-shape" in done.stderr and "§1.3" in done.stderr
    result = json.loads(done.stdout)
    assert result["passed"] == 2 and result["failed"] == 0
    assert [c["check"] for c in result["checks"]] == ["error-shape", "trace-id"]


def test_cli_exits_1_when_a_check_fails(tmp_path: Path) -> None:
    mutant = Path(__file__).parent / "mutants" / "runtime.py"
    done = _cli(
        "--runtime-cmd",
        f"{sys.executable} -u {mutant}",
        "--env",
        "CONFORM_FAULT=no-xray",
        "--check",
        "xray-cause",
        "--json",
        str(tmp_path / "v.json"),
    )
    assert done.returncode == 1
    assert "FAIL xray-cause" in done.stdout
    assert json.loads((tmp_path / "v.json").read_text())["checks"][0]["status"] == "fail"


def test_cli_lists_checks_and_rejects_unknown_ones() -> None:
    listed = _cli("--list")
    assert listed.returncode == 0
    assert all(c.name in listed.stdout for c in CHECKS)
    bad = _cli("--check", "no-such-check")
    assert bad.returncode == 2
    assert "unknown check(s) no-such-check" in bad.stderr and "invoke-success" in bad.stderr


def test_a_built_layer_on_the_managed_runtime_passes_every_check(tmp_path: Path) -> None:
    """What ships: `lambdaboot build`'s layer behind the exec wrapper of an emulated python3.12."""
    built = lambdaboot("build", "--python", "3.12", "--out", str(tmp_path), timeout=300)
    assert built.returncode == 0, built.stderr
    (layer,) = tmp_path.glob("lambdaboot-managed-py312-*.zip")
    done = _cli(
        "--runtime",
        "python3.12",
        "--layer",
        str(layer),
        "--env",
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdaboot-wrapper",
        "--json",
        "-",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["passed"] == len(CHECKS) and result["failed"] == 0
