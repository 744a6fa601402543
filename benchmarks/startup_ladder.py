"""The start-up ladder: from a bare interpreter to lambdaboot, and what each start-up trick saves.

Every rung is a fresh process pinned to cpu 1, timed from spawn to its first ``GET /next``
(Lambda's Init Duration) and to its first posted response (the cold round trip), against
a minimal Runtime API in this process. Rungs run round-robin so drift hits all alike.

- ``python -I -S``: the bare interpreter running the smallest possible runtime (``_socket``,
  GET, POST, in one ``-c`` script): the floor of any Python runtime;
- ``python -s``: the same with ``site`` (what ``bootstrap`` runs: ``-I`` would drop the
  layer's path);
- ``lambdaboot``: the real ``bootstrap``, a trivial sync handler;
- ``lambdaboot + X``: lambdaboot with ``X`` imported at start-up by a ``sitecustomize``, i.e.
  what lambdaboot would cost without the trick that keeps ``X`` off its start-up path
  (``typing`` for httptools, ``socket`` instead of ``_socket``, ``json`` instead of the C
  scanner, ``orjson`` at init instead of once it pays, ``logging`` without the import hook).

    python -m benchmarks.startup_ladder [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import charts
from benchmarks.contenders import lambdaboot
from benchmarks.environments import REPO, base_python, compile_repo_sources
from benchmarks.stats import summarize
from benchmarks.warm.harness import lambda_env

RESULTS = REPO / "benchmarks" / "results"
HANDLER_SOURCE = 'def handler(event, context):\n    return {"ok": True}\n'
EVENT = b'{"key":"value"}'
TRICKS = {
    "typing": "httptools' C parser loaded without typing",
    "socket": "_socket instead of socket.py",
    "json": "first event through _json's C scanner, not json",
    "orjson": "orjson imported once it pays, not at init",
    "logging": "logging bridged by an import hook, not imported",
    "signal": "_signal instead of signal.py for the SIGTERM handler",
}
# The smallest runtime Python can run: one connection, GET /next, POST the body back.
MINIMAL = (
    r"""
import _socket, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
s.connect((host, int(port)))
s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(65536)
head, body = data.split(b"\r\n\r\n", 1)
rid = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") """
    r"""if l.lower().startswith(b"lambda-runtime-aws-request-id")][0]
s.sendall(b"POST /2018-06-01/runtime/invocation/" + rid + """
    r"""b"/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
s.recv(65536)
"""
)


@dataclass
class Rung:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""


def rungs(version: str, work: Path) -> list[Rung]:
    python = str(base_python(version))
    shipped = lambdaboot(version)
    ladder = [
        Rung(
            "python -I -S",
            [python, "-I", "-S", "-c", MINIMAL],
            note="bare interpreter, minimal loop",
        ),
        Rung("python -s", [python, "-s", "-c", MINIMAL], note="with site, as bootstrap runs it"),
        Rung("lambdaboot", shipped.command, shipped.env, note="the real bootstrap and runtime"),
    ]
    for module, trick in TRICKS.items():
        folder = work / f"without-{module}"
        folder.mkdir()
        (folder / "sitecustomize.py").write_text(f"import {module}\n")
        path = f"{folder}:{shipped.env.get('PYTHONPATH', '')}"
        ladder.append(
            Rung(
                f"lambdaboot + {module}",
                shipped.command,
                {**shipped.env, "PYTHONPATH": path},
                note=f"without: {trick}",
            )
        )
    return ladder


def _one_start(rung: Rung, task_root: Path) -> tuple[float, float]:
    """Spawn ``rung``; ms to its first GET /next and to its first posted response."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    api = f"127.0.0.1:{listener.getsockname()[1]}"
    env = {**lambda_env(task_root, "app.handler", api), **rung.env}
    started = time.perf_counter_ns()
    process = subprocess.Popen(
        ["taskset", "-c", "1", *rung.command],
        env=env,
        cwd=task_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            init = time.perf_counter_ns()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 1\r\n"
                b"Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
                b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(EVENT), EVENT)
            )
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    raise SystemExit(f"{rung.name} closed the connection before posting")
                data += chunk
            answered = time.perf_counter_ns()
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
    finally:
        process.kill()
        process.wait()
        listener.close()
    return (init - started) / 1e6, (answered - started) / 1e6


def plot(result: dict[str, object], path: Path) -> None:
    plt = charts.pyplot()
    summary: dict = result["summary"]  # type: ignore[assignment]
    names = list(summary)
    fig, axis = plt.subplots(figsize=(11, 5))
    medians = [summary[n]["first_response_ms"]["median"] for n in names]
    base = summary["lambdaboot"]["first_response_ms"]["median"]
    charts.bars_with_ratios(
        axis,
        names=names,
        medians=medians,
        lows=[summary[n]["first_response_ms"]["min"] for n in names],
        highs=[summary[n]["first_response_ms"]["p90"] for n in names],
        ratios=[m / base for m in medians],
        baseline="lambdaboot",
        fmt="{:.1f} ms",
    )
    axis.set_ylabel("ms, spawn to first response (median; whiskers min-p90)")
    axis.tick_params(axis="x", labelsize=8)
    charts.suptitle(
        fig,
        "Start-up ladder: trivial sync handler, spawn to first posted response",
        runtime=f"Python {result['machine']['python']} (bare venv), runtime on cpu 1",  # type: ignore[index]
        n=(
            f"{result['runs']} cold starts per rung, round-robin; "
            "'lambdaboot + X' = X imported at start-up"
        ),
    )
    charts.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="cold starts per rung")
    parser.add_argument("--python", default="3.11", help="Python version")
    parser.add_argument("--out", type=Path, default=RESULTS / "startup_ladder")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    compile_repo_sources(args.python)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        task_root = work / "task"
        task_root.mkdir()
        (task_root / "app.py").write_text(HANDLER_SOURCE)
        ladder = rungs(args.python, work)
        for rung in ladder:  # unrecorded: bytecode written, page cache warm
            _one_start(rung, task_root)
        times: dict[str, dict[str, list[float]]] = {
            r.name: {"init_ms": [], "first_response_ms": []} for r in ladder
        }
        for _ in range(args.runs):
            for rung in ladder:
                init, answered = _one_start(rung, task_root)
                times[rung.name]["init_ms"].append(init)
                times[rung.name]["first_response_ms"].append(answered)
    summary = {name: {k: summarize(v) for k, v in phases.items()} for name, phases in times.items()}
    shipped = summary["lambdaboot"]["first_response_ms"]["median"]
    result = {
        "command": "python -m benchmarks.startup_ladder " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": args.python, "platform": platform.platform()},
        "function": "def handler(event, context): return {'ok': True}",
        "runs": args.runs,
        "rungs": {r.name: {"command": r.command[:3], "note": r.note} for r in ladder},
        "summary": summary,
        "cost_of_dropping_each_trick_ms": {
            module: round(
                summary[f"lambdaboot + {module}"]["first_response_ms"]["median"] - shipped, 2
            )
            for module in TRICKS
        },
        "samples": times,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    print(table(result))
    return 0


def table(result: dict[str, object]) -> str:
    summary: dict = result["summary"]  # type: ignore[assignment]
    lines = ["| rung | spawn to first /next, ms | spawn to first response, ms |", "|---|---|---|"]
    for name, phases in summary.items():
        lines.append(
            f"| {name} | {phases['init_ms']['median']:.1f} | "
            f"{phases['first_response_ms']['median']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
