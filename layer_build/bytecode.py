"""Precompiling every ``.py`` into ``unchecked-hash`` pycs with the target's interpreter.

Lambda's ``/opt`` and ``/var/task`` are read-only: a missing or stale pyc is recompiled on
every cold start. Hash-based pycs do not depend on file times (zips pin them), and
``unchecked`` skips even hashing the source at import. One process compiles the files
in sorted order with a fixed hash seed, so the bytes are the same on every build. It runs
with ``-B`` and ``force``: modules the compiler itself imports (when it is the embedded
interpreter, from the tree being compiled) must not leave timestamp pycs that
``compileall`` would then keep.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from layer_build.errors import BuildError

_COMPILE = """
import compileall, py_compile, sys
ok = compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=1, workers=1, force=True,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 1)
"""


def compile_tree(python: Path, root: Path, runtime_path: str) -> None:
    """Compile ``root`` as it will appear at ``runtime_path`` (the name tracebacks show)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [os.fspath(python), "-B", "-s", "-S", "-c", _COMPILE, os.fspath(root), runtime_path],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        errors = (done.stdout + done.stderr).strip()
        raise BuildError(
            f"compiling {root} with {python} failed (a syntax error for that Python?):\n{errors}"
        )
