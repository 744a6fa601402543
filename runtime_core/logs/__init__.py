"""Application logging for lambdaboot: Lambda's Text and JSON formats, two front doors.

The runtime calls ``install`` once at start-up with ``AWS_LAMBDA_LOG_FORMAT`` and
``AWS_LAMBDA_LOG_LEVEL``. Users log through the stdlib ``logging`` module (bridged on the
root logger, as awslambdaric does) or ``runtime_core.get_logger()`` (structlog); the
runtime logs its own messages with ``runtime_log`` and a handler's exception with
``log_invocation_error``. Every record is rendered by ``render`` and delivered by
``sink`` (Lambda's telemetry log descriptor when there is one, else stdout).

Cold start matters here: ``install`` imports neither ``logging`` nor structlog. The
bridge is attached when ``logging`` is first imported, by whoever imports it.
"""

from __future__ import annotations

import time

from runtime_core.logs import render, sink
from runtime_core.logs.ids import invocation_ids
from runtime_core.logs.import_hook import call_when_imported

__all__ = [
    "install",
    "invocation_ids",
    "log_invocation_error",
    "logger_level",
    "min_level",
    "runtime_log",
    "use_worker_output",
]

_WARNING = render.LEVELS["WARNING"]

# Set by install(); read by both front doors. 0: no AWS_LAMBDA_LOG_LEVEL, no floor.
_min_level = 0
_installed = False


def install(log_format: str | None, log_level: str | None, telemetry_fd: str | None = None) -> None:
    """Configure format, level and destination for the whole process; cheap enough for
    the start-up path. Calling it again reconfigures.

    As awslambdaric 4.2.2 reads them: ``log_format`` ``JSON`` (any case) for JSON lines,
    anything else for Text. ``log_level`` (``AWS_LAMBDA_LOG_LEVEL``, which Lambda sets only
    with the JSON format) becomes the root logger's level (``TRACE`` = DEBUG); unset, the
    root logger keeps Python's default, WARNING, as on AWS. ``telemetry_fd`` is
    ``_LAMBDA_TELEMETRY_LOG_FD``: records then go there as frames (see ``sink``).
    """
    global _min_level, _installed
    fmt = (log_format or "").strip()
    json_mode = fmt.upper() == "JSON"
    render.set_json(json_mode)
    level_name = (log_level or "").strip().upper()
    problems: list[str] = []
    if fmt and fmt.upper() not in ("JSON", "TEXT"):
        problems.append(
            f"AWS_LAMBDA_LOG_FORMAT={log_format!r} is not Text or JSON; logging as Text"
        )
    _min_level = render.LEVELS.get(level_name, 0)
    if level_name and level_name not in render.LEVELS:
        problems.append(
            f"AWS_LAMBDA_LOG_LEVEL={log_level!r} is not one of TRACE, DEBUG, INFO, WARN, "
            "ERROR, FATAL; the root logger's level is left as it is (WARNING)"
        )
    sink.configure(json_mode, bool(level_name))
    sink.use_descriptor(telemetry_fd)
    if not _installed:
        _installed = True
        call_when_imported("logging", _install_stdlib_bridge)
    else:
        _reconfigure_stdlib_bridge()
    for problem in problems:
        runtime_log("WARN", problem)


def use_worker_output(socket_path: str | None) -> None:
    """Managed Instances, in a process that serves invocations: stop writing frames and
    connect stdout and stderr to ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`` when Lambda
    gave one, as awslambdaric's worker processes do (their records are stdout lines)."""
    sink.close_descriptor()
    if socket_path:
        try:
            sink.redirect_output_to(socket_path)
        except OSError as exc:
            runtime_log(
                "ERROR", f"cannot connect to {sink.PROVIDER_SOCKET_ENV}={socket_path}: {exc}"
            )


def _install_stdlib_bridge() -> None:
    try:
        from runtime_core.logs.stdlib import install_bridge

        install_bridge(_min_level)
    except Exception as exc:  # the user's `import logging` must not fail because of us
        runtime_log("ERROR", f"could not attach the logging bridge: {exc!r}")


def _reconfigure_stdlib_bridge() -> None:
    import sys

    if "logging" in sys.modules:
        _install_stdlib_bridge()


def min_level() -> int:
    """``AWS_LAMBDA_LOG_LEVEL`` as a stdlib number (0 when unset): Lambda drops records
    below it, so the runtime does not write them."""
    return _min_level


def logger_level() -> int:
    """The level a logger made now starts at: ``AWS_LAMBDA_LOG_LEVEL``, else WARNING (what
    a stdlib logger inherits from the untouched root logger)."""
    return _min_level or _WARNING


def log_invocation_error(error_type: str, message: str, stack_trace: list[str]) -> None:
    """Log a handler's exception as ONE record (one CloudWatch event), like awslambdaric.

    ``stack_trace`` is the list the error payload carries (``traceback.format_list``
    entries). Logged whatever the level: an error report is never filtered.
    """
    request_id, _tenant_id = invocation_ids()
    render.write(render.render_error(error_type, message, stack_trace, request_id), error=True)


def runtime_log(level: str, message: object, logger: str = "lambdaboot") -> None:
    """Log one of the runtime's own messages (logger ``lambdaboot``), filtered as a stdlib
    logger would be (awslambdaric logs its own through the root logger).

    ``logger`` names another logger for a record awslambdaric writes from it (``root``).
    A ``dict`` message stays a JSON object in the JSON format.
    """
    name = level.upper()
    number = render.LEVELS.get(name, _WARNING)
    if number < logger_level():
        return
    name = {"WARN": "WARNING", "FATAL": "CRITICAL", "TRACE": "DEBUG"}.get(name, name)
    request_id, tenant_id = invocation_ids()
    render.write(
        render.render_record(name, time.time(), message, logger, request_id, tenant_id),
        number,
    )
