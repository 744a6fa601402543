"""Cold start of a realistic function, lambdaboot against awslambdaric: boto3 and Powertools.

The function creates a boto3 client and a Powertools ``Logger`` at import, as most
production functions do; its packages (``pip install -t`` + ``compileall
--invalidation-mode unchecked-hash`` for Python 3.12, the skeptic's baseline) sit in its
own directory, so both runtimes import the very same files. The local Lambda starts
lambdaboot as a python3.12 function with its layer is started (the exec wrapper,
``/var/task`` and ``/opt`` read-only), and awslambdaric as the managed runtime starts it
(``python -s -m awslambdaric``, the same interpreter). ``lambdaboot bench`` runs them
interleaved, a fresh environment per cold start, and reports Init Duration, the first
response and the billed cold start (Init + the first invocation until the next
``/next``), pair by pair.

    python -m benchmarks.realistic_cold_start [--cold 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.environments import compile_unchecked_hash, pip_target

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
VERSION = "3.12"
REQUIREMENTS = ["boto3==1.35.99", "aws-lambda-powertools==3.37.0"]
APP = """\
import boto3
from aws_lambda_powertools import Logger

logger = Logger(service="orders")
s3 = boto3.client("s3", region_name="us-east-1")


@logger.inject_lambda_context
def handler(event, context):
    logger.info("handled", extra={"bucket": event.get("bucket")})
    return {"ok": True, "endpoint": s3.meta.endpoint_url}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold", type=int, default=10, help="cold starts per runtime")
    parser.add_argument("--out", type=Path, default=RESULTS / "realistic_cold_start")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        task = pip_target(Path(tmp) / "task", REQUIREMENTS, VERSION)
        compile_unchecked_hash(task, VERSION)
        (task / "app.py").write_text(APP)
        command = [
            str(Path(sys.executable).with_name("lambdaboot")),
            "bench",
            str(task),
            "--cold",
            str(args.cold),
            "--warm",
            "20",
            "--no-profile",
            "--event",
            '{"bucket": "b"}',
            "--label",
            "lambdaboot",
            "--vs-label",
            "awslambdaric",
            "--vs-runtime-cmd",
            "{python} -s -m awslambdaric app.handler",
            "--json",
            str(args.out.with_suffix(".json")),
            "--chart",
            str(args.out.with_suffix(".png")),
        ]
        done = subprocess.run(command, cwd=REPO)
    if done.returncode == 0:
        _record_command(args.out.with_suffix(".json"), argv)
    return done.returncode


def _record_command(path: Path, argv: list[str]) -> None:
    """The JSON's command is this suite's (its bench command names a temporary folder)."""
    import json

    result = json.loads(path.read_text())
    result["bench_command"] = result.get("command")
    result["command"] = " ".join(["python -m benchmarks.realistic_cold_start", *argv])
    result["function"] = {"requirements": REQUIREMENTS, "app.py": APP}
    path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
