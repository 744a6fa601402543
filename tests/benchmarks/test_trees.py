"""``git:REV`` names a before tree a fresh clone can export again; a bad one is one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.trees import TreeError, export_tree
from tests.conftest import REPO


def test_a_commit_is_exported_with_its_runtime_and_bootstrap() -> None:
    first = subprocess.run(
        ["git", "-C", str(REPO), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.split()[0]  # fmt: skip
    folder = export_tree("git:HEAD")
    assert (folder / "bootstrap").read_bytes() == (REPO / "bootstrap").read_bytes()
    assert (folder / "runtime_core" / "__init__.py").is_file()
    assert folder != REPO and not (folder / ".git").exists()
    assert export_tree(f"git:{first}") != folder  # each export is a tree of its own


def test_a_folder_is_taken_as_it_is(tmp_path) -> None:
    assert export_tree(str(tmp_path)) == tmp_path.resolve()


def test_an_unknown_commit_is_one_line_naming_it() -> None:
    with pytest.raises(TreeError, match=r"git:nosuch: cannot export commit 'nosuch'"):
        export_tree("git:nosuch")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.warm_steps", "--against", "git:nosuch"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("warm_steps.py: error: --against git:nosuch")
    )
    assert "Traceback" not in done.stderr
