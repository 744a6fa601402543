"""Where a warm invocation's CPU goes inside the runtime: each step of the blocking engine's
path timed alone, and the whole loop with the sockets taken out.

``warm_path`` measures the runtime as a whole (held time and CPU behind a stub); the kernel's
share of it (two ``recv_into``, one ``sendall``, the loopback TCP between them) is the same
for any design, so what a change to the Python code saves is easier to see here: each step
is timed with ``timeit`` (best of ``--repeat`` runs of ``--number`` calls, on cpu 1), and
``socketless loop`` is the engine's own ``serve`` loop over a connection whose socket hands
over the stub's exact bytes from memory (so it is the Python work of one invocation, with
the cache misses of the whole loop that a step timed alone does not see).

``--against TREE`` times another tree's ``runtime_core`` too (a checkout's folder, or
``git:REV``, e.g. ``git:HEAD~1`` for the tree before a change), each tree in its own process, the
processes alternating ``--runs`` times; a step's figure is its best over the runs.

    python -m benchmarks.warm_steps [--against TREE] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks.environments import REPO
from benchmarks.trees import TreeError, export_tree
from benchmarks.warm.harness import lambda_env

RESULTS = REPO / "benchmarks" / "results"
#: What the Go stub (``warm/stub.go``) sends: the ``/next`` answer with a 15-byte event,
#: and Lambda's ``202`` for a post.
NEXT = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nContent-Type: application/json\r\n"
    b"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-000000000001\r\n"
    b"Lambda-Runtime-Deadline-Ms: 4102444800000\r\n"
    b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n"
    b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;"
    b"Parent=9a9197af755a6419;Sampled=1\r\n"
    b'Date: Wed, 02 Dec 2026 05:00:00 GMT\r\n\r\n{"key":"value"}'
)
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b"Date: Wed, 02 Dec 2026 05:00:00 GMT\r\nContent-Length: 16\r\n\r\n"
    b'{"status":"OK"}\n'
)


def _echo(event: Any, context: Any) -> Any:
    return event


class _Stop(BaseException):
    """Ends the engine's endless loop after a block (not an ``Exception``: the loop would
    report one as the runtime's own failure and go on)."""


class _MemorySocket:
    """A connected socket that answers from memory: the ``202`` and the next invocation for
    each post (with ``GET /next`` behind it), an invocation for a ``GET`` alone."""

    def __init__(self) -> None:
        self._queue: list[bytes] = []
        self._idle = os.pipe()[0]  # never readable: the idle check finds nothing waiting

    def sendall(self, data: bytes) -> None:
        self._queue += [ACCEPTED, NEXT] if data.startswith(b"POST") else [NEXT]

    def recv_into(self, view: memoryview) -> int:
        data = self._queue.pop(0)
        view[: len(data)] = data
        return len(data)

    def fileno(self) -> int:
        return self._idle

    def close(self) -> None:
        pass


def steps() -> dict[str, Any]:
    """Each step of one invocation as a callable, from the ``runtime_core`` on ``sys.path``."""
    from runtime_core import serialize
    from runtime_core.context import LambdaContext
    from runtime_core.dispatch import Serving, call_sync
    from runtime_core.engine import blocking
    from runtime_core.engine.client import RuntimeClient
    from runtime_core.protocol import ResponseReader, RuntimeProtocol, parse_invocation
    from runtime_core.transport.blocking import BlockingTransport

    serialize.preload()  # a warm environment: orjson has long paid for its import
    reader = ResponseReader()

    def read(data: bytes) -> Any:
        reader.feed(data)
        return reader.done.pop(0)

    answer = read(NEXT)
    invocation = parse_invocation(answer)
    outcome = call_sync(_echo, invocation)
    protocol = RuntimeProtocol("127.0.0.1:9001")

    def serving() -> None:
        with Serving(invocation, True):  # alone, as the blocking engine serves
            pass

    transport = BlockingTransport("127.0.0.1:9")
    transport._socket = _MemorySocket()  # type: ignore[assignment]  # no kernel in the loop
    client = RuntimeClient("127.0.0.1:9", transport)
    os.environ["LAMBDABOOT_PIPELINE"] = "1"

    def loop(count: int) -> None:
        left = [count]

        def track(request_id: str | None) -> None:
            left[0] -= 1
            if left[0] < 0:
                raise _Stop

        with contextlib.suppress(_Stop):
            blocking.serve(client, _echo, None, track)

    return {
        "/next answer through the reader (7 headers)": lambda: read(NEXT),
        "202 through the reader (3 headers)": lambda: read(ACCEPTED),
        "parse_invocation": lambda: parse_invocation(answer),
        "Serving (ContextVar, _X_AMZN_TRACE_ID)": serving,
        "call_sync (echo)": lambda: call_sync(_echo, invocation),
        "  LambdaContext": lambda: LambdaContext(invocation),
        "  decode_event": lambda: serialize.decode_event(invocation.body, invocation.content_type),
        "  encode_result": lambda: serialize.encode_result({"key": "value"}),
        "protocol.post (the template)": lambda: protocol.post(invocation, outcome),
        "socketless loop (one invocation)": loop,
    }


def time_tree(number: int, repeat: int) -> dict[str, float]:
    """µs per call of each step, best of ``repeat``, for the ``runtime_core`` imported here."""
    os.environ.update(lambda_env(Path(tempfile.gettempdir()), "app.handler", "127.0.0.1:9"))
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    found = steps()
    loop = found.pop("socketless loop (one invocation)")
    loop(number)  # warm-up
    best = {name: float("inf") for name in [*found, "socketless loop (one invocation)"]}
    for _ in range(repeat):
        for name, step in found.items():
            best[name] = min(best[name], timeit.timeit(step, number=number) / number * 1e6)
        started = time.process_time()
        loop(number)
        per_call = (time.process_time() - started) / number * 1e6
        best["socketless loop (one invocation)"] = min(
            best["socketless loop (one invocation)"], per_call
        )
    return {name: round(value, 3) for name, value in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--against", help="another tree to time too: a checkout's folder, or git:REV"
    )
    parser.add_argument("--runs", type=int, default=5, help="processes per tree, alternating")
    parser.add_argument("--number", type=int, default=20000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=15, help="timings per step and process")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)  # one process's tree
    parser.add_argument("--out", type=Path, default=RESULTS / "warm_steps.json")
    args = parser.parse_args(argv)
    if args.tree is not None:  # the child: time the tree given, print the figures
        sys.path.insert(0, str(args.tree))
        print(json.dumps(time_tree(args.number, args.repeat)))
        return 0
    argv = list(sys.argv[1:] if argv is None else argv)
    trees = {"this tree": REPO}
    if args.against is not None:
        try:
            against = export_tree(args.against)
        except TreeError as error:
            parser.error(f"--against {error}")
        if not (against / "runtime_core").is_dir():
            parser.error(f"--against {args.against}: no runtime_core there")
        trees["--against"] = against
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            child = [sys.executable, "-m", "benchmarks.warm_steps", "--tree", str(tree)]
            child += ["--number", str(args.number), "--repeat", str(args.repeat)]
            done = subprocess.run(child, capture_output=True, text=True, cwd=REPO, check=True)
            runs[name].append(json.loads(done.stdout))
    best = {
        name: {step: min(run[step] for run in found) for step in found[0]}
        for name, found in runs.items()
    }
    result: dict[str, Any] = {
        "command": "python -m benchmarks.warm_steps " + " ".join(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "runs": {"processes_per_tree": args.runs, "number": args.number, "repeat": args.repeat},
        "trees": {"this tree": "the repository", "--against": str(args.against or "")},
        "units": "µs per call, best over every timing of every process",
        "best_us": best,
        "per_process": runs,
    }
    if args.against is not None:
        result["saved_us"] = {
            step: round(best["--against"][step] - best["this tree"][step], 3)
            for step in best["this tree"]
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    for step in best["this tree"]:
        line = f"{step:44} {best['this tree'][step]:7.3f} µs"
        if args.against is not None:
            before, saved = best["--against"][step], result["saved_us"][step]
            line += f"   against {before:7.3f}   saved {saved:+.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
