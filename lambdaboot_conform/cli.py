"""``lambdaboot conform``: check a runtime command against the Lambda Runtime API contract.

With no ``--runtime-cmd``, lambdaboot's own ``bootstrap`` is checked; with ``--runtime`` and
``--layer``, what that Lambda runtime starts with those layers (e.g. a built layer). In the command,
``{handler}`` stands for the handler of each check (for runtimes that take it as an
argument, e.g. ``python -m awslambdaric {handler}``). Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from local_lambda.cli import UsageError, add_layer_arguments, add_runtime_arguments, runtime_and_env

from . import kit
from .checks import CHECKS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conform = subparsers.add_parser(
        "conform",
        help="check a runtime against the Lambda Runtime API contract",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_runtime_arguments(conform, "lambdaboot's bootstrap")
    add_layer_arguments(conform)
    conform.add_argument(
        "--check", action="append", metavar="NAME", help="run only this check (repeatable)"
    )
    conform.add_argument("--list", action="store_true", help="list the checks and exit")
    conform.add_argument("--json", metavar="PATH", help="write the verdicts as JSON (- for stdout)")
    conform.set_defaults(func=run_conform)


def run_conform(args: argparse.Namespace) -> int:
    from rich.console import Console

    if args.list:
        for spec in CHECKS:
            print(f"{spec.name:20} {spec.section:16} {spec.summary}")
        return 0
    try:
        command, env = runtime_and_env(args)
        kit.select(args.check)
    except (UsageError, ValueError) as exc:
        print(f"lambdaboot conform: {exc}", file=sys.stderr)
        return 2
    out = Console(stderr=args.json == "-", highlight=False)
    marks = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "skip": "[yellow]SKIP[/]"}

    def show(verdict: kit.Verdict) -> None:
        out.print(
            f"{marks[verdict.status]} {verdict.check:20} {verdict.section:16} {verdict.reason}"
        )

    out.print(f"Checking {shlex.join(command)} against {kit.SPEC}")
    options = {"layers": [p.resolve() for p in args.layer], "runtime": args.runtime}
    verdicts = kit.run(command, env, args.check, options, on_verdict=show)
    result = kit.document(command, verdicts)
    out.print(f"{result['passed']} passed, {result['failed']} failed, {result['skipped']} skipped")
    if args.json:
        text = json.dumps(result, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text)
    return 1 if result["failed"] else 0
