"""Each warm-path trick against the plain code it replaces, side by side in one process.

The rule for a trick on the warm path (issue 15): keep it only if it saves at least 2 %
of the time an invocation is held; otherwise keep the plain code. The whole-runtime
suite (``warm_path``) cannot resolve a few percent on a shared machine (two copies of
the same tree differ by up to 25 % block to block there), so this one runs the blocking
engine's own loop (``RuntimeClient.next``/``post_then_next``, ``Serving``,
``dispatch.call_sync``, an echo handler) in this process, once per configuration, each
against its own Go ``net/http`` stub (``benchmarks/warm/stub.go``), and alternates
configurations every block of invocations. Configurations: every trick on (as shipped),
all off (the plain code), and each one off alone; the figure for a trick is what turning
it off costs, as the median over rounds of the per-round ratio.

Measured per invocation: the round trip (the event leaving the stub to the next one
leaving it, as the loop sees it: the time held plus the stub's own answer) and this
process's CPU. Stub on cpu 0, loop on cpu 1.

    python -m benchmarks.warm_tricks [--rounds 30] [--block 1000] [--event 15B,1KB]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.environments import REPO
from benchmarks.event_sizes import event_for
from benchmarks.warm import build
from benchmarks.warm.harness import SERVER_CPU, lambda_env

RESULTS = REPO / "benchmarks" / "results"
EVENTS = {"15B": b'{"key":"value"}', "1KB": event_for("1KB")}
# Dropped after measuring: "accepted-202" (Lambda's 202 recognised from its exact bytes
# before httptools) cost -1.7 % pipelined and -3.1 % one at a time when turned off in the
# 02 Dec 2026 make bench run (results/warm_tricks.json), under the 2 % rule.
TRICKS = ("response-template", "guard-shortcut", "header-names")
KEEP_IF_SAVES = 0.02


def _plain_protocol(host: str) -> Any:
    """``RuntimeProtocol`` with every ``/response`` built by ``Request`` itself."""
    from runtime_core.protocol import H_INVOCATION_ID, RUNTIME, Request, RuntimeProtocol

    class PlainProtocol(RuntimeProtocol):
        __slots__ = ()

        def response(self, invocation: Any, body: bytes, content_type: str | None) -> Request:
            headers = [("Content-Type", content_type or "application/json")]
            if invocation.invocation_id is not None:
                headers.append((H_INVOCATION_ID, invocation.invocation_id))
            path = f"{RUNTIME}/invocation/{invocation.request_id}/response"
            return Request(self.host, "POST", path, headers, body)

    return PlainProtocol(host)


class Loop:
    """One configuration: a stub, a client connected to it, and the tricks it goes without."""

    def __init__(self, name: str, off: set[str], event_file: Path, pipeline: bool) -> None:
        from runtime_core.engine.client import RuntimeClient

        self.name, self.off = name, off
        self._stub = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, str(build.go_stub()), str(event_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._stub.stdout is not None and self._stub.stdin is not None
        address = f"127.0.0.1:{self._stub.stdout.readline().split()[1]}"
        self._stub.stdin.write("RUN 1000000000\n")  # never hold a GET: the loop sets the pace
        self._stub.stdin.flush()
        self.client = RuntimeClient(address)
        self.client.pipeline({"LAMBDABOOT_PIPELINE": "1" if pipeline else "0"})
        if "response-template" in off:
            self.client.protocol = _plain_protocol(address)
        self.invocation = self.client.next()

    def run(self, count: int) -> tuple[float, float]:
        """Serve ``count`` invocations; µs of wall time and of CPU per invocation."""
        from runtime_core import protocol, serialize
        from runtime_core.dispatch import Serving, call_sync

        guard, names = serialize._may_hold_big_int, protocol._HEADER_NAMES
        if "guard-shortcut" in self.off:
            serialize._may_hold_big_int = serialize._scan_for_big_int
        if "header-names" in self.off:  # an empty table: every name decoded and lower-cased
            protocol._HEADER_NAMES = {}
        try:
            post_then_next = self.client.post_then_next
            after = serialize.after_response
            invocation = self.invocation
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                with Serving(invocation, True):  # alone, as the blocking engine serves
                    outcome = call_sync(_echo, invocation)
                invocation = post_then_next(invocation, outcome, after)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            self.invocation = invocation
        finally:
            serialize._may_hold_big_int, protocol._HEADER_NAMES = guard, names
        return wall / count * 1e6, cpu / count * 1e6

    def close(self) -> None:
        self.client.close()
        self._stub.kill()
        self._stub.wait()


def _echo(event: Any, context: Any) -> Any:
    return event


@contextmanager
def pinned(cpu: int) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def configurations() -> dict[str, set[str]]:
    """As shipped, each trick off alone, and all off."""
    configs: dict[str, set[str]] = {"shipped": set()}
    configs.update({f"without {trick}": {trick} for trick in TRICKS})
    configs["plain (all off)"] = set(TRICKS)
    return configs


def measure(
    event: bytes, rounds: int, block: int, pipeline: bool
) -> dict[str, dict[str, list[float]]]:
    """Per configuration, per round: wall and CPU µs per invocation."""
    os.environ.update(lambda_env(Path(tempfile.gettempdir()), "app.handler", "127.0.0.1:1"))
    from runtime_core import serialize

    serialize.preload()  # a warm environment: orjson has long paid for its import
    recorded: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        event_file = Path(tmp) / "event.json"
        event_file.write_bytes(event)
        loops = [Loop(name, off, event_file, pipeline) for name, off in configurations().items()]
        try:
            with pinned(1):
                for loop in loops:
                    loop.run(block)  # warm-up
                for round_ in range(rounds):
                    shift = round_ % len(loops)
                    for loop in loops[shift:] + loops[:shift]:
                        wall, cpu = loop.run(block)
                        entry = recorded.setdefault(loop.name, {"wall_us": [], "cpu_us": []})
                        entry["wall_us"].append(wall)
                        entry["cpu_us"].append(cpu)
        finally:
            for loop in loops:
                loop.close()
    return recorded


def ratios(recorded: dict[str, dict[str, list[float]]], base: str) -> dict[str, dict[str, float]]:
    """Each configuration over ``base``, round by round, then the median."""
    return {
        name: {
            metric: round(
                statistics.median(
                    x / y for x, y in zip(values, recorded[base][metric], strict=True)
                ),
                4,
            )
            for metric, values in metrics.items()
        }
        for name, metrics in recorded.items()
    }


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per trick: what turning it off costs, per measurement and per mode (the median over
    the events), and whether it is kept: when it saves ``KEEP_IF_SAVES`` in at least one
    mode, since each mode is a supported setting (``LAMBDABOOT_PIPELINE``) and a trick can
    only matter where it is on the held path (a pipelined ``202`` is read after the next
    ``GET /next`` has left)."""
    out: dict[str, dict[str, Any]] = {}
    measurements = result["measurements"]
    for trick in TRICKS:
        config = f"without {trick}"
        wall = {k: e["ratio_vs_shipped"][config]["wall_us"] - 1 for k, e in measurements.items()}
        cpu = {k: e["ratio_vs_shipped"][config]["cpu_us"] - 1 for k, e in measurements.items()}
        modes = {
            mode: round(statistics.median(c for k, c in wall.items() if k.endswith(mode)), 4)
            for mode in ("pipelined", "one request at a time")
        }
        out[trick] = {
            "wall_cost_when_off": {key: round(cost, 4) for key, cost in wall.items()},
            "cpu_cost_when_off": {key: round(cost, 4) for key, cost in cpu.items()},
            "wall_cost_by_mode": modes,
            "kept": max(modes.values()) >= KEEP_IF_SAVES,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--block", type=int, default=1000, help="invocations per block")
    parser.add_argument(
        "--event",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        default=list(EVENTS),
        help="comma-separated: " + ", ".join(EVENTS),
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "warm_tricks.json")
    args = parser.parse_args(argv)
    unknown = [name for name in args.event if name not in EVENTS]
    if unknown:
        parser.error(f"unknown event {unknown[0]!r}: choose from {', '.join(EVENTS)}")
    argv = list(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(REPO))
    measurements: dict[str, Any] = {}
    for name in args.event:
        for pipeline in (True, False):
            key = f"{name} event, {'pipelined' if pipeline else 'one request at a time'}"
            recorded = measure(EVENTS[name], args.rounds, args.block, pipeline)
            measurements[key] = {
                "median_us": {
                    config: {m: round(statistics.median(v), 2) for m, v in metrics.items()}
                    for config, metrics in recorded.items()
                },
                "ratio_vs_shipped": ratios(recorded, "shipped"),
                "per_round": recorded,
            }
            print(f"  {key}: done", file=sys.stderr, flush=True)
    result: dict[str, Any] = {
        "command": "python -m benchmarks.warm_tricks " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "runs": {"rounds": args.rounds, "per_block": args.block},
        "rule": (
            f"a trick is kept if turning it off costs >= {KEEP_IF_SAVES:.0%} of the round "
            "trip in at least one mode (median over the events)"
        ),
        "measurements": measurements,
    }
    result["verdicts"] = verdicts(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return 0


def _print(result: dict[str, Any]) -> None:
    for key, entry in result["measurements"].items():
        print(key)
        for config, ratio in entry["ratio_vs_shipped"].items():
            median = entry["median_us"][config]
            print(
                f"  {config:28} wall {median['wall_us']:7.1f} µs  x{ratio['wall_us']:.3f}"
                f"   CPU {median['cpu_us']:7.1f} µs  x{ratio['cpu_us']:.3f}"
            )
    for trick, verdict in result["verdicts"].items():
        kept = "kept" if verdict["kept"] else "NOT kept"
        costs = ", ".join(f"{m} {c:+.1%}" for m, c in verdict["wall_cost_by_mode"].items())
        print(f"{trick}: {kept}; cost when off: {costs}")


if __name__ == "__main__":
    raise SystemExit(main())
