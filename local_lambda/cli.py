"""``lambdaboot invoke`` and ``lambdaboot serve``: the local Lambda from the command line.

``invoke`` runs one event through a fresh environment and prints the result on stdout and
the log lines on stderr (exit status 1 on a function error). ``serve`` keeps the invoke
API up for boto3/curl until Ctrl-C, which runs the shutdown phase. Without --runtime
both run the function as Lambda would (``default_runtime``); the Python API's
``FunctionConfig`` keeps running it in place unless told otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Submodules, not the package: this must work even where ``local_lambda`` resolves as a namespace.
from local_lambda import assets, default_runtime
from local_lambda.devloop import cli as devloop_cli
from local_lambda.devloop.events.cli import event_from_words
from local_lambda.emulator import LocalLambda
from local_lambda.interrupts import ending_on_signals
from local_lambda.layers import MAX_LAYERS, LayerError, find_python
from local_lambda.log_level import APPLICATION_LEVELS, TEXT_REFUSAL
from local_lambda.model import FunctionConfig
from local_lambda.platform_log import readable

# lambdaboot's own bootstrap, referenced as a file (the local Lambda never imports runtime_core).
DEFAULT_BOOTSTRAP = assets.BOOTSTRAP


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    invoke = subparsers.add_parser("invoke", help="invoke a function once on the local Lambda")
    add_function_arguments(invoke)
    add_layer_arguments(invoke)
    source = invoke.add_mutually_exclusive_group()
    source.add_argument("--event", help="the event, as JSON text")
    source.add_argument("--event-file", type=Path, help="a file holding the event")
    source.add_argument(
        "--event-source",
        metavar="'SOURCE [OPTIONS]'",
        help="a sample event, as `lambdaboot event SOURCE [OPTIONS]` prints it",
    )
    devloop_cli.add_arguments(invoke, serving=False)
    invoke.set_defaults(func=run_invoke)

    serve = subparsers.add_parser("serve", help="serve a function's invoke API until Ctrl-C")
    add_function_arguments(serve)
    add_layer_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=port_number, default=0, help="invoke API port (default 0: any free port)"
    )
    serve.add_argument(
        "--function-url-port",
        type=port_number,
        default=None,
        metavar="PORT",
        help="also serve an HTTP front like a Function URL (0: any free port)",
    )
    devloop_cli.add_arguments(serve, serving=True)
    serve.set_defaults(func=run_serve)


def add_function_arguments(parser: argparse.ArgumentParser) -> None:
    """A function and how it runs (invoke, serve, bench); ``function_config`` reads them.

    Includes ``add_runtime_arguments``'s options."""
    parser.add_argument(
        "function_dir",
        type=Path,
        nargs="?",
        metavar="FUNCTION_DIR",
        help=(
            "the function's code (LAMBDA_TASK_ROOT); "
            "with --template: a function's logical id or name"
        ),
    )
    parser.add_argument(
        "--handler", default="app.handler", help="module.function (default app.handler)"
    )
    add_runtime_arguments(
        parser, "with --in-place: FUNCTION_DIR/bootstrap, else lambdaboot's bootstrap"
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="run the function where it is, writable, under FUNCTION_DIR/bootstrap or"
        " lambdaboot's bootstrap with the interpreter running this command (for runtimes under"
        " development; what --runtime-cmd without --runtime does too), instead of the default"
        f" {default_runtime.RUNTIME} managed runtime with lambdaboot's layer",
    )
    parser.add_argument(
        "--timeout",
        type=ranged(float, 1, 900, "seconds"),
        default=3.0,
        help="function timeout in seconds, 1-900 as on Lambda (default 3)",
    )
    parser.add_argument(
        "--memory",
        type=ranged(int, 128, 10240, "MB"),
        default=128,
        help="memory size in MB, 128-10240 as on Lambda (default 128)",
    )
    parser.add_argument(
        "--log-format", choices=["Text", "JSON"], default="Text", help="Lambda log format"
    )
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="keep the environment running between invocations (Lambda freezes it;"
        " e.g. to attach a debugger)",
    )
    parser.add_argument(
        "--log-level",
        choices=APPLICATION_LEVELS,
        help="application log level (JSON format only, as on Lambda; default INFO there)",
    )
    parser.add_argument(
        "--name", default="test-function", help="function name (default test-function)"
    )
    parser.add_argument(
        "--max-concurrency",
        type=ranged(int, 1, None, "invocations"),
        default=1,
        metavar="N",
        help="Lambda Managed Instances: N invocations in flight in one environment (default 1)",
    )
    parser.add_argument(
        "--snap-start",
        action="store_true",
        help="SnapStart: init and the before-snapshot hooks run once, each cold start is a fork"
        " of that process running the after-restore hooks (no memory snapshot: docs/snapstart.md)",
    )


def add_runtime_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """--runtime-cmd (``default`` says what runs without it) and --env, read by
    ``runtime_and_env``."""
    parser.add_argument(
        "--runtime-cmd",
        help=f"the runtime command (default: {default}); {{python}} in it is the emulated"
        " runtime's interpreter and {handler} the handler, e.g."
        " '{python} -m awslambdaric {handler}'",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="an environment variable for the runtime (repeatable)",
    )


def add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    """--layer and --runtime: the function runs as on Lambda, with layers merged into /opt."""
    parser.add_argument(
        "--layer",
        action="append",
        default=[],
        type=Path,
        metavar="ZIP",
        help=(
            "a layer (zip or directory) merged into /opt, in order; "
            f"repeatable, at most {MAX_LAYERS}"
        ),
    )
    parser.add_argument(
        "--runtime",
        choices=["provided.al2023", "provided.al2", "python3.11", "python3.12", "python3.13"],
        help="emulate this Lambda runtime: provided.* starts the function's or /opt's bootstrap,"
        " python3.X the managed runtime (honouring AWS_LAMBDA_EXEC_WRAPPER); the function"
        " (a directory or a zip) and the layers are mounted read-only at /var/task and /opt."
        f" Default: as Lambda would, {default_runtime.RUNTIME} (the version `lambdaboot build`"
        " targets) with lambdaboot's managed layer (built once and cached) before any --layer,"
        f" and AWS_LAMBDA_EXEC_WRAPPER={default_runtime.WRAPPER}; --in-place (or --runtime-cmd)"
        " runs the function where it is instead",
    )


class UsageError(Exception):
    """Bad command-line input, reported as one line."""


def ranged(
    kind: type[int] | type[float], low: int, high: int | None, unit: str
) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` from ``low`` to ``high`` (Lambda's own range)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        if value < low or (high is not None and value > high):
            span = f"{low}-{high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {span} {unit}")
        return value

    return parse


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1-65535, or 0 for any free port."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: use 1-65535, or 0 for any free port"
        )
    return int(text)


def runtime_command(
    text: str,
    handler: str | None = None,
    runtime: str | None = None,
    option: str = "--runtime-cmd",
) -> list[str]:
    """A ``--runtime-cmd`` as argv. ``{python}`` stands for the emulated runtime's
    interpreter (``--runtime python3.X``'s, else the one running lambdaboot) and
    ``{handler}`` for the handler, so a command works without an activated virtualenv;
    relative paths in it are taken from the current directory, since the runtime itself
    starts in its task root."""
    import shlex

    try:
        command = shlex.split(text)
    except ValueError as exc:  # "No closing quotation"
        raise UsageError(f"{option} {text!r}: {exc}; check its quotes") from None
    python = _python_of(runtime, option) if "{python}" in text else ""
    for index, part in enumerate(command):
        part = part.replace("{python}", python)
        if handler is not None:  # else left for the caller (conform: each check's handler)
            part = part.replace("{handler}", handler)
        if "/" in part and not Path(part).is_absolute() and Path(part).exists():
            part = str(Path(part).absolute())
        command[index] = part
    return command


def _python_of(runtime: str | None, option: str) -> str:
    if runtime is None or not runtime.startswith("python3."):
        return sys.executable
    try:
        return str(find_python(runtime.removeprefix("python")))
    except LayerError as exc:
        raise UsageError(f"{option}: {{python}} for {runtime}: {exc}") from None


def env_pairs(items: list[str], option: str) -> dict[str, str]:
    """``K=V`` command-line items as a dict; a malformed one is a UsageError naming ``option``."""
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} {item!r} is not K=V")
        env[name] = value
    return env


def runtime_and_env(
    args: argparse.Namespace, task_root: Path | None = None
) -> tuple[list[str], dict[str, str]]:
    """The runtime command and the environment it gets, from ``add_runtime_arguments``'s
    options and ``add_layer_arguments``'s --runtime: --runtime-cmd; else, with --runtime,
    none (the emulated runtime starts a bootstrap or python3.X); else ``task_root``'s own
    bootstrap; else lambdaboot's, with the interpreter running this command."""
    runtime: str | None = getattr(args, "runtime", None)
    if args.runtime_cmd:
        command = runtime_command(args.runtime_cmd, getattr(args, "handler", None), runtime)
    elif runtime:
        command = []
    elif task_root is not None and (task_root / "bootstrap").is_file():
        command = [str(task_root / "bootstrap")]
    elif DEFAULT_BOOTSTRAP.is_file():
        command = [str(DEFAULT_BOOTSTRAP)]
    else:
        own = f"{task_root / 'bootstrap'} nor " if task_root is not None else ""
        raise UsageError(f"no runtime: neither {own}{DEFAULT_BOOTSTRAP} exists; pass --runtime-cmd")
    env: dict[str, str] = {}
    if command == [str(DEFAULT_BOOTSTRAP)]:
        env.update(_lambdaboot_python())
    env.update(env_pairs(args.env, "--env"))
    return command, env


def _lambdaboot_python() -> dict[str, str]:
    """lambdaboot's bootstrap takes its interpreter from $LAMBDABOOT_PYTHON: by default the
    one running this command, which has the runtime's dependencies installed."""
    return {"LAMBDABOOT_PYTHON": os.environ.get("LAMBDABOOT_PYTHON", sys.executable)}


def devloop_options(args: argparse.Namespace) -> devloop_cli.Options:
    """What the options of ``add_function_arguments`` say for every function of a template."""
    return devloop_cli.Options(
        default_command=[str(DEFAULT_BOOTSTRAP)],
        default_env=_lambdaboot_python(),
        runtime_cmd=runtime_command(args.runtime_cmd) if args.runtime_cmd else None,
        env=env_pairs(args.env, "--env"),
        log_format=args.log_format,
        managed_layer=None if getattr(args, "in_place", True) else default_runtime.layer,
        managed_wrapper=default_runtime.WRAPPER,
    )


def lambda_like_default(args: argparse.Namespace) -> bool:
    """Fill in the default run, as Lambda would run the function, into ``args``: with no
    --runtime, --runtime-cmd or --in-place, the default version's managed runtime with
    lambdaboot's layer first and its exec wrapper (unless --env sets another). Done in
    ``args`` so that everything reading them later (bench's labels) sees what runs. False
    when it does not apply (or FUNCTION_DIR does not exist: that is said, not built for)."""
    if args.runtime or args.runtime_cmd or getattr(args, "in_place", True):
        return False
    if args.function_dir is None or not args.function_dir.exists():
        return False
    try:
        layer = default_runtime.layer()
    except LayerError as exc:
        raise UsageError(str(exc)) from None
    args.runtime = default_runtime.RUNTIME
    args.layer = [layer, *args.layer]
    if not any(item.startswith("AWS_LAMBDA_EXEC_WRAPPER=") for item in args.env):
        args.env = [f"AWS_LAMBDA_EXEC_WRAPPER={default_runtime.WRAPPER}", *args.env]
    return True


def function_config(args: argparse.Namespace) -> FunctionConfig:
    """The ``FunctionConfig`` that ``add_function_arguments`` and ``add_layer_arguments``'s
    options describe (``lambda_like_default`` filling in what is not given); ``UsageError``
    naming the option when one is wrong."""
    if args.function_dir is None:
        raise UsageError(
            "give FUNCTION_DIR, the folder holding your handler's code (or --template)"
        )
    defaulted = lambda_like_default(args)
    root: Path = args.function_dir.resolve()
    layers: list[Path] = getattr(args, "layer", [])
    runtime: str | None = getattr(args, "runtime", None)
    lambda_like = bool(layers or runtime)
    if not root.is_dir() and not (lambda_like and root.is_file()):
        raise UsageError(
            f"{args.function_dir} is not a directory: give the folder holding your handler's code"
            " (or, with --runtime or --layer, its zip)"
        )
    if len(layers) > MAX_LAYERS and defaulted:  # as on Lambda: lambdaboot's layer counts
        raise UsageError(
            f"lambdaboot's layer (the default run) and {len(layers) - 1} --layer make"
            f" {len(layers)}: a function can use at most {MAX_LAYERS}; give at most"
            f" {MAX_LAYERS - 1}, or use --in-place or --runtime"
        )
    if len(layers) > MAX_LAYERS:
        raise UsageError(f"{len(layers)} layers given: a function can use at most {MAX_LAYERS}")
    for layer in layers:
        if not layer.exists():
            raise UsageError(f"--layer {layer}: no such file or directory")
    command, env = runtime_and_env(args, root)
    log_level = getattr(args, "log_level", None)
    if log_level and args.log_format != "JSON" and args.max_concurrency <= 1:
        raise UsageError(f"--log-level needs --log-format JSON (Lambda answers: {TEXT_REFUSAL})")
    snap_start = bool(getattr(args, "snap_start", False))
    if snap_start and args.max_concurrency > 1:
        raise UsageError("--snap-start cannot be combined with --max-concurrency above 1")
    return FunctionConfig(
        snap_start=snap_start,
        command=command,
        task_root=root,
        handler=args.handler,
        timeout=args.timeout,
        memory_mb=args.memory,
        env=env,
        function_name=args.name,
        log_format=args.log_format,
        log_level=log_level,
        echo_logs=True,
        layers=[layer.resolve() for layer in layers],
        runtime=runtime,
        max_concurrency=args.max_concurrency,
        freeze=getattr(args, "freeze", True),
    )


def _event(args: argparse.Namespace) -> bytes:
    text: str
    if getattr(args, "event_source", None):
        return event_from_words(args.event_source)
    if args.event is not None:
        text = args.event
    elif args.event_file is not None:
        try:
            text = args.event_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"--event-file {args.event_file}: {reason}") from None
    elif not sys.stdin.isatty():
        text = sys.stdin.read() or "{}"  # empty, as an invoke with no payload: Lambda sends {}
    else:
        text = "{}"
    try:
        json.loads(text)
    except ValueError as exc:
        if args.event_file is not None:
            raise UsageError(f"--event-file {args.event_file} is not valid JSON ({exc})") from None
        if args.event is None:
            raise UsageError(
                f"the event read from stdin is not valid JSON ({exc}): pipe in a JSON"
                " document, or nothing at all for {}"
            ) from None
        raise UsageError(
            f'the event is not valid JSON ({exc}); quote it, e.g. --event \'{{"name": "x"}}\''
        ) from exc
    return text.encode()


def run_invoke(args: argparse.Namespace) -> int:
    try:
        event = _event(args)  # first: a bad event is then the only line printed
        if devloop_cli.wanted(args):
            options = devloop_options(args)
            config = devloop_cli.invoke_config(args, options, lambda: function_config(args))
        else:
            config = function_config(args)
        if args.watch:
            return devloop_cli.invoke_watch(
                args,
                options,
                lambda: function_config(args),
                config,
                lambda c: _invoke_once(c, event),
            )
    except (UsageError, ValueError, *devloop_cli.ERRORS) as exc:
        print(f"lambdaboot invoke: {exc}", file=sys.stderr)
        return 2
    return _invoke_once(config, event)


def _invoke_once(config: FunctionConfig, event: bytes) -> int:
    """Invoke ``config``'s function in a fresh environment; print the result and logs."""
    out = sys.stdout.buffer
    line_open = False  # the result printed so far does not end with a newline

    def print_chunk(chunk: bytes) -> None:  # a streamed response shows as it arrives
        nonlocal line_open
        out.write(chunk)
        out.flush()
        line_open = bool(chunk) and not chunk.endswith(b"\n")

    def print_log(line: str) -> None:
        # In a terminal the logs (stderr) would run on from the result's last line: END
        # RequestId glued to the JSON. End that line first; a pipe gets the bytes as sent.
        nonlocal line_open
        if line_open and out.isatty():
            out.write(b"\n")
            out.flush()
            line_open = False
        print(readable(line), file=sys.stderr, flush=True)

    config = dataclasses.replace(config, echo_logs=False, log_listener=print_log)
    lam = LocalLambda(config)
    with ending_on_signals(lam.interrupt, lambda: lam.interrupt(force=True)) as caught:
        try:
            with lam:
                result = lam.invoke(event, on_chunk=print_chunk)
        except LayerError as exc:
            print(f"lambdaboot invoke: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return caught.exit_status
    if caught.signum is not None:
        return caught.exit_status
    if result.payload or line_open:  # an error's body (a result went through print_chunk)
        out.write(result.payload + b"\n")
        out.flush()
    return 1 if result.function_error or result.status_code != 200 else 0


def run_serve(args: argparse.Namespace) -> int:
    if devloop_cli.wanted(args):
        try:
            options = devloop_options(args)
        except UsageError as exc:
            print(f"lambdaboot serve: {exc}", file=sys.stderr)
            return 2
        return devloop_cli.serve(args, options, lambda: function_config(args))
    try:
        config = function_config(args)
    except (UsageError, ValueError) as exc:
        print(f"lambdaboot serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    lam = LocalLambda(config, host=args.host, invoke_port=args.port)

    def end() -> None:  # an invocation in flight ends now; then the shutdown phase below
        lam.interrupt()
        stop.set()

    with ending_on_signals(end, lambda: lam.interrupt(force=True)) as caught:
        try:
            lam.open()
        except LayerError as exc:
            print(f"lambdaboot serve: {exc}", file=sys.stderr)
            return 2
        try:
            print(
                f"Invoke API: {lam.endpoint}"
                f"/2015-03-31/functions/{config.function_name}/invocations",
                flush=True,
            )
            print(f"Runtime API: {lam.runtime_api}", flush=True)
            if args.function_url_port is not None:
                from .function_url import FunctionUrl

                try:
                    url = FunctionUrl(lam, host=args.host, port=args.function_url_port).open()
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    print(
                        f"lambdaboot serve: --function-url-port {args.function_url_port} is in"
                        " use: choose another port, or 0 for any free port",
                        file=sys.stderr,
                    )
                    return 2
                print(f"Function URL: {url}/", flush=True)
            stop.wait()
        finally:
            result = lam.shutdown()
            lam.close()
            if result.ran:
                print(
                    f"Shutdown: {' then '.join(result.signals) or 'already exited'},"
                    f" {result.duration_ms:.0f} ms",
                    flush=True,
                )
    return caught.exit_status
