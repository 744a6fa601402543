"""Billed cold start, as Lambda counts it, for each choice of when to import orjson.

Lambda bills a cold start as Init (spawn to the first ``/next``) plus the first
invocation's Duration, which ends when the runtime asks for the next invocation, not when
it posts the response. A caller waits only until the response. So both are measured here,
from the runtime's spawn, by a Runtime API of this script's own that timestamps every
request as it arrives:

- ``init_ms``: spawn to the first ``/next`` (Lambda's Init Duration);
- ``first_response_ms``: spawn to the first ``/response`` (what the first caller waits);
- ``billed_ms``: spawn to the second ``/next`` (Init + first Duration: the billed cold start).

Contenders, a fresh process per run, interleaved run by run so that the shared machine's
drift hits all alike, on one interpreter:

- ``awslambdaric``: AWS's runtime client 4.2.2 (``python -m awslambdaric``);
- ``orjson-after-first``: lambdaboot as it was, importing orjson after the first response,
  before the next ``/next`` (a snapshot of ``bootstrap`` and ``runtime_core`` from
  ``--before``, a git revision);
- ``orjson-in-init``: today's lambdaboot with a handler module that imports orjson, which
  the runtime then uses from the first call: the cost of importing it during Init;
- ``orjson-when-it-pays``: today's lambdaboot (the stdlib's C codec until orjson pays).

    python -m benchmarks.billed_cold_start [--runs 20] [--python PATH] [--before REV]
        [--function DIR]   (a function directory with app.handler, e.g. examples/hello;
                            default: a trivial handler)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
EVENT = b'{"key": "value"}'
HANDLER = 'def handler(event, context):\n    return {"ok": True}\n'
BEFORE = "7d067e6"  # the last main commit that imported orjson after the first response


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Each runtime is killed while its second ``/next`` is held: a reset is expected."""


class _Api:
    """A Runtime API that serves one event and timestamps each request's arrival."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, int]] = []
        self.second_next = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, delayed ACKs
            # would add ~40 ms to whichever answer the runtime waits on.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _arrived(self) -> None:
                api.arrivals.append((self.path, time.perf_counter_ns()))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)

            def do_GET(self) -> None:
                self._arrived()
                if sum(p.endswith("/next") for p, _ in api.arrivals) > 1:
                    api.second_next.set()
                    return  # held, as Lambda holds it while the environment is frozen
                self.send_response(200)
                for name, value in (
                    ("Lambda-Runtime-Aws-Request-Id", "bench-1"),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:1:function:f",
                    ),
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(EVENT))),
                ):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(EVENT)

            def do_POST(self) -> None:
                self._arrived()
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _one(command: list[str], env: dict[str, str], task: Path) -> dict[str, float]:
    api = _Api()
    try:
        full = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "LAMBDA_TASK_ROOT": str(task),
            "_HANDLER": "app.handler",
            "AWS_LAMBDA_FUNCTION_NAME": "f",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            **env,
        }
        spawn = time.perf_counter_ns()
        process = subprocess.Popen(
            command, env=full, cwd=task, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            if not api.second_next.wait(30):
                raise SystemExit(f"{command} never asked for a second invocation")
        finally:
            process.kill()
            process.wait()
        nexts = [t for p, t in api.arrivals if p.endswith("/next")]
        response = next(t for p, t in api.arrivals if p.endswith("/response"))
        return {
            "init_ms": (nexts[0] - spawn) / 1e6,
            "first_response_ms": (response - spawn) / 1e6,
            "billed_ms": (nexts[1] - spawn) / 1e6,
        }
    finally:
        api.close()


def _snapshot(revision: str, into: Path) -> Path:
    """``bootstrap`` and ``runtime_core`` as they were at ``revision``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "bootstrap", "runtime_core"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "bootstrap"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default=str(REPO / ".venv-3.12" / "bin" / "python"))
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--function", help="a function directory whose app.handler to run")
    parser.add_argument("--json", default=str(RESULTS / "billed_cold_start.json"))
    args = parser.parse_args(argv)
    source = HANDLER
    if args.function:
        app = Path(args.function) / "app.py"
        if not app.is_file():
            parser.error(
                f"--function {args.function}: no app.py there (the handler is app.handler)"
            )
        source = app.read_text()
    python = args.python
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain, with_orjson, old = root / "plain", root / "with_orjson", root / "old"
        for task, text in ((plain, source), (with_orjson, "import orjson\n" + source)):
            task.mkdir()
            (task / "app.py").write_text(text)
        old.mkdir()
        old_bootstrap = _snapshot(args.before, old)
        boot_env = {"LAMBDABOOT_PYTHON": python}
        contenders: list[tuple[str, list[str], dict[str, str], Path]] = [
            ("awslambdaric", [python, "-s", "-m", "awslambdaric", "app.handler"], {}, plain),
            ("orjson-after-first", [str(old_bootstrap)], boot_env, plain),
            ("orjson-in-init", [str(REPO / "bootstrap")], boot_env, with_orjson),
            ("orjson-when-it-pays", [str(REPO / "bootstrap")], boot_env, plain),
        ]
        samples: dict[str, dict[str, list[float]]] = {
            name: {"init_ms": [], "first_response_ms": [], "billed_ms": []}
            for name, *_ in contenders
        }
        for _ in range(2):  # warm the page cache and bytecode caches, not recorded
            for _name, command, env, task in contenders:
                _one(command, env, task)
        for _ in range(args.runs):
            for name, command, env, task in contenders:
                for key, value in _one(command, env, task).items():
                    samples[name][key].append(value)
    medians = {
        name: {key: round(statistics.median(values), 2) for key, values in phases.items()}
        for name, phases in samples.items()
    }
    base = medians["awslambdaric"]
    result = {
        "command": "python -m benchmarks.billed_cold_start " + " ".join(argv or sys.argv[1:]),
        "python": subprocess.run(
            [python, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "machine": platform.platform(),
        # A shared machine: its load scales every figure; the ratios are what carry over.
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "runs": args.runs,
        "function": args.function or "trivial handler",
        "before": args.before,
        "medians_ms": medians,
        "ratio_to_awslambdaric": {
            name: {key: round(value / base[key], 2) for key, value in phases.items()}
            for name, phases in medians.items()
        },
        "samples_ms": samples,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    chart(result, Path(args.json).with_suffix(".png"))
    print(f"{'median ms':22} {'init':>8} {'first response':>15} {'billed':>8}")
    for name, phases in medians.items():
        print(
            f"{name:22} {phases['init_ms']:8.2f} {phases['first_response_ms']:15.2f}"
            f" {phases['billed_ms']:8.2f}"
        )
    return 0


PHASES = {
    "init_ms": "Init Duration\n(spawn to first /next)",
    "first_response_ms": "first response\n(spawn to first /response)",
    "billed_ms": "billed cold start\n(spawn to second /next)",
}


def chart(result: dict[str, Any], path: Path) -> None:
    """One panel per phase: each contender's runs as a box, its median and its ratio to
    awslambdaric's written beside it."""
    from benchmarks import charts

    plt = charts.pyplot()
    fig, axes = plt.subplots(1, len(PHASES), figsize=(15, 5))
    samples = result["samples_ms"]
    for axis, (phase, title) in zip(axes, PHASES.items(), strict=True):
        charts.boxes_with_ratios(
            axis, {name: samples[name][phase] for name in samples}, baseline="awslambdaric"
        )
        axis.set_title(title, fontsize=10)
        axis.set_ylabel("ms")
    charts.suptitle(
        fig,
        f"Billed cold start, by when lambdaboot imports orjson: {result['function']}",
        runtime=f"lambdaboot vs awslambdaric 4.2.2, Python {result['python']}",
        n=f"{result['runs']} cold starts each, interleaved",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
