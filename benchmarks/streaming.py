"""Response streaming through the local Lambda: time to first byte and MB/s.

The real ``bootstrap`` streams from an async generator; the caller is boto3's
``invoke_with_response_stream`` against the local Lambda's invoke API, so every hop a
user's bytes take is in the figure (runtime -> Runtime API -> event-stream framing ->
botocore's parser). Warm environment; the first invocation of each kind is discarded.

- TTFB: the handler yields 16 bytes, then 1 MB more in 64 KB chunks; from the call to the
  first ``PayloadChunk``. Compared with a buffered ``invoke`` of the same 1 MB (whose first
  byte is its last).
- Throughput: 128 MB in 256 KB chunks, from the first byte to ``InvokeComplete``.

    python -m benchmarks.streaming [--ttfb 30] [--mb 128] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from benchmarks.contenders import lambdaboot
from benchmarks.environments import REPO, compile_repo_sources
from benchmarks.stats import summarize
from local_lambda import FunctionConfig, LocalLambda

RESULTS = REPO / "benchmarks" / "results"
APP = """
async def stream(event, context):
    yield b"x" * 16
    block = b"x" * event["block"]
    for _ in range(event["blocks"]):
        yield block

def buffered(event, context):
    return b"x" * (16 + event["block"] * event["blocks"])
"""


def _client(lam: LocalLambda) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=lam.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _stream_once(client: Any, event: dict[str, int]) -> tuple[float, float, int]:
    """(seconds to first chunk, seconds first chunk -> complete, bytes)."""
    started = time.perf_counter()
    response = client.invoke_with_response_stream(
        FunctionName="test-function", Payload=json.dumps(event).encode()
    )
    first = 0.0
    size = 0
    for item in response["EventStream"]:
        chunk = item.get("PayloadChunk")
        if chunk is not None:
            if not first:
                first = time.perf_counter()
            size += len(chunk["Payload"])
        elif "InvokeComplete" in item and item["InvokeComplete"].get("ErrorCode"):
            raise SystemExit(f"the stream failed: {item}")
    return first - started, time.perf_counter() - first, size


def _buffered_once(client: Any, event: dict[str, int]) -> float:
    started = time.perf_counter()
    response = client.invoke(FunctionName="test-function", Payload=json.dumps(event).encode())
    response["Payload"].read()
    return time.perf_counter() - started


def _lambda(handler: str, task_root: Path) -> LocalLambda:
    contender = lambdaboot()
    return LocalLambda(
        FunctionConfig(
            command=contender.command,
            task_root=task_root,
            handler=f"app.{handler}",
            timeout=120.0,
            memory_mb=1024,
            env=contender.env,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttfb", type=int, default=30, help="samples of time to first byte")
    parser.add_argument("--mb", type=int, default=128, help="MB per throughput run")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs")
    args = parser.parse_args()
    compile_repo_sources()
    task_root = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    (task_root / "app.py").write_text(APP)
    small = {"block": 64 * 1024, "blocks": 16}
    big = {"block": 256 * 1024, "blocks": args.mb * 4}

    with _lambda("stream", task_root) as lam:
        client = _client(lam)
        _stream_once(client, small)
        ttfb = [_stream_once(client, small)[0] * 1000 for _ in range(args.ttfb)]
        _stream_once(client, big)
        rates = []
        for _ in range(args.runs):
            _, seconds, size = _stream_once(client, big)
            rates.append(size / seconds / 1e6)
    with _lambda("buffered", task_root) as lam:
        client = _client(lam)
        _buffered_once(client, small)
        buffered = [_buffered_once(client, small) * 1000 for _ in range(args.ttfb)]

    out = {
        "command": "python -m benchmarks.streaming " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version()},
        "path": "bootstrap -> local Lambda Runtime API -> event stream -> boto3",
        "ttfb_ms_streamed_1mb": summarize(ttfb),
        "first_byte_ms_buffered_1mb": summarize(buffered),
        "throughput_mb_per_s": {
            "runs": [round(rate, 1) for rate in rates],
            "median": round(sorted(rates)[len(rates) // 2], 1),
            "mb_per_run": args.mb,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "streaming.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
