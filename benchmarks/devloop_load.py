"""Load through boto3: invocations per second and p50/p99 latency at 1, 4 and 16 clients.

Two servers, side by side in one run, each the real command in a subprocess:

- ``template``: ``lambdaboot serve --template`` (the router in front, one environment per
  concurrent invocation, up to ``--max-environments 16``);
- ``single``: ``lambdaboot serve FUNCTION_DIR`` (one environment, invocations queue in it):
  the skeptic's baseline, which shows both what the router's extra hop costs (at one
  client) and what scale-out buys (at many).

Two handlers: ``noop`` (returns at once: the platform's and boto3's own cost) and
``wait10`` (sleeps 10 ms: an I/O-bound function, where environments side by side pay
off). Each client is its own process with its own boto3 client (no shared GIL), warmed
up before the clock starts (cold starts are not in the figures), then calls in a closed
loop for ``--seconds``. The machine's core count is recorded beside the figures: on a
small machine the clients and the servers compete for the same cores.

    python -m benchmarks.devloop_load [--seconds 5] [--levels 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import charts

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
APP = """
import time

def noop(event, context):
    return {"ok": True}

def wait10(event, context):
    time.sleep(0.01)
    return {"ok": True}
"""
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Noop:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn/, Handler: app.noop, Runtime: python3.11}
  Wait10:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn/, Handler: app.wait10, Runtime: python3.11}
"""
WARMUP_CALLS = 3


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


def _caller(job: tuple[str, str, float, Any]) -> dict[str, Any]:
    """One client process: warm up, wait for every other one, call for ``seconds``."""
    endpoint, function, seconds, barrier = job
    client = _client(endpoint)
    for _ in range(WARMUP_CALLS):  # cold starts happen here, out of the figures
        client.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
    latencies: list[float] = []
    errors = 0
    environments: set[str] = set()
    barrier.wait()
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        try:
            response = client.invoke(FunctionName=function, Payload=b"{}")
            response["Payload"].read()
        except Exception:  # a throttle or a failure: counted, not timed
            errors += 1
            continue
        latencies.append(time.perf_counter() - began)
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        environments.add(headers.get("x-lambdaboot-environment", "single"))
        if "x-amz-function-error" in headers:
            errors += 1
    return {"latencies": latencies, "errors": errors, "environments": sorted(environments)}


def _serve(command: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdaboot_cli", *command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Invoke API: "):
            url = line.split()[2]
            return process, url.split("/2015-03-31")[0]
    raise RuntimeError(f"{command} did not start")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def measure(endpoint: str, function: str, clients: int, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(clients) as pool:
        jobs = [(endpoint, function, seconds, manager.Barrier(clients))] * clients
        results = pool.map(_caller, jobs)
    latencies = sorted(x for r in results for x in r["latencies"])
    used = {e for r in results for e in r["environments"]}
    point: dict[str, Any] = {
        "clients": clients,
        "completed": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "invocations_per_s": round(len(latencies) / seconds, 1),
        "environments_used": len(used),
    }
    if latencies:
        point["p50_ms"] = round(statistics.median(latencies) * 1000, 2)
        point["p99_ms"] = round(
            latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000, 2
        )
    return point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    project = Path(tempfile.mkdtemp(prefix="bench-devloop-"))
    (project / "fn").mkdir()
    (project / "fn" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(TEMPLATE)
    points = []
    for handler, logical_id in (("noop", "Noop"), ("wait10", "Wait10")):
        servers = {
            "template": [
                "serve",
                "--template",
                "template.yaml",
                "--max-environments",
                str(max(args.levels)),
            ],
            "single": ["serve", "fn", "--handler", f"app.{handler}", "--name", logical_id],
        }
        for n in args.levels:
            for server, command in servers.items():  # side by side at each level
                process, endpoint = _serve(command, project)
                try:
                    point = {
                        "server": server,
                        "handler": handler,
                        **measure(endpoint, logical_id, n, args.seconds),
                    }
                finally:
                    _stop(process)
                print(json.dumps(point), flush=True)
                points.append(point)
    out = {
        "command": "python -m benchmarks.devloop_load " + " ".join(sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "load_average_at_start": os.getloadavg()[0],
        },
        "seconds_per_point": args.seconds,
        "note": "clients and servers share the machine's cores; "
        "latency is boto3's invoke round trip",
        "points": points,
        "ratios": _ratios(points),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "devloop_load.json").write_text(json.dumps(out, indent=2) + "\n")
    _plot(out, RESULTS / "devloop_load.png")


def _ratios(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """template / single throughput at each handler and level (above 1: scale-out wins)."""
    found = []
    for point in points:
        if point["server"] != "template":
            continue
        other = next(
            (
                p
                for p in points
                if p["server"] == "single"
                and (p["handler"], p["clients"]) == (point["handler"], point["clients"])
            ),
            None,
        )
        if other and other["invocations_per_s"]:
            found.append(
                {
                    "handler": point["handler"],
                    "clients": point["clients"],
                    "throughput_template_over_single": round(
                        point["invocations_per_s"] / other["invocations_per_s"], 2
                    ),
                }
            )
    return found


SERVERS = {
    "template": "serve --template (an environment per invoke)",
    "single": "serve DIR (one environment)",
}
HANDLERS = {"noop": "returns at once", "wait10": "waits 10 ms"}


def _plot(out: dict[str, Any], path: Path) -> None:
    """Throughput by number of clients, one panel per handler; each template point is
    labelled with its ratio to the single environment's at the same load."""
    plt = charts.pyplot()
    points = out["points"]
    ratios = {
        (r["handler"], r["clients"]): r["throughput_template_over_single"] for r in out["ratios"]
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for (handler, what), ax in zip(HANDLERS.items(), axes, strict=True):
        for server, style in (("template", "o-"), ("single", "s--")):
            mine = [p for p in points if (p["handler"], p["server"]) == (handler, server)]
            ax.plot(
                [p["clients"] for p in mine],
                [p["invocations_per_s"] for p in mine],
                style,
                label=SERVERS[server],
            )
            if server == "template":
                for p in mine:
                    ratio = ratios.get((handler, p["clients"]), 0.0)
                    charts.label_ratio(ax, p["clients"], p["invocations_per_s"], ratio)
        ax.set(
            xlabel="concurrent boto3 client processes",
            ylabel="invocations / s",
            title=f"handler that {what} (labels: --template / one environment)",
        )
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    machine = out["machine"]
    charts.suptitle(
        fig,
        "The dev loop under load through boto3: lambdaboot serve --template against serve DIR",
        runtime=f"lambdaboot's bootstrap, Python {machine['python']}; {machine['cores']} cores "
        f"shared by clients and servers (load {machine['load_average_at_start']:.1f} at the start)",
        n=f"{out['seconds_per_point']:g} s closed loop per point, warm environments",
    )
    charts.save(fig, path)


if __name__ == "__main__":
    main()
