"""What the telemetry-shipper extension adds to cold start and to each invocation, side by side.

Two environments run the same function (examples/telemetry-shipper/function, three log
lines per invocation) under lambdaboot's ``bootstrap``: one bare, one with the example
extension in a layer shipping to a local HTTP sink. Runs are interleaved (without, with,
without, ...) so drift on a shared machine hits both alike.

- Cold: a fresh environment per run: Init Duration (Lambda ends init only when the
  runtime *and* every extension have called next, so the extension's start-up is in it)
  and the cold round trip (init + first invocation, as the invoker waits for it).
- Warm: per invocation, the invoker's wall time around ``invoke`` and the REPORT
  Duration. The shipper does not subscribe to INVOKE, so it never holds an invocation;
  what it costs warm is the Telemetry API's deliveries and its own CPU on the same cores.
- Shutdown: how long the shutdown phase takes (the extension's final flush is in it).

    python -m benchmarks.extension_overhead [--warm 2000] [--cold 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks import charts
from benchmarks.contenders import RUNTIME_DEPS
from benchmarks.environments import REPO, base_python, compile_repo_sources, packages
from benchmarks.stats import summarize
from local_lambda import FunctionConfig, LocalLambda

RESULTS = REPO / "benchmarks" / "results"
EXAMPLE = REPO / "examples" / "telemetry-shipper"
SHIPPER = EXAMPLE / "extension" / "telemetry-shipper"
EVENT = {"items": ["a", "b"]}
EXPECTED = {"processed": 2}


class _Sink:
    """The shipper's endpoint: counts what it receives and answers 200."""

    def __init__(self) -> None:
        self.records = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.records += len(json.loads(body)["records"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ingest"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _layer(root: Path, python: Path, pythonpath: str) -> Path:
    """/opt/extensions/telemetry-shipper, started on the benchmark's bare interpreter.

    It execs the interpreter directly: what ``/opt/bootstrap`` with LAMBDABOOT_RUN does
    once bootstrap supports it, minus that one extra ``sh`` exec.
    """
    extensions = root / "extensions"
    extensions.mkdir(parents=True)
    launcher = extensions / "telemetry-shipper"
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH={pythonpath} exec {python} -s -u {SHIPPER}\n")
    launcher.chmod(0o755)
    return root


def _configs(tmp: Path, version: str, sink: _Sink) -> dict[str, FunctionConfig]:
    python = base_python(version)
    deps = packages("lambdaboot-shipper", [*RUNTIME_DEPS, "httpx"], version)
    pythonpath = f"{deps}:{REPO}"
    task = tmp / "task"
    task.mkdir()
    (task / "app.py").write_text((EXAMPLE / "function" / "app.py").read_text())
    env = {"LAMBDABOOT_PYTHON": str(python), "PYTHONPATH": str(deps)}

    def config(name: str, layers: list[Path], extra: dict[str, str]) -> FunctionConfig:
        return FunctionConfig(
            command=[str(REPO / "bootstrap")],
            task_root=task,
            handler="app.handler",
            timeout=30.0,
            memory_mb=1024,
            env={**env, **extra},
            function_name=name,
            layers=layers,
        )

    return {
        "without extension": config("bare", [], {}),
        "with telemetry-shipper": config(
            "shipped", [_layer(tmp / "layer", python, pythonpath)], {"SHIPPER_ENDPOINT": sink.url}
        ),
    }


def _check(name: str, result: Any) -> None:
    if result.function_error or result.json() != EXPECTED:
        raise SystemExit(
            f"{name}: the function did not answer {EXPECTED}: {result.payload[:300]!r}"
        )


def cold(configs: dict[str, FunctionConfig], runs: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {
        name: {"init_ms": [], "round_trip_ms": [], "shutdown_ms": []} for name in configs
    }
    lambdas = {name: LocalLambda(config) for name, config in configs.items()}
    try:
        for lam in lambdas.values():
            lam.open()
        for _ in range(runs):
            for name, lam in lambdas.items():
                started = time.perf_counter()
                result = lam.invoke(EVENT)
                waited_ms = (time.perf_counter() - started) * 1000
                _check(name, result)
                assert result.report is not None and result.report.init_duration_ms is not None
                figures[name]["init_ms"].append(result.report.init_duration_ms)
                figures[name]["round_trip_ms"].append(waited_ms)
                figures[name]["shutdown_ms"].append(lam.shutdown().duration_ms)
    finally:
        for lam in lambdas.values():
            lam.close()
    return figures


def warm(
    configs: dict[str, FunctionConfig], total: int, block: int
) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {
        name: {"invoke_us": [], "duration_ms": []} for name in configs
    }
    lambdas = {name: LocalLambda(config) for name, config in configs.items()}
    try:
        for name, lam in lambdas.items():
            lam.open()
            for _ in range(100):  # warm-up, not recorded
                _check(name, lam.invoke(EVENT))
        while any(len(f["invoke_us"]) < total for f in figures.values()):
            for name, lam in lambdas.items():
                values = figures[name]
                for _ in range(min(block, total - len(values["invoke_us"]))):
                    started = time.perf_counter()
                    result = lam.invoke(EVENT)
                    values["invoke_us"].append((time.perf_counter() - started) * 1e6)
                    assert result.report is not None
                    values["duration_ms"].append(result.report.duration_ms)
    finally:
        for lam in lambdas.values():
            lam.close()
    return figures


def plot(
    cold_f: dict[str, dict[str, list[float]]], warm_f: dict[str, dict[str, list[float]]], path: Path
) -> None:
    plt = charts.pyplot()
    names = list(cold_f)
    fig, axes = plt.subplots(1, 3, figsize=(14, 5))
    panels = [
        (cold_f, "init_ms", "ms", "Init Duration"),
        (cold_f, "round_trip_ms", "ms", "Cold round trip (invoker's wait)"),
        (warm_f, "invoke_us", "µs", "Warm invoke (invoker's wall time)"),
    ]
    for axis, (data, key, unit, title) in zip(axes, panels, strict=True):
        charts.boxes_with_ratios(axis, {n: data[n][key] for n in names}, baseline=names[0])
        axis.set_ylabel(unit)
        axis.set_title(title)
    cold_n = len(cold_f[names[0]]["init_ms"]) if names else 0
    warm_n = len(warm_f[names[0]]["invoke_us"]) if names and warm_f else 0
    charts.suptitle(
        fig,
        "Extension overhead: trivial handler with and without a Python extension",
        runtime="lambdaboot's bootstrap in the local Lambda",
        n=f"{cold_n} cold starts, {warm_n} warm invocations per configuration; ratio to {names[0]}",
    )
    charts.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warm", type=int, default=2000, help="warm invocations per environment")
    parser.add_argument(
        "--block", type=int, default=200, help="invocations per environment before switching"
    )
    parser.add_argument("--cold", type=int, default=20, help="cold starts per environment")
    parser.add_argument(
        "--python", default="3.11", help="Python version the runtime and extension run on"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "extension_overhead")
    args = parser.parse_args(argv)

    compile_repo_sources(args.python)
    sink = _Sink()
    with tempfile.TemporaryDirectory() as tmp:
        configs = _configs(Path(tmp), args.python, sink)
        cold_f = cold(configs, args.cold) if args.cold else {}
        warm_f = warm(configs, args.warm, args.block) if args.warm else {}
    sink.server.shutdown()

    def summaries(
        figures: dict[str, dict[str, list[float]]],
    ) -> dict[str, dict[str, dict[str, float]]]:
        return {
            name: {key: summarize(values) for key, values in f.items()}
            for name, f in figures.items()
        }

    cold_s, warm_s = summaries(cold_f), summaries(warm_f)
    added: dict[str, float] = {}
    if cold_s:
        for key in ("init_ms", "round_trip_ms", "shutdown_ms"):
            added[f"cold {key}"] = round(
                cold_s["with telemetry-shipper"][key]["median"]
                - cold_s["without extension"][key]["median"],
                3,
            )
    if warm_s:
        for key in ("invoke_us", "duration_ms"):
            added[f"warm {key}"] = round(
                warm_s["with telemetry-shipper"][key]["median"]
                - warm_s["without extension"][key]["median"],
                3,
            )
    result = {
        "command": "python -m benchmarks.extension_overhead "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": args.python, "platform": platform.platform(), "cpus": _cpus()},
        "units": {
            "init_ms": "ms",
            "round_trip_ms": "ms",
            "shutdown_ms": "ms",
            "invoke_us": "µs",
            "duration_ms": "ms",
        },
        "cold": cold_s,
        "warm": warm_s,
        "added_by_extension_median": added,
        "records_shipped": sink.records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )
    if cold_f and warm_f:
        plot(cold_f, warm_f, args.out.with_suffix(".png"))
    print(
        json.dumps({"added_by_extension_median": added, "records_shipped": sink.records}, indent=2)
    )
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    raise SystemExit(main())
