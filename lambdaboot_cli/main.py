"""``lambdaboot``: assembles the subcommands each tool package registers.

Each package (``local_lambda``, ``layer_build``, ``lambdaboot_bench``, ``lambdaboot_conform``)
exposes ``register(subparsers)``; the command itself knows nothing of what they do. Packages are
imported only when present, so a partial install still gives a working command.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

from lambdaboot_cli import errors

# Packages that contribute subcommands, in the order their help is shown.
_TOOL_PACKAGES = (
    "local_lambda.cli",
    "local_lambda.devloop.events.cli",
    "layer_build.cli",
    "lambdaboot_bench.cli",
    "lambdaboot_conform.cli",
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C so every ``with`` block on the way out cleans up
    (Python's default for SIGTERM ends the process at once, leaving runtimes behind)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class _Parser(argparse.ArgumentParser):
    """A command-line mistake is one line (no usage block), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lambdaboot",
        description="Run, build and measure Python functions on a fast AWS Lambda custom runtime.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _TOOL_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that tool is not installed
            raise
        module.register(subparsers)
    for choice in subparsers._choices_actions:  # `lambdaboot X --help` opens with what X does
        sub = subparsers.choices[choice.dest]
        if not sub.description and choice.help:
            sub.description = choice.help[0].upper() + choice.help[1:] + "."
        _plain_text(sub)
    return parser


def _plain_text(parser: argparse.ArgumentParser) -> None:
    """Help is read in a terminal: a docstring's reST literals (double backquotes) become
    the single backquotes the rest of the help uses, in ``parser`` and its subcommands."""
    if parser.description:
        parser.description = parser.description.replace("``", "`")
    if parser.epilog:
        parser.epilog = parser.epilog.replace("``", "`")
    for action in parser._actions:
        if action.help:
            action.help = action.help.replace("``", "`")
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _plain_text(sub)


def _parser_of(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The parser of the (sub)command the leading ``words`` name, e.g. ``event s3``."""
    for word in words:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[word]
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("lambdaboot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; what a user can cause ends as one line on stderr (see errors)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        parser = build_parser()
        words = sys.argv[1:] if argv is None else argv
        args, extra = parser.parse_known_args(words)
        if extra:  # said by the subcommand's parser, so the line names it and its --help
            _parser_of(parser, words).error(f"unrecognized arguments: {' '.join(extra)}")
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        result: int = args.func(args)
        return result
    except KeyboardInterrupt as exc:  # the with-blocks on the way out ended what ran
        return 143 if isinstance(exc, Terminated) else 130  # 128 + the signal, as a shell says
    except Exception as exc:
        explained = errors.explain(exc)
        if explained is None:
            raise
        message, status = explained
        command = " ".join(["lambdaboot", *(sys.argv[1:2] if argv is None else argv[:1])])
        print(f"{command}: {message}", file=sys.stderr)
        return status
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
