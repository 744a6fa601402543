"""``lambdaboot event SOURCE [options]``, and the same words for ``invoke --event-source``.

One argparse subparser per source, made from the options the source declares, so the
printed command and ``--event-source 's3 --bucket b'`` accept exactly the same flags.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any, NoReturn

from . import SOURCES, default_of, options_of, sample_event
from .source import EventSource, Option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    event = subparsers.add_parser(
        "event",
        help="print a sample event for a trigger (API Gateway, SQS, S3, ...)",
        description="Print a sample event shaped as AWS sends it; see each SOURCE's --help.",
    )
    add_sources(event)
    event.set_defaults(func=run_event)


def add_sources(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(
        dest="trigger", metavar="SOURCE", required=True, help="the service the event comes from"
    )
    for source in SOURCES.values():
        add_source(sources, source)


def add_source(sources: argparse._SubParsersAction[Any], source: EventSource) -> None:
    sub = sources.add_parser(source.name, help=source.summary, description=source.summary)
    for option in options_of(source):
        add_option(sub, option)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({exc})") from exc


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    shown = "" if option.default is None else f" (default {json.dumps(option.default)})"
    help_text = option.help + shown
    if option.kind == "flag":
        parser.add_argument(option.flag, action="store_true", help=option.help)
    elif option.kind in ("pairs", "list"):
        kind = _pair if option.kind == "pairs" else str
        parser.add_argument(option.flag, action="append", type=kind, help=option.help)
    else:
        kind = _json if option.kind == "json" else option.kind
        parser.add_argument(option.flag, type=kind, help=help_text)


def values_of(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (the rest keep their defaults)."""
    given = {}
    for option in options_of(SOURCES[args.trigger]):
        value = getattr(args, option.dest)
        if value is not None and value != default_of(option):
            given[option.dest] = value
    return given


def run_event(args: argparse.Namespace) -> int:
    try:
        event = sample_event(args.trigger, **values_of(args))
    except ValueError as exc:
        print(f"lambdaboot event {args.trigger}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(event, indent=2))
    return 0


class _Parser(argparse.ArgumentParser):
    """Reports bad ``--event-source`` words as a ValueError, not by exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def event_from_words(text: str) -> bytes:
    """``--event-source`` text (``SOURCE [options]``, as after ``lambdaboot event``) as the
    event's JSON bytes; a ValueError in one line when the words are wrong."""
    parser = _Parser(prog="--event-source", add_help=False)
    sources = parser.add_subparsers(dest="trigger", metavar="SOURCE", required=True)
    for source in SOURCES.values():
        sub = sources.add_parser(source.name, add_help=False)
        for option in options_of(source):
            add_option(sub, option)
    try:
        words = shlex.split(text)
    except ValueError as exc:  # "No closing quotation"
        raise ValueError(f"--event-source {text!r}: {exc}; check its quotes") from None
    if not words or words[0] not in SOURCES:
        first = words[0] if words else ""
        raise ValueError(f"unknown event source {first!r}: use one of {', '.join(SOURCES)}")
    try:
        args = parser.parse_args(words)
    except ValueError as exc:  # argparse's own words, e.g. "unrecognized arguments: --x"
        raise ValueError(f"--event-source {text!r}: {exc}") from None
    return json.dumps(sample_event(args.trigger, **values_of(args))).encode()
