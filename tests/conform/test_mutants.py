"""The kit checks itself: a runtime with exactly one planted fault fails exactly that check."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lambdaboot_conform import kit
from lambdaboot_conform.checks import CHECKS
from tests.conform.mutants.runtime import FAULTS

MUTANT = Path(__file__).parent / "mutants" / "runtime.py"
COMMAND = [sys.executable, "-u", str(MUTANT)]


def statuses(fault: str) -> dict[str, str]:
    verdicts = kit.run(COMMAND, {"CONFORM_FAULT": fault} if fault else {})
    return {v.check: v.status for v in verdicts}


def test_every_check_has_a_planted_fault() -> None:
    assert sorted(FAULTS.values()) == sorted(c.name for c in CHECKS)


def test_the_clean_runtime_passes_every_check() -> None:
    assert statuses("") == {c.name: "pass" for c in CHECKS}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_planted_fault_fails_exactly_its_check(fault: str) -> None:
    got = statuses(fault)
    failed = {name for name, status in got.items() if status == "fail"}
    assert failed == {FAULTS[fault]}, got
    assert all(status == "pass" for name, status in got.items() if name != FAULTS[fault])
