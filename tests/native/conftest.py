"""Real programs for the native-handler tests: C compiled with gcc, and shell scripts.

The C programs are compiled once per session (``native_programs``); scripts are written
per test with ``script``. ``invocation`` makes an ``Invocation`` whose deadline is a given
number of seconds away, for calling the handlers in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from runtime_core.invocation import Invocation
from runtime_core.testing import make_invocation
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "legacy-c"

SEGFAULT_C = """
#include <stdio.h>
int main(void) {
    fprintf(stderr, "about to read address 0\\n");
    fflush(stderr);
    volatile int *p = 0;
    return *p;
}
"""

GONE_C = "int gone_answer(void) { return 42; }\n"
NEEDS_GONE_C = """
#include <stdio.h>
int gone_answer(void);
int main(void) { printf("{\\"answer\\": %d}\\n", gone_answer()); return 0; }
"""


def _gcc() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail(
            "gcc is needed to build the native test programs: install it (apt-get install gcc)"
        )
    return gcc


def _compile(gcc: str, source: str, out: Path, *flags: str) -> Path:
    src = out.with_suffix(".c")
    src.write_text(textwrap.dedent(source))
    subprocess.run([gcc, "-O1", "-o", str(out), str(src), *flags], check=True, capture_output=True)
    return out


class NativePrograms:
    """Paths of the compiled programs."""

    def __init__(self, root: Path) -> None:
        gcc = _gcc()
        self.root = root
        self.segfault = _compile(gcc, SEGFAULT_C, root / "segfault")
        # A program linked against libgone.so.1, which is then deleted: the loader's error.
        lib = root / "libgone.so.1"
        _compile(gcc, GONE_C, lib, "-shared", "-fPIC", "-Wl,-soname,libgone.so.1")
        self.needs_gone = _compile(
            gcc, NEEDS_GONE_C, root / "needs_gone", f"-L{root}", "-l:libgone.so.1"
        )
        lib.unlink()
        # The example, built by its own Makefile.
        self.example_build = root / "legacy-c"
        subprocess.run(
            ["make", "-s", "-C", str(EXAMPLE), f"BUILD={self.example_build}", f"CC={gcc}"],
            check=True,
            capture_output=True,
        )
        self.analyze = self.example_build / "bin" / "analyze"
        self.example_lib = self.example_build / "lib"


@pytest.fixture(scope="session")
def native_programs(tmp_path_factory: pytest.TempPathFactory) -> NativePrograms:
    return NativePrograms(tmp_path_factory.mktemp("native"))


@pytest.fixture
def script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``script(name, body)``: an executable ``#!/bin/sh`` script in ``tmp_path``."""

    def make(name: str, body: str) -> Path:
        path = tmp_path / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        path.chmod(0o755)
        return path

    return make


def invocation(
    seconds: float = 10.0, body: bytes = b"{}", request_id: str = "req-native-1"
) -> Invocation:
    """An invocation whose deadline is ``seconds`` from now."""
    return make_invocation(raw=body, request_id=request_id, timeout_s=seconds)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pid: int, timeout: float = 15.0) -> bool:
    """Poll until ``pid`` no longer runs (killed processes are reaped asynchronously)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not running(pid):
            return True
        time.sleep(0.05)
    return not running(pid)


def example_env(programs: NativePrograms) -> dict[str, str]:
    """Environment to run the unpackaged example (its library is not on any default path)."""
    return {**os.environ, "LD_LIBRARY_PATH": str(programs.example_lib)}
