"""The ``exec:`` handler form: ``_HANDLER=exec:/opt/bin/tool`` makes a native program the handler.

Lambda's handler setting allows no spaces, so everything beyond the program's path comes
from the environment or from a small file in the function:

- ``LAMBDABOOT_EXEC_ARGS``: the arguments, split as a POSIX shell would (``shlex``);
- ``LAMBDABOOT_EXEC_MODE``: ``exec`` (a fresh process per invocation, the default) or
  ``coprocess`` (one process started at init, one JSON line each way);
- ``LAMBDABOOT_EXEC_OUTPUT``: ``json`` (default), ``bytes``, or ``stream`` (exec mode:
  stdout is streamed as it comes, through the response streaming path, up to 200 MB);
- or ``lambdaboot-exec.json`` in the task root: ``{"args": [...], "mode": "...",
  "output": "..."}``. A variable, when set, wins over the file.

A relative program path is taken from the task root. Anything wrong is an init error
naming the setting and how to fix it.
"""

from __future__ import annotations

import os

from runtime_core.errors import InitError
from runtime_core.invocation import current_invocation
from runtime_core.native.failures import NativeError
from runtime_core.native.output import OUTPUT_MODES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["CONFIG_FILE", "EXEC_PREFIX", "load_exec_handler"]

EXEC_PREFIX = "exec:"
CONFIG_FILE = "lambdaboot-exec.json"
_MODES = ("exec", "coprocess")
_CONFIG_ERROR = "Runtime.NativeConfigError"


def load_exec_handler(
    spec: str, task_root: str, environ: Mapping[str, str] | None = None
) -> Callable[..., Any]:
    """The handler for ``exec:PATH``; raise ``InitError`` for a bad setting or a co-process
    that cannot start."""
    environ = os.environ if environ is None else environ
    path = spec[len(EXEC_PREFIX) :]
    if not path:
        raise InitError(
            _CONFIG_ERROR, f"Bad handler '{spec}': give the program's path after exec:", []
        )
    if not os.path.isabs(path) and task_root:
        path = os.path.join(task_root, path)
    settings = _file_settings(task_root)
    args = _args(environ.get("LAMBDABOOT_EXEC_ARGS"), settings.get("args", []))
    mode = _choice(
        "mode", environ.get("LAMBDABOOT_EXEC_MODE") or settings.get("mode") or "exec", _MODES
    )
    output = _choice(
        "output",
        environ.get("LAMBDABOOT_EXEC_OUTPUT") or settings.get("output") or "json",
        (*OUTPUT_MODES, "stream"),
    )
    argv = [path, *args]
    if output == "stream":
        if mode != "exec":
            raise InitError(
                _CONFIG_ERROR, "output stream needs mode exec: a co-process answers in lines", []
            )
        _check_startable(path)
        return _streaming_handler(argv)
    if mode == "coprocess":
        from runtime_core.native.coprocess import CoProcess

        program: Any = CoProcess(argv, output=output)
        try:
            program.start()
        except NativeError as exc:
            raise InitError(
                "Function." + type(exc).__name__, str(exc), [], body_type=type(exc).__name__
            ) from None
    else:
        from runtime_core.native.exec_handler import ExecHandler

        _check_startable(path)
        program = ExecHandler(argv, output=output)
    run = program.run

    def handler(event: Any, context: Any) -> Any:
        # The exec: handler's event is always the invocation's own: send its raw bytes.
        invocation = current_invocation()
        if invocation is None:
            return program(event, context)
        return run(invocation.body, invocation)

    handler.program = program  # type: ignore[attr-defined]
    return handler


def _streaming_handler(argv: list[str]) -> Callable[..., Any]:
    from runtime_core.native.exec_handler import ExecHandler
    from runtime_core.streaming import streaming_response

    program = ExecHandler(argv, output="bytes")

    @streaming_response
    def handler(event: Any, context: Any) -> Any:
        invocation = current_invocation()
        if invocation is None:
            return program.stream(program.encode(event), None)
        return program.stream(invocation.body, invocation)

    return handler


def _check_startable(path: str) -> None:
    """Fail the init, not every invocation, for a program that is missing or not executable."""
    import errno

    from runtime_core.native.failures import spawn_failure

    code = None
    if not os.path.exists(path):
        code = errno.ENOENT
    elif os.path.isdir(path) or not os.access(path, os.X_OK):
        code = errno.EACCES
    if code is not None:
        exc = spawn_failure(path, OSError(code, os.strerror(code)))
        raise InitError("Function.NativeStartError", str(exc), [], body_type="NativeStartError")


def _file_settings(task_root: str) -> dict[str, Any]:
    path = os.path.join(task_root, CONFIG_FILE)
    if not task_root or not os.path.isfile(path):
        return {}
    import json

    try:
        with open(path, "rb") as file:
            settings = json.load(file)
    except (OSError, ValueError) as exc:
        raise InitError(_CONFIG_ERROR, f"Cannot read {CONFIG_FILE}: {exc}", []) from None
    if not isinstance(settings, dict):
        raise InitError(
            _CONFIG_ERROR, f"{CONFIG_FILE} must hold a JSON object with args, mode, output", []
        )
    return settings


def _args(variable: str | None, from_file: object) -> list[str]:
    if variable is not None:
        import shlex

        try:
            return shlex.split(variable)
        except ValueError as exc:
            raise InitError(
                _CONFIG_ERROR, f"LAMBDABOOT_EXEC_ARGS cannot be split as shell words: {exc}", []
            ) from None
    if not isinstance(from_file, list) or not all(isinstance(a, str) for a in from_file):
        raise InitError(_CONFIG_ERROR, f'{CONFIG_FILE}: "args" must be a list of strings', [])
    return list(from_file)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InitError(
            _CONFIG_ERROR,
            f"exec handler {name} {value!r} is not one of {', '.join(allowed)} "
            f'(LAMBDABOOT_EXEC_{name.upper()} or "{name}" in {CONFIG_FILE})',
            [],
        )
    assert isinstance(value, str)
    return value
