"""Start-up: read Lambda's environment, install logging, load the handler, run an engine.

The cheapest engine that can serve the handler is chosen after the handler is loaded:
a plain sync handler at concurrency 1 gets the blocking engine, which never imports
asyncio; an ``async def`` handler, or ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1, gets the uvloop
engine. Whatever ends the runtime ends it with one clear record and a non-zero status.
"""

from __future__ import annotations

import os
import sys

from runtime_core import logs
from runtime_core.dispatch import InitError, is_async, is_streaming, load_handler
from runtime_core.engine.client import RuntimeClient
from runtime_core.protocol import ApiError
from runtime_core.shutdown import exit_now, register_internal_extension, registered_hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the runtime; ``argv`` (default ``sys.argv[1:]``) may name the handler, as an image's CMD does."""
    environ = os.environ
    args = sys.argv[1:] if argv is None else argv
    # Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY set) log JSON only: with invocations
    # interleaved, a record must carry its own request id.
    log_format = "JSON" if environ.get("AWS_LAMBDA_MAX_CONCURRENCY") else None
    logs.install(
        log_format or environ.get("AWS_LAMBDA_LOG_FORMAT"), environ.get("AWS_LAMBDA_LOG_LEVEL")
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
        raise ApiError("AWS_LAMBDA_RUNTIME_API is not set: lambdaboot runs inside Lambda or an emulator")
    concurrency = _concurrency(environ.get("AWS_LAMBDA_MAX_CONCURRENCY"))
    client = RuntimeClient(address)
    try:
        handler = load_handler(spec, environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    except InitError as error:  # already logged by load_handler
        client.init_error(error)
        exit_now(1)
        return

    # Hooks are usually registered while the handler's module is imported, so only now
    # is it known whether Lambda must be asked for SIGTERM.
    hooks = bool(registered_hooks())
    if hooks:
        register_internal_extension(address)
    if is_async(handler) or is_streaming(handler) or concurrency > 1:
        client.transport.close()
        if concurrency > 1 and not is_async(handler) and not is_streaming(handler):
            from runtime_core import workers

            if not workers.wants_threads(environ):
                workers.serve(address, handler, concurrency)  # one process per slot
                return
        from runtime_core.engine import aio

        aio.serve(address, handler, concurrency)
    else:
        from runtime_core.engine import blocking

        if hooks:
            from runtime_core.shutdown import install_sigterm_blocking

            install_sigterm_blocking()
        blocking.serve(client, handler)


def _concurrency(value: str | None) -> int:
    if not value:
        return 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ApiError(f"AWS_LAMBDA_MAX_CONCURRENCY must be a positive integer, got {value!r}")
    return count


def _fail(message: str) -> None:
    logs.runtime_log("ERROR", message)
    exit_now(1)
