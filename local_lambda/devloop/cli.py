"""The development loop's options of ``lambdaboot serve`` and ``invoke``.

``--template`` (a SAM or CloudFormation template), ``--parameter-overrides``,
``--env-file``, ``--watch``, ``--sam-local`` and, for ``serve``, ``--max-environments``.
``local_lambda/cli.py`` adds these options with :func:`add_arguments` and hands over to
:func:`serve` or :func:`invoke_config`/:func:`invoke_watch` when one is used, with the
:class:`template_configs.Options` its own options describe.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..interrupts import ending_on_signals
from ..model import FunctionConfig
from .envfile import EnvFileError, read_env_file
from .function_set import FunctionSet, ServedFunction
from .reloader import RELOAD_ERRORS, changes, serve_plan, shown, watching
from .template import TemplateError
from .template_configs import Options, Plan, plan_template
from .template_functions import load_functions

DEFAULT_MAX_ENVIRONMENTS = 10


class DevloopError(Exception):
    """Bad input to the development loop's options, said in one line."""


# What the caller reports as a usage error (one line, exit status 2).
ERRORS = (DevloopError, TemplateError, EnvFileError)
__all__ = ["ERRORS", "DevloopError", "Options", "add_arguments", "invoke_config", "serve", "wanted"]


def add_arguments(parser: argparse.ArgumentParser, serving: bool) -> None:
    parser.add_argument(
        "--template",
        type=Path,
        metavar="TEMPLATE",
        help="a SAM or CloudFormation template: "
        + (
            "serve all its functions" if serving else "FUNCTION_DIR is then a function's logical id"
        ),
    )
    parser.add_argument(
        "--parameter-overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as sam's: 'Stage=prod Size=2' or"
        " ParameterKey=Stage,ParameterValue=prod (repeatable)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        help="environment variables: SAM's JSON ({LogicalId: {...}, Parameters: {...}}) or dotenv",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="replace the environments when the code, a layer's files or the template change"
        + ("" if serving else " (and invoke again)"),
    )
    parser.add_argument(
        "--sam-local",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="set AWS_SAM_LOCAL=true as sam local does (default: on with --template only)",
    )
    if serving:
        parser.add_argument(
            "--max-environments",
            type=int,
            metavar="N",
            help="environments per function at most (Lambda's reserved concurrency); a"
            f" synchronous invoke past them gets 429 (default {DEFAULT_MAX_ENVIRONMENTS})",
        )


def wanted(args: argparse.Namespace) -> bool:
    """Whether the development loop's options are in use (else the plain command runs)."""
    return bool(
        args.template
        or args.watch
        or args.sam_local
        or getattr(args, "max_environments", None) is not None
    )


def _options(args: argparse.Namespace, base: Options) -> Options:
    limit = getattr(args, "max_environments", None)
    if limit is None:
        limit = DEFAULT_MAX_ENVIRONMENTS
    if limit < 1:
        raise DevloopError(f"--max-environments {limit}: give at least 1")
    if args.template is not None and getattr(args, "snap_start", False):
        raise DevloopError(
            "--snap-start does not apply to a template's functions: set"
            " SnapStart: {ApplyOn: PublishedVersions} on them in the template"
            " (or in Globals.Function)"
        )
    env_file = None
    if args.env_file is not None:
        env_file = read_env_file(args.env_file)
    sam_local = args.sam_local if args.sam_local is not None else bool(args.template)
    return dataclasses.replace(base, env_file=env_file, sam_local=sam_local, max_environments=limit)


# SAM CLI's long form of one override (``sam deploy --parameter-overrides`` prints it).
_SAM_OVERRIDE = re.compile(r"ParameterKey=([^,]+),ParameterValue=(.*)", re.S)


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    """``--parameter-overrides`` as SAM CLI users write them: ``Name=Value`` or
    ``ParameterKey=Name,ParameterValue=Value``, several in one argument separated by
    spaces (quotes keep spaces in a value), and the option repeatable. Without the split,
    ``'Stage=prod Size=2'`` would quietly set Stage to ``prod Size=2``."""
    found = {}
    for item in args.parameter_overrides:
        try:
            words = shlex.split(item)
        except ValueError as exc:  # "No closing quotation"
            raise DevloopError(f"--parameter-overrides {item!r}: {exc}; check its quotes") from None
        for word in words:
            sam = _SAM_OVERRIDE.fullmatch(word)
            name, sep, value = (sam[1], "=", sam[2]) if sam else word.partition("=")
            if not sep or not name:
                raise DevloopError(
                    f"--parameter-overrides {word!r} is not NAME=VALUE"
                    " (or ParameterKey=NAME,ParameterValue=VALUE)"
                )
            found[name] = value
    return found


def load_plan(
    args: argparse.Namespace, base: Options, single: Callable[[], FunctionConfig]
) -> Plan:
    """What to serve: the template's functions, or the one function of FUNCTION_DIR."""
    options = _options(args, base)
    if args.template is not None:
        found = load_functions(args.template, _overrides(args), options.region)
        return plan_template(found, options)
    config = single()
    env = dict(config.env)
    if options.sam_local:
        env.setdefault("AWS_SAM_LOCAL", "true")
    if options.env_file is not None:
        env.update(options.env_file.for_function(config.function_name))
    config = dataclasses.replace(config, env=env, echo_logs=False)
    plan = Plan(
        functions=[ServedFunction(config, (config.function_name,), options.max_environments)]
    )
    plan.sources[config.function_name] = (config.task_root, *config.layers)
    return plan


def _watched_files(args: argparse.Namespace) -> list[Path]:
    return [p.absolute() for p in (args.template, args.env_file) if p is not None]


def serve(args: argparse.Namespace, base: Options, single: Callable[[], FunctionConfig]) -> int:
    """``lambdaboot serve`` with the development loop's options, until Ctrl-C or SIGTERM
    (exit status 128 + the signal's number, as the plain ``serve``)."""

    def say(line: str) -> None:
        print(line, flush=True)

    console = threading.Lock()  # environments log from threads of their own

    def err(text: str) -> None:
        # One write per line, under the lock: print writes the line and its end apart,
        # and two environments' lines were glued together on a busy machine.
        with console:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def warn(line: str) -> None:
        err(f"lambdaboot serve: {line}")

    def log(label: str, line: str) -> None:
        err(f"[{label}] {line}")

    try:
        first = load_plan(args, base, single)
    except (DevloopError, TemplateError, EnvFileError, ValueError) as exc:
        warn(str(exc))
        return 2
    pending = [first]  # read before serving, so that its errors are usage errors

    def load() -> Plan:
        return pending.pop() if pending else load_plan(args, base, single)

    stop = threading.Event()
    functions = FunctionSet(args.host, args.port, on_log=log)

    def end() -> None:  # invocations in flight end now; then every shutdown phase
        functions.interrupt()
        stop.set()

    with ending_on_signals(end, lambda: functions.interrupt(force=True)) as caught:
        try:
            with functions:
                watch = _watched_files(args) if args.watch else None
                serve_plan(load, functions, watch, stop, say, warn)
        except KeyboardInterrupt:  # a second Ctrl-C: everything was killed
            return caught.exit_status
    say("Shut down")
    return caught.exit_status


def invoke_config(
    args: argparse.Namespace, base: Options, single: Callable[[], FunctionConfig]
) -> FunctionConfig:
    """The function ``invoke`` runs: FUNCTION_DIR's, or with --template the one it names
    (the only one when the template has one and none is named)."""
    plan = load_plan(args, base, single)
    if args.template is None:
        config = plan.functions[0].config
    else:
        config = _chosen(args, plan)
        logical_id = next(f.names[0] for f in plan.functions if f.config is config)
        for note in plan.notes:
            names = note.partition(": ")[0].split(", ")
            if logical_id in names or note.startswith("--"):
                print(f"lambdaboot invoke: {note}", file=sys.stderr, flush=True)
    return dataclasses.replace(config, echo_logs=True)


def _chosen(args: argparse.Namespace, plan: Plan) -> FunctionConfig:
    wanted_name = str(args.function_dir) if args.function_dir is not None else None
    every = [name for f in plan.functions for name in f.names[:1]] + list(plan.refusals)
    if wanted_name is None:
        if len(plan.functions) == 1:
            return plan.functions[0].config
        raise DevloopError(f"name the function to invoke: one of {', '.join(every)}")
    for function in plan.functions:
        if wanted_name in function.names:
            return function.config
    if wanted_name in plan.refusals:
        raise DevloopError(f"{wanted_name} cannot run locally: {plan.refusals[wanted_name]}")
    raise DevloopError(f"the template has no function {wanted_name}: use one of {', '.join(every)}")


def invoke_watch(
    args: argparse.Namespace,
    base: Options,
    single: Callable[[], FunctionConfig],
    config: FunctionConfig,
    invoke_once: Callable[[FunctionConfig], int],
) -> int:
    """``invoke --watch``: invoke ``config``, then again in a fresh environment (the
    function read anew) after each change."""
    status = invoke_once(config)

    def paths() -> list[Path]:
        return [*_watched_files(args), config.task_root, *config.layers]

    stop = threading.Event()

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with ending_on_signals(stop.set, stop.set) as caught:
        try:
            for batch in changes(paths, stop, watching(say)):
                try:
                    config = invoke_config(args, base, single)
                except (DevloopError, *RELOAD_ERRORS) as exc:
                    say(f"lambdaboot invoke: reload failed: {exc}")
                    continue
                say(f"Reloaded {config.function_name}: {shown(batch)} changed")
                status = invoke_once(config)
        except KeyboardInterrupt:
            pass
    return caught.exit_status if caught.signum is not None else status
