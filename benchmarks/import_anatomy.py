"""Where a dependency-heavy function's import time goes, and what packaging could cut.

The function imports boto3, pydantic and numpy. Its packages are the baseline build:
``pip install -t`` for Python 3.12, then ``compileall --invalidation-mode unchecked-hash``
(what ``lambdaboot build --function`` also does: bytecode is its whole gain). Each
layout is a fresh ``python3.12 -s`` per run (layouts interleaved), with the import path a
managed runtime would have:

- ``/var/task``: the packages in the task root, the first path entry;
- ``/opt``: the packages in a layer's ``python/`` folder, after the task root and the
  layer's ``python/lib/python3.12/site-packages``;
- ``/opt, 1 path entry``: a cure, the packages alone ahead of the standard library (what
  a build could arrange by putting everything in one folder);
- ``/opt, module index``: a cure, a finder on ``sys.meta_path`` that knows where each
  top-level package of the function lives (what a build could precompute), so the
  import system does not search the path for them.

Per run: wall time of the import statement, and over the import, the syscalls counted
by ``strace -f -c`` (opens, stats, reads, directory listings). Then, in the same process,
the import's parts replayed one by one: finding (every module the import loaded searched
for again through ``sys.meta_path``, the finders' directory caches dropped first), reading
(opening and reading every ``.pyc`` loaded) and unmarshalling (``marshal.loads`` on each);
what is left of the import is executing the modules' own code. The replays run with the
page cache warm, as the timed import does (an unrecorded run per layout comes first).

    python -m benchmarks.import_anatomy [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import charts
from benchmarks.environments import (
    HEAVY_REQUIREMENTS,
    REPO,
    base_python,
    compile_unchecked_hash,
    pip_target,
)
from benchmarks.stats import summarize

RESULTS = REPO / "benchmarks" / "results"
VERSION = "3.12"
REQUIREMENTS = HEAVY_REQUIREMENTS
TOP_LEVEL = ["boto3", "botocore", "pydantic", "pydantic_core", "numpy"]
# Runs in the child: the import, timed, then the unmarshal share of what it loaded.
PROBE = r"""
import os, sys, time
before = set(sys.modules)
t = time.perf_counter()
import boto3, pydantic, numpy
took = time.perf_counter() - t
if os.environ.get("ANATOMY_IMPORT_ONLY"):  # the syscall count: the import alone
    raise SystemExit(0)
import importlib, marshal
new = [n for n in list(sys.modules) if n not in before]
# Finding: the import system's search for every module the import loaded, replayed with
# the finders' directory caches dropped (as at a cold start; the page cache stays warm).
sys.path_importer_cache.clear()
importlib.invalidate_caches()
t = time.perf_counter()
for name in new:
    parent = name.rpartition(".")[0]
    path = getattr(sys.modules.get(parent), "__path__", None) if parent else None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is not None and find(name, path) is not None:
            break
finding = time.perf_counter() - t
cached = [m.__cached__ for m in list(sys.modules.values()) if getattr(m, "__cached__", None)]
blobs = []
t = time.perf_counter()
for path in cached:
    try:
        with open(path, "rb") as f:
            blobs.append(f.read()[16:])
    except OSError:
        pass
reading = time.perf_counter() - t
t = time.perf_counter()
for blob in blobs:
    marshal.loads(blob)
unmarshal = time.perf_counter() - t
print(took * 1000, unmarshal * 1000, len(blobs), finding * 1000, reading * 1000)
"""
INDEX_FINDER = """
import sys
from importlib.machinery import PathFinder
_HOME = {home!r}
_NAMES = {names!r}
class _Index:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name in _NAMES:
            return PathFinder.find_spec(name, [_HOME])
        return None
sys.meta_path.insert(0, _Index)
"""
SYSCALLS = ("openat", "newfstatat", "stat", "lstat", "fstat", "read", "getdents64")


def build(work: Path) -> Path:
    """The baseline packages, compiled with unchecked-hash pycs by a python3.12."""
    target = pip_target(work / "pkgs", REQUIREMENTS, VERSION)
    compile_unchecked_hash(target, VERSION)
    return target


def layouts(work: Path, pkgs: Path) -> dict[str, tuple[list[str], str]]:
    """Each layout: its path entries before the standard library, and extra start-up code."""
    task = work / "var-task"
    shutil.copytree(pkgs, task)
    opt = work / "opt" / "python"
    opt.parent.mkdir()
    shutil.copytree(pkgs, opt)
    site = work / "opt" / "python" / "lib" / f"python{VERSION}" / "site-packages"
    site.mkdir(parents=True)
    empty_task = work / "task"
    empty_task.mkdir()
    index = INDEX_FINDER.format(home=str(opt), names=TOP_LEVEL)
    return {
        "/var/task": ([str(task), str(site), str(opt)], ""),
        "/opt": ([str(empty_task), str(site), str(opt)], ""),
        "/opt, 1 path entry": ([str(opt)], ""),
        "/opt, module index": ([str(empty_task), str(site), str(opt)], index),
    }


def _command(entries: list[str], prelude: str) -> list[str]:
    setup = f"import sys; sys.path[0:0] = {entries!r}\n{prelude}\n"
    return [str(base_python(VERSION)), "-s", "-c", setup + PROBE]


def run_once(entries: list[str], prelude: str) -> dict[str, float]:
    done = subprocess.run(
        ["taskset", "-c", "1", *_command(entries, prelude)],
        capture_output=True,
        text=True,
        check=True,
    )
    took, unmarshal, modules, finding, reading = map(float, done.stdout.split())
    return {
        "import_ms": took,
        "find_ms": finding,
        "read_ms": reading,
        "unmarshal_ms": unmarshal,
        # what is left: the modules' own code (and the import system's bookkeeping)
        "execute_ms": took - finding - reading - unmarshal,
        "pycs": modules,
    }


def syscalls(entries: list[str], prelude: str) -> dict[str, int]:
    """Syscall counts of the child up to the end of the import (the replays skipped),
    by ``strace -f -c``."""
    if shutil.which("strace") is None:
        return {}
    done = subprocess.run(
        ["strace", "-f", "-c", "-e", "trace=" + ",".join(SYSCALLS), *_command(entries, prelude)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANATOMY_IMPORT_ONLY": "1"},
    )
    counts = {}
    for line in done.stderr.splitlines():
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if match and match.group(2) != "total":
            counts[match.group(2)] = int(match.group(1))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per layout")
    parser.add_argument("--out", type=Path, default=RESULTS / "import_anatomy")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ways = layouts(work, build(work))
        for entries, prelude in ways.values():  # unrecorded: page cache warm
            run_once(entries, prelude)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, (entries, prelude) in ways.items():
                samples[name].append(run_once(entries, prelude))
        counts = {name: syscalls(entries, prelude) for name, (entries, prelude) in ways.items()}
    summary = {
        name: {
            key: summarize([s[key] for s in runs])
            for key in ("import_ms", "find_ms", "read_ms", "unmarshal_ms", "execute_ms", "pycs")
        }
        for name, runs in samples.items()
    }
    base = summary["/opt"]["import_ms"]["median"]
    result = {
        "command": "python -m benchmarks.import_anatomy " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": VERSION, "platform": platform.platform()},
        "function": "import boto3, pydantic, numpy",
        "requirements": REQUIREMENTS,
        "baseline": "pip install -t + compileall --invalidation-mode unchecked-hash",
        "runs": args.runs,
        "summary": summary,
        "import_ratio_vs_opt": {
            name: round(s["import_ms"]["median"] / base, 3) for name, s in summary.items()
        },
        "syscalls_of_the_import": counts,
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    for name, s in summary.items():
        print(
            f"{name:22} import {s['import_ms']['median']:7.1f} ms  find "
            f"{s['find_ms']['median']:5.1f}  read {s['read_ms']['median']:5.1f}  unmarshal "
            f"{s['unmarshal_ms']['median']:6.1f}  execute {s['execute_ms']['median']:6.1f} ms  "
            f"x/opt {result['import_ratio_vs_opt'][name]:.2f}  "
            f"syscalls {counts[name]}"
        )
    return 0


def plot(result: dict[str, object], path: Path) -> None:
    plt = charts.pyplot()
    summary: dict = result["summary"]  # type: ignore[assignment]
    names = list(summary)
    fig, axis = plt.subplots(figsize=(10, 5))
    medians = [summary[n]["import_ms"]["median"] for n in names]
    ratios: dict = result["import_ratio_vs_opt"]  # type: ignore[assignment]
    charts.bars_with_ratios(
        axis,
        names=names,
        medians=medians,
        lows=[summary[n]["import_ms"]["min"] for n in names],
        highs=[summary[n]["import_ms"]["p90"] for n in names],
        ratios=[ratios[n] for n in names],
        baseline="/opt",
        fmt="{:.0f} ms",
    )
    unmarshal = [summary[n]["unmarshal_ms"]["median"] for n in names]
    axis.bar(
        range(len(names)),
        unmarshal,
        color="black",
        alpha=0.35,
        width=0.5,
        label="of which unmarshal",
    )
    axis.legend()
    axis.set_ylabel("ms to import boto3, pydantic, numpy (median; whiskers min-p90)")
    charts.suptitle(
        fig,
        "Dependency-heavy imports: where the packages sit, and two packaging cures",
        runtime=f"python{VERSION} -s, pip -t + compileall (unchecked-hash) baseline",
        n=f"{result['runs']} fresh processes per layout, interleaved",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
