"""What lambdaboot's start-up costs above a bare interpreter (issue: one shell hop at most).

Each contender is a fresh process; the time measured is spawn to the first ``GET /next``
reaching a listening socket (what Lambda's Init Duration measures for a trivial
function). Contenders run interleaved, A B C ..., so drift on a shared machine hits all of
them alike; medians are reported. The steps, cheapest first:

* ``python -I -S``: the floor, a bare interpreter that connects and asks for ``/next``;
* ``+ site``: the same with ``site`` (what ``-s`` keeps, to find site-packages);
* ``+ /bin/sh``: the same started through one shell (``sh -c 'exec python ...'``);
* ``runtime, no shell``: lambdaboot's runtime started by the interpreter directly;
* ``bootstrap``: lambdaboot in provided mode (one shell, then the runtime);
* ``exec-wrapper``: lambdaboot in managed mode (the wrapper sources bootstrap: one shell);
* ``exec-wrapper, before``: the managed mode as it was (wrapper and bootstrap, two shells).

    python -m benchmarks.startup_floor [--runs 40] [--python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
# The floor's client: connect, send one request line, wait to be killed.
BARE_CLIENT = (
    "import _socket, os\n"
    "h, p = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
    "s = _socket.socket(); s.connect((h, int(p)))\n"
    "s.sendall(b'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
    "s.recv(1)\n"
)
# lambdaboot's runtime started straight from the interpreter: no shell, no prelude.
RUNTIME_ONLY = (
    f"import sys; sys.path.insert(0, {str(REPO)!r}); from runtime_core.main import main; main()"
)
# The two-shell managed mode this issue removed: the wrapper exec'd bootstrap as a program.
OLD_WRAPPER = (
    '#!/bin/sh\nhere=${0%/*}\n[ -z "$LAMBDABOOT_PYTHON" ] && LAMBDABOOT_PYTHON=$1 '
    '&& export LAMBDABOOT_PYTHON\nexec "$here/bootstrap"\n'
)


def first_next_ms(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Spawn ``command``; return the ms until its first request reaches a fresh socket
    (fresh each time: a killed runtime's reconnection must not count for the next one),
    and the CPU ms the process spent (user + system: less disturbed by other load)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.getsockname()[1]}"}
        started = time.perf_counter_ns()
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        try:
            conn, _ = server.accept()
            conn.recv(64)
            elapsed = (time.perf_counter_ns() - started) / 1e6
            conn.close()
        finally:
            proc.kill()
            proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def contenders(python: str, work: Path) -> dict[str, list[str]]:
    (work / "app.py").write_text("def handler(event, context):\n    return {}\n")
    old = work / "old"
    old.mkdir()
    (old / "lambdaboot-wrapper").write_text(OLD_WRAPPER)
    (old / "lambdaboot-wrapper").chmod(0o755)
    old_bootstrap = subprocess.run(
        ["git", "-C", str(REPO), "show", "6b479b0:bootstrap"], capture_output=True, text=True
    ).stdout
    (old / "bootstrap").write_text(old_bootstrap.replace("packages=$here\n", f"packages={REPO}\n"))
    (old / "bootstrap").chmod(0o755)
    return {
        "python -I -S": [python, "-I", "-S", "-c", BARE_CLIENT],
        "+ site": [python, "-I", "-c", BARE_CLIENT],
        "+ /bin/sh": ["/bin/sh", "-c", 'exec "$0" -I -c "$1"', python, BARE_CLIENT],
        "runtime, no shell": [python, "-s", "-u", "-c", RUNTIME_ONLY],
        "bootstrap": [str(REPO / "bootstrap")],
        "exec-wrapper": [str(REPO / "exec-wrapper"), python, "-m", "awslambdaric"],
        "exec-wrapper, before": [str(old / "lambdaboot-wrapper"), python, "-m", "awslambdaric"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", type=Path, default=RESULTS / "startup_floor.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "_HANDLER": "app.handler",
            "LAMBDA_TASK_ROOT": str(work),
            "LAMBDABOOT_PYTHON": args.python,
        }
        runs = contenders(args.python, work)
        subprocess.run(
            [args.python, "-m", "compileall", "-q", str(REPO / "runtime_core")], check=True
        )
        samples: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for command in runs.values():  # warm the page cache once
            first_next_ms(command, env)
        for _ in range(args.runs):
            for name, command in runs.items():
                wall, used = first_next_ms(command, env)
                samples[name].append(wall)
                cpu[name].append(used)
    medians = {name: round(statistics.median(values), 3) for name, values in samples.items()}
    cpu_medians = {name: round(statistics.median(values), 3) for name, values in cpu.items()}
    floor = medians["python -I -S"]
    cpu_floor = cpu_medians["python -I -S"]
    result = {
        "command": " ".join(["python -m benchmarks.startup_floor", *sys.argv[1:]]),
        "python": subprocess.run(
            [args.python, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "machine": platform.machine(),
        "runs": args.runs,
        "median_ms": medians,
        "above_floor_ms": {name: round(value - floor, 3) for name, value in medians.items()},
        "cpu_median_ms": cpu_medians,
        "cpu_above_floor_ms": {n: round(v - cpu_floor, 3) for n, v in cpu_medians.items()},
        "samples_ms": samples,
        "cpu_samples_ms": cpu,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    chart(result, args.json.with_suffix(".png"))
    width = max(map(len, medians))
    for name, value in medians.items():
        used = cpu_medians[name]
        print(
            f"{name:<{width}}  wall {value:7.2f} ms (+{value - floor:.2f})"
            f"  cpu {used:6.2f} ms (+{used - cpu_floor:.2f})"
        )


def chart(result: dict[str, Any], path: Path) -> None:
    """Median wall and CPU time per step, each with its ratio to the bare interpreter's."""
    from benchmarks import charts

    plt = charts.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(16, 5.5))
    floor = "python -I -S"
    for axis, key, title in (
        (axes[0], "median_ms", "wall: spawn to first /next (ms)"),
        (axes[1], "cpu_median_ms", "CPU of the process, user + system (ms)"),
    ):
        medians = list(result[key].values())
        charts.bars_with_ratios(
            axis,
            names=["floor" if n == floor else n for n in result[key]],
            medians=medians,
            ratios=[m / result[key][floor] for m in medians],
            baseline="floor",
        )
        axis.set_title(title, fontsize=10)
    charts.suptitle(
        fig,
        "What lambdaboot's start-up costs above the floor, a bare `python -I -S` asking for /next",
        runtime=f"trivial handler, Python {result['python']}",
        n=f"{result['runs']} interleaved runs per step, medians",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    main()
