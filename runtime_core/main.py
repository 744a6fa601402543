"""Start-up: read Lambda's environment, install logging, load the handler, run an engine.

Settings are checked before the handler is loaded, so a bad one is an init error naming
it, posted to ``/init/error`` like a handler that cannot be imported. The cheapest engine
that can serve the handler is chosen after it is loaded: a plain sync handler at
concurrency 1 gets the blocking engine, which never imports asyncio; at
``AWS_LAMBDA_MAX_CONCURRENCY`` > 1 it gets a process per slot (``workers``), or threads on
the uvloop engine when asked; ``async def`` and streaming handlers get the uvloop engine,
at concurrency > 1 one per CPU (``workers`` again), each serving its share of the slots.
With SnapStart, the snapshot's hooks run between loading the handler and the engine
(``runtime_core.snapstart``). Whatever ends the runtime ends it with one clear record and
a non-zero status.
"""

from __future__ import annotations

import os
import sys

from runtime_core import logs
from runtime_core.engine.client import RuntimeClient
from runtime_core.errors import InitError, log_init_error
from runtime_core.handler_kind import is_async, is_streaming
from runtime_core.handler_loader import load_handler
from runtime_core.logs import sink
from runtime_core.protocol import ApiError
from runtime_core.setting_names import MARGIN_ENV
from runtime_core.shutdown import exit_now, register_internal_extension, registered_hooks
from runtime_core.transport import pipelining, transport_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CONFIG_ERROR", "EXTENSION_ERROR", "main"]

#: The init error for a lambdaboot or Lambda setting the runtime cannot use.
CONFIG_ERROR = "Runtime.ConfigError"
#: The init error when the internal extension (for shutdown hooks) cannot be registered.
EXTENSION_ERROR = "Runtime.ExtensionRegistrationError"


def main(argv: list[str] | None = None) -> None:
    """Run the runtime; ``argv`` (default ``sys.argv[1:]``) may name the handler, as an
    image's CMD does."""
    environ = os.environ
    args = sys.argv[1:] if argv is None else argv
    # Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY set) log JSON only: with invocations
    # interleaved, a record must carry its own request id.
    log_format = "JSON" if environ.get("AWS_LAMBDA_MAX_CONCURRENCY") else None
    logs.install(
        log_format or environ.get("AWS_LAMBDA_LOG_FORMAT"),
        environ.get("AWS_LAMBDA_LOG_LEVEL"),
        # Read and removed before user code runs, as awslambdaric does.
        environ.pop(sink.TELEMETRY_FD_ENV, None),
    )
    try:
        _run(environ, args[0] if args else environ.get("_HANDLER", ""))
    except ApiError as exc:
        _fail(f"lambdaboot is exiting: {exc}")
    except Exception:  # a bug in the runtime itself: still one clear record and a non-zero exit
        import traceback

        _fail("lambdaboot is exiting on an internal error: " + traceback.format_exc())


def _run(environ: Mapping[str, str], spec: str) -> None:
    address = environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        raise ApiError(
            "AWS_LAMBDA_RUNTIME_API is not set: lambdaboot runs inside Lambda or an emulator"
        )
    try:
        concurrency, margin, threads, processes = _settings(environ)
    except ValueError as exc:
        _init_failed(address, InitError(CONFIG_ERROR, str(exc), []))
        return
    try:
        handler = load_handler(spec, environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    except InitError as error:  # already logged by load_handler
        _init_failed(address, error, logged=True)
        return

    # Hooks are usually registered while the handler's module is imported, so only now
    # is it known whether Lambda must be asked for SIGTERM.
    hooks = bool(registered_hooks())
    if hooks:
        try:
            register_internal_extension(address)
        except ApiError as exc:
            _init_failed(address, InitError(EXTENSION_ERROR, str(exc), []))
            return
    if environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        from runtime_core.snapstart import around_snapshot  # only then: zero cost otherwise

        around_snapshot(RuntimeClient(address))
    on_loop = is_async(handler) or is_streaming(handler)
    socket_path = environ.get(sink.PROVIDER_SOCKET_ENV)
    if concurrency > 1:
        # awslambdaric's record (DEBUG, from the root logger) before it starts its workers.
        logs.runtime_log("DEBUG", _worker_pool_event(concurrency), logger="root")
    forked = concurrency > 1 and (processes > 1 if on_loop else not threads)
    if forked:
        from runtime_core import workers

        # Each worker process sends its output to the provider socket, as awslambdaric's do.
        os.register_at_fork(after_in_child=lambda: logs.use_worker_output(socket_path))
        # Sync: one process per slot; async: the slots shared out over ``processes`` loops.
        workers.serve(address, handler, concurrency, margin, processes if on_loop else None)
    elif on_loop or concurrency > 1:
        from runtime_core.engine import aio

        if concurrency > 1:
            logs.use_worker_output(socket_path)
        aio.serve(address, handler, concurrency, margin)
    else:
        from runtime_core.engine import blocking
        from runtime_core.shutdown import install_sigterm_blocking

        install_sigterm_blocking()
        blocking.serve(RuntimeClient(address), handler, margin)


def _worker_pool_event(concurrency: int) -> dict[str, object]:
    return {
        "event": "runtime_worker_pool_initializing",
        "workerCount": concurrency,
        "executionEnvironmentMaxConcurrency": concurrency,
    }


def _settings(environ: Mapping[str, str]) -> tuple[int, float | None, bool, int]:
    """Every setting the runtime reads, checked before the handler is loaded: the
    concurrency, the deadline margin (seconds, None when off), whether sync handlers
    run on threads at concurrency > 1 and how many processes serve an async handler's
    slots. A bad one raises ``ValueError`` with a one-line
    message naming the variable and what it accepts; modules are imported only for the
    settings that are set, so the blocking engine's start-up pays for none of them."""
    concurrency = _concurrency(environ.get("AWS_LAMBDA_MAX_CONCURRENCY"))
    transport_kind(environ)  # the engines read it again when they make their drivers
    pipelining(environ)  # and the blocking client this one
    margin = None
    if environ.get(MARGIN_ENV):
        from runtime_core.deadline import margin_seconds

        margin = margin_seconds(environ)
    threads = False
    processes = 1
    if concurrency > 1:  # these two mean nothing at concurrency 1
        from runtime_core.workers import process_count, wants_threads

        threads = wants_threads(environ)
        processes = process_count(environ, concurrency)
    return concurrency, margin, threads, processes


def _concurrency(value: str | None) -> int:
    if not value:
        return 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"AWS_LAMBDA_MAX_CONCURRENCY must be a positive integer, got {value!r}")
    return count


def _init_failed(address: str, error: InitError, logged: bool = False) -> None:
    """Log (unless done already) and post an init error, then exit 1, as Lambda expects."""
    from runtime_core.transport.blocking import BlockingTransport

    if not logged:
        log_init_error(error)
    # The plain socket driver whatever LAMBDABOOT_TRANSPORT says: it may be what is wrong.
    RuntimeClient(address, BlockingTransport(address)).post_init_error(error)
    exit_now(1)


def _fail(message: str) -> None:
    logs.runtime_log("ERROR", message)
    exit_now(1)
