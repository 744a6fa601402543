"""The extension API is exported by ``runtime_core`` without costing the runtime's start-up."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_runtime_core_exports_the_extension_api_lazily() -> None:
    probe = (
        "import sys, runtime_core\n"
        "print('asyncio' in sys.modules)\n"
        "from runtime_core import Extension, InvokeEvent, ShutdownEvent\n"
        "import runtime_core.extensions as ext\n"
        "print(Extension is ext.Extension and InvokeEvent is ext.InvokeEvent "
        "and ShutdownEvent is ext.ShutdownEvent)\n"
        "print('asyncio' in sys.modules)\n"
        "try:\n"
        "    runtime_core.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "False",  # importing runtime_core (as bootstrap does) does not pull in asyncio
        "True",
        "True",
        "module 'runtime_core' has no attribute 'NoSuchName'",
    ]
