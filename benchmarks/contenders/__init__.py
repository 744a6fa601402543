"""The runtimes the benchmarks compare, each as the command and environment the local Lambda starts.

A contender is described, not imported: the benchmark never loads a runtime into its own
process, it starts it the way Lambda would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.environments import REPO, base_python, packages
from benchmarks.warm import build

RUNTIME_DEPS = ["uvloop", "httptools", "orjson", "structlog"]


@dataclass(frozen=True)
class Contender:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def lambdaboot(version: str = "3.11", transport: str | None = None) -> Contender:
    """lambdaboot's real ``bootstrap``, its deps where a layer puts them (on PYTHONPATH)."""
    name = "lambdaboot" + (f"-{transport}" if transport else "")
    # One package directory per contender: the plain runtime must not find httpx on its path.
    deps = packages(name, RUNTIME_DEPS + (["httpx"] if transport else []), version)
    env = {"LAMBDABOOT_PYTHON": str(base_python(version)), "PYTHONPATH": str(deps)}
    if transport:
        env["LAMBDABOOT_TRANSPORT"] = transport
    return Contender(name, [str(REPO / "bootstrap")], env)


def awslambdaric(handler: str, version: str = "3.11") -> Contender:
    """The official client, started as its docs say (``python -m awslambdaric HANDLER``)."""
    deps = packages("awslambdaric", ["awslambdaric==4.2.2"], version)
    python = str(base_python(version))
    return Contender(
        "awslambdaric", [python, "-s", "-m", "awslambdaric", handler], {"PYTHONPATH": str(deps)}
    )


def minimal_urllib(version: str = "3.11") -> Contender:
    """The stdlib-only loop in ``minimal_urllib_bootstrap.py``: the floor of 'no runtime at all'."""
    script = Path(__file__).with_name("minimal_urllib_bootstrap.py")
    return Contender("minimal-urllib", [str(base_python(version)), "-s", str(script)])


def python_floor(version: str = "3.11") -> Contender:
    """The Python floor (``python_floor_bootstrap.py``): the C loop's steps in Python, with
    the event parsed and the result written by orjson, and the handler called."""
    script = Path(__file__).with_name("python_floor_bootstrap.py")
    deps = packages("lambdaboot", RUNTIME_DEPS, version)
    return Contender(
        "python-floor", [str(base_python(version)), "-s", str(script)], {"PYTHONPATH": str(deps)}
    )


def c_loop() -> Contender:
    """The C floor (``benchmarks/warm/c_loop.c``): GET /next, POST the body back, nothing else."""
    return Contender("c-loop", [str(build.c_loop())])


def all_contenders(handler: str, version: str = "3.11") -> list[Contender]:
    return [
        lambdaboot(version),
        awslambdaric(handler, version),
        lambdaboot(version, transport="httpx"),
        minimal_urllib(version),
    ]
