"""Helpers for the dispatch tests: real handler files in a task root, imported in-process.

Handlers are imported into this test process, so ``sys.path`` and ``sys.modules`` are
put back after each test: a module cached by one test must never answer for another.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def task_root(function_dir: Path) -> Iterator[Path]:
    """An empty task root; whatever the test imports from it is forgotten afterwards."""
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield function_dir
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _forget_function_env() -> Iterator[None]:
    """The context reads the function's environment once; a test that changed it must not
    leave its names behind, so the environment (put back by then) is read again."""
    yield
    from runtime_core import context

    context.read_function_env()
