"""Start-up: read Lambda's environment, install logging, load the handler, run an engine.

The cheapest engine that can serve the handler is chosen after the handler is loaded:
a plain sync handler at concurrency 1 gets the blocking engine, which never imports
asyncio; an ``async def`` handler, or ``AWS_LAMBDA_MAX_CONCURRENCY`` > 1, gets the uvloop
engine. Whatever ends the runtime ends it with a clear message and a non-zero status.
"""

from __future__ import annotations

import os
import sys

from runtime_core.protocol import ApiError

__all__ = ["main"]


def _fail(message: str) -> None:
    from runtime_core.logs import runtime_log
    from runtime_core.shutdown import exit_now

    runtime_log("ERROR", message)
    exit_now(1)


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


def main(argv: list[str] | None = None) -> None:
    """Run the runtime; ``argv`` (default ``sys.argv[1:]``) may name the handler, as in an image's CMD."""
    environ = os.environ
    args = sys.argv[1:] if argv is None else argv
    from runtime_core import logs

    logs.install(environ.get("AWS_LAMBDA_LOG_FORMAT"), environ.get("AWS_LAMBDA_LOG_LEVEL"))
    address = environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fail("AWS_LAMBDA_RUNTIME_API is not set: lambdaboot runs inside Lambda or an emulator")
        return
    try:
        _run(address, args[0] if args else environ.get("_HANDLER", ""), environ)
    except ApiError as exc:
        _fail(f"lambdaboot is exiting: {exc}")
    except Exception:  # a bug in the runtime itself: still one clear record and a non-zero exit
        import traceback

        _fail("lambdaboot is exiting on an internal error: " + traceback.format_exc())


def _run(address: str, spec: str, environ: os._Environ[str]) -> None:
    from runtime_core.engine.client import RuntimeClient
    from runtime_core.shutdown import exit_now, registered_hooks

    task_root = environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    client = RuntimeClient(address)
    concurrency = _concurrency(environ.get("AWS_LAMBDA_MAX_CONCURRENCY"))

    from runtime_core.dispatch import InitError, is_async, load_handler

    try:
        handler = load_handler(spec, task_root)
    except InitError as error:
        client.init_error(error)
        exit_now(1)
        return

    hooks = bool(registered_hooks())
    if hooks:
        from runtime_core.shutdown import register_internal_extension

        register_internal_extension(address)
    if is_async(handler) or concurrency > 1:
        client.transport.close()
        from runtime_core.engine import aio

        aio.serve(address, handler, concurrency)
    else:
        from runtime_core.engine import blocking

        if hooks:
            from runtime_core.shutdown import install_sigterm_blocking

            install_sigterm_blocking()
        blocking.serve(client, handler)
