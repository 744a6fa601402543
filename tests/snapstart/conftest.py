"""The scripted Runtime API's fixtures (tests/runtime), with the interpreters SnapStart
exists for: AWS offers it from python3.12 on (``runtime_python`` takes "3.12"/"3.13"
indirectly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RUNTIME_PYTHONS
from tests.runtime.conftest import api, start_runtime

__all__ = ["api", "runtime_python", "start_runtime"]


@pytest.fixture
def runtime_python(request: pytest.FixtureRequest) -> Path:
    return RUNTIME_PYTHONS[request.param]
