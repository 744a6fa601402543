"""Compiles the C contender (``cc``) and the Go stub (``go build``), once per source change.

Both land in ``benchmarks/.cache/warm/``. A missing compiler is a one-line error that
says how to install it, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from benchmarks.environments import CACHE

HERE = Path(__file__).resolve().parent
OUT = CACHE / "warm"


class MissingTool(SystemExit):
    """A compiler the suite needs is not installed (the message says how to get it)."""


def _built(source: Path, name: str, command: list[str], env: dict[str, str] | None = None) -> Path:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    binary = OUT / f"{name}-{digest}"
    if binary.exists():
        return binary
    OUT.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    result = subprocess.run(
        [*command, "-o", str(partial), str(source)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise SystemExit(f"building {source.name} failed:\n{result.stderr.strip()}")
    partial.rename(binary)
    return binary


def c_loop() -> Path:
    """The minimal C runtime (``c_loop.c``), built with ``cc -O2``."""
    if shutil.which("cc") is None:
        raise MissingTool("the C contender needs a C compiler: apt-get install -y gcc")
    return _built(HERE / "c_loop.c", "c_loop", ["cc", "-O2"])


def go_stub() -> Path:
    """The Go ``net/http`` Runtime API stub (``stub.go``), standard library only."""
    if shutil.which("go") is None:
        raise MissingTool(
            "the Go Runtime API stub needs Go: apt-get install -y golang-go "
            "(or run the suite with --servers python)"
        )
    env = {
        "GOCACHE": str(OUT / "gocache"),
        "GOPATH": str(OUT / "gopath"),
        "GO111MODULE": "off",  # one file, standard library only: no module to resolve
        "CGO_ENABLED": "0",
    }
    return _built(HERE / "stub.go", "stub_go", ["go", "build"], env)


def python_stub() -> Path:
    return HERE / "stub.py"


__all__ = ["MissingTool", "c_loop", "go_stub", "python_stub"]
