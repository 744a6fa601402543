"""``lambdaboot bench``: measure a function's cold and warm starts, optionally against a
second configuration.

Function options are the same as ``lambdaboot invoke``'s. ``--vs-*`` options describe
configuration B as changes to A (another runtime command, other layers, another build of
the function); A and B then run interleaved and the table shows B/A pair by pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from local_lambda.cli import (
    UsageError,
    add_function_arguments,
    add_layer_arguments,
    env_pairs,
    function_config,
    lambda_like_default,
    runtime_command,
)
from local_lambda.interrupts import ending_on_signals
from local_lambda.layers import MAX_LAYERS
from local_lambda.model import FunctionConfig

from . import report, runner


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="measure cold starts and warm invocations of a function",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_function_arguments(bench)
    add_layer_arguments(bench)
    bench.add_argument("--event", default="{}", help="the event, as JSON text (default {})")
    bench.add_argument(
        "--cold", type=int, default=10, help="cold starts per configuration (default 10)"
    )
    bench.add_argument(
        "--warm", type=int, default=100, help="warm invocations per configuration (default 100)"
    )
    bench.add_argument("--no-profile", action="store_true", help="skip the import-time profile")
    bench.add_argument(
        "--label",
        help="name of the configuration in the output (default: its runtime, e.g. lambdaboot)",
    )
    vs = bench.add_argument_group("comparison (configuration B = A with these changes)")
    vs.add_argument("--vs-runtime-cmd", help="B's runtime command")
    vs.add_argument("--vs-function-dir", type=Path, help="B's function code (dir or zip)")
    vs.add_argument(
        "--vs-layer", action="append", default=[], type=Path, help="B's layers (replace A's)"
    )
    vs.add_argument("--vs-no-layers", action="store_true", help="B runs without A's layers")
    vs.add_argument(
        "--vs-runtime", help="B's emulated Lambda runtime (see --runtime; 'none': none)"
    )
    vs.add_argument(
        "--vs-env", action="append", default=[], metavar="K=V", help="extra variables for B"
    )
    vs.add_argument(
        "--vs-unset",
        action="append",
        default=[],
        metavar="NAME",
        help="a variable of A's that B lacks",
    )
    vs.add_argument(
        "--vs-label", help="name of configuration B (default: what differs, e.g. awslambdaric)"
    )
    bench.add_argument("--json", metavar="PATH", help="write every figure as JSON (- for stdout)")
    bench.add_argument("--chart", type=Path, metavar="PATH", help="write a PNG chart")
    bench.add_argument("--quiet", action="store_true", help="no progress bar or table")
    bench.set_defaults(func=run_bench)


def _unpacked(path: Path, stack: ExitStack) -> Path:
    """A directory holding ``path``'s content: itself, or a zip extracted to a temporary one."""
    if not path.exists():
        raise UsageError(f"{path} does not exist: give the function's folder or its zip")
    if path.is_dir():
        return path
    if zipfile.is_zipfile(path):
        target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lambdaboot-bench-")))
        with zipfile.ZipFile(path) as archive:
            archive.extractall(target)
        return target
    raise UsageError(f"{path} is neither a directory nor a zip file")


def _with_layers(config: FunctionConfig, layers: list[Path]) -> FunctionConfig:
    if len(layers) > MAX_LAYERS:
        raise UsageError(f"{len(layers)} layers given: a function can use at most {MAX_LAYERS}")
    for layer in layers:
        if not layer.exists():
            raise UsageError(f"--vs-layer {layer}: no such file or directory")
    return dataclasses.replace(config, layers=[layer.resolve() for layer in layers])


def targets(args: argparse.Namespace, stack: ExitStack) -> list[runner.Target]:
    """Configuration A from the function options, and B if any ``--vs-*`` option is given."""
    defaulted = lambda_like_default(args)
    if not (args.layer or args.runtime):  # with those the local Lambda mounts a zip itself
        args.function_dir = _unpacked(args.function_dir, stack)
    a = dataclasses.replace(function_config(args), echo_logs=False)
    label = args.label or (
        "lambdaboot" if defaulted else _name_of(args.runtime_cmd, args.runtime, bool(args.layer))
    )
    found = [runner.Target(label, a)]
    changes = (
        args.vs_runtime_cmd,
        args.vs_runtime,
        args.vs_function_dir,
        args.vs_layer,
        args.vs_env,
    )
    if any(change for change in changes) or args.vs_no_layers or args.vs_unset:
        b = a
        if args.vs_function_dir:
            b = dataclasses.replace(b, task_root=_unpacked(args.vs_function_dir, stack))
        if args.vs_runtime_cmd:
            command = runtime_command(
                args.vs_runtime_cmd,
                args.handler,
                args.vs_runtime or args.runtime,
                "--vs-runtime-cmd",
            )
            b = dataclasses.replace(b, command=command)
            if defaulted and not args.vs_runtime:  # B is that command, on the same /opt
                b = dataclasses.replace(b, runtime=None)
        if args.vs_runtime:
            runtime = None if args.vs_runtime == "none" else args.vs_runtime
            command = b.command if args.vs_runtime_cmd or runtime is None else []
            b = dataclasses.replace(b, runtime=runtime, command=command)
        if args.vs_no_layers or args.vs_layer:
            b = _with_layers(b, args.vs_layer or [])
        env = {k: v for k, v in b.env.items() if k not in args.vs_unset}
        b = dataclasses.replace(b, env={**env, **env_pairs(args.vs_env, "--vs-env")})
        vs_label = args.vs_label or _name_of_change(args)
        if vs_label == label:
            if args.vs_label:
                raise UsageError("--label and --vs-label must differ")
            vs_label += " (B)"
        found.append(runner.Target(vs_label, b))
    return found


def _command_name(command: str) -> str:
    """``python -m awslambdaric app.handler`` -> ``awslambdaric``;
    ``/x/bootstrap`` -> ``bootstrap``."""
    words = command.split()
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    return Path(words[0]).name if words else command


def _name_of(runtime_cmd: str | None, runtime: str | None, layers: bool) -> str:
    """Configuration A's default name: its runtime command, emulated runtime, or lambdaboot."""
    if runtime_cmd:
        return _command_name(runtime_cmd)
    name = runtime or "lambdaboot"
    return f"{name} + layers" if layers and runtime else name


def _name_of_change(args: argparse.Namespace) -> str:
    """Configuration B's default name: what it changes."""
    parts = []
    if args.vs_runtime_cmd:
        parts.append(_command_name(args.vs_runtime_cmd))
    if args.vs_runtime:
        parts.append(args.vs_runtime)
    if args.vs_function_dir:
        parts.append(f"code from {Path(args.vs_function_dir).name}")
    if args.vs_no_layers:
        parts.append("no layers")
    elif args.vs_layer:
        parts.append("other layers")
    if args.vs_unset:
        parts.append("without " + ", ".join(args.vs_unset))
    if args.vs_env:
        parts.append("with " + ", ".join(pair.split("=", 1)[0] for pair in args.vs_env))
    return ", ".join(parts)


def _event(text: str) -> bytes:
    try:
        json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--event is not valid JSON ({exc})") from exc
    return text.encode()


def run_bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    err = Console(stderr=True)
    if args.cold < 1 or args.warm < 0:
        print("lambdaboot bench: --cold must be at least 1 and --warm at least 0", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        try:
            found = targets(args, stack)
            event = _event(args.event)
        except (UsageError, ValueError) as exc:
            print(f"lambdaboot bench: {exc}", file=sys.stderr)
            return 2
        stopper = runner.Stopper()
        with ending_on_signals(stopper.stop, stopper.force) as caught:
            try:
                samples = _measure(found, event, args, err, stopper)
            except KeyboardInterrupt:  # a second signal: forced, nothing left running
                return caught.exit_status
            except runner.BenchError as exc:
                print(f"lambdaboot bench: {exc}", file=sys.stderr)
                return 1
        if caught.signum is not None:  # stopped: the environments have ended, no report
            return caught.exit_status
        command = (
            "lambdaboot bench " + shlex.join(sys.argv[2:])
            if sys.argv[1:2] == ["bench"]
            else "lambdaboot bench"
        )
        result = report.document(found, samples, command, args.cold, args.warm)
    _write(result, args)
    return 0


def _measure(
    found: list[runner.Target],
    event: bytes,
    args: argparse.Namespace,
    err: Any,
    stopper: runner.Stopper,
) -> dict[str, runner.Samples]:
    from rich.progress import Progress

    total = runner.steps(found, args.cold, args.warm, not args.no_profile)
    with Progress(console=err, disable=args.quiet, transient=True) as progress:
        task = progress.add_task("measuring", total=total)
        return runner.run(
            found,
            event,
            args.cold,
            args.warm,
            profile=not args.no_profile,
            on_step=lambda label: progress.update(
                task, advance=1, description=f"measuring {label}"
            ),
            stopper=stopper,
        )


def _write(result: dict[str, Any], args: argparse.Namespace) -> None:
    from rich.console import Console

    text = json.dumps(result, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    if args.chart:
        report.chart(result, args.chart)
    if not args.quiet:
        out = Console(stderr=args.json == "-")
        out.print(report.table(result))
        if any(c["import_profile_ms"] for c in result["configs"].values()):
            out.print(report.profile_table(result))
