"""``lambdaboot``: assembles the subcommands each tool package registers.

Each package (``local_lambda``, ``layer_build``, ``lambdaboot_bench``, ``lambdaboot_conform``)
exposes ``register(subparsers)``; the command itself knows nothing of what they do. Packages are
imported only when present, so a partial install still gives a working command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Packages that contribute subcommands, in the order their help is shown.
_TOOL_PACKAGES = (
    "local_lambda.cli",
    "local_lambda.events.cli",
    "layer_build.cli",
    "lambdaboot_bench.cli",
    "lambdaboot_conform.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdaboot",
        description="Run, build and measure Python functions on a fast AWS Lambda custom runtime.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _TOOL_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that tool is not installed
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    result: int = args.func(args)
    return result
