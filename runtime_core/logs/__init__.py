"""Application logging for lambdaboot: Lambda's Text and JSON formats, two front doors.

The runtime calls ``install`` once at start-up with ``AWS_LAMBDA_LOG_FORMAT`` and
``AWS_LAMBDA_LOG_LEVEL``. Users log through the stdlib ``logging`` module (bridged on the
root logger, as awslambdaric does) or ``runtime_core.get_logger()`` (structlog); the
runtime logs its own messages with ``runtime_log`` and a handler's exception with
``log_invocation_error``. Every record is rendered by ``render``.

Cold start matters here: ``install`` imports neither ``logging`` nor structlog. The
bridge is attached when ``logging`` is first imported, by whoever imports it.
"""

from __future__ import annotations

import time

from runtime_core.invocation import current_invocation
from runtime_core.logs import render
from runtime_core.logs.import_hook import call_when_imported

__all__ = [
    "install",
    "invocation_ids",
    "log_invocation_error",
    "min_level",
    "runtime_log",
]

_DEFAULT_LEVEL = render.LEVELS["INFO"]

# Set by install(); read by both front doors.
_min_level = _DEFAULT_LEVEL
_level_is_explicit = False
_installed = False


def install(log_format: str | None, log_level: str | None) -> None:
    """Configure format and level for the whole process; cheap enough for the start-up path.

    ``log_format``: ``JSON`` (any case) for JSON lines, anything else for Text, as
    awslambdaric reads it. ``log_level``: ``TRACE`` (= DEBUG), ``DEBUG``, ``INFO``,
    ``WARN``, ``ERROR``, ``FATAL``; unset means INFO and above. Calling it again
    reconfigures.
    """
    global _min_level, _level_is_explicit, _installed
    fmt = (log_format or "").strip()
    render.set_json(fmt.upper() == "JSON")
    level_name = (log_level or "").strip().upper()
    problems: list[str] = []
    if fmt and fmt.upper() not in ("JSON", "TEXT"):
        problems.append(
            f"AWS_LAMBDA_LOG_FORMAT={log_format!r} is not Text or JSON; logging as Text"
        )
    if not level_name:
        _min_level, _level_is_explicit = _DEFAULT_LEVEL, False
    elif level_name in render.LEVELS:
        _min_level, _level_is_explicit = render.LEVELS[level_name], True
    else:
        _min_level, _level_is_explicit = _DEFAULT_LEVEL, False
        problems.append(
            f"AWS_LAMBDA_LOG_LEVEL={log_level!r} is not one of TRACE, DEBUG, INFO, WARN, "
            "ERROR, FATAL; logging INFO and above"
        )
    if not _installed:
        _installed = True
        call_when_imported("logging", _install_stdlib_bridge)
    else:
        _reconfigure_stdlib_bridge()
    for problem in problems:
        runtime_log("WARN", problem)


def _install_stdlib_bridge() -> None:
    try:
        from runtime_core.logs.stdlib import install_bridge

        install_bridge(_min_level, _level_is_explicit)
    except Exception as exc:  # the user's `import logging` must not fail because of us
        runtime_log("ERROR", f"could not attach the logging bridge: {exc!r}")


def _reconfigure_stdlib_bridge() -> None:
    import sys

    if "logging" in sys.modules:
        _install_stdlib_bridge()


def min_level() -> int:
    """The numeric level below which records are dropped (stdlib numbering)."""
    return _min_level


def invocation_ids() -> tuple[str, str | None]:
    """``(requestId, tenantId)`` of the invocation being served; ``("", None)`` outside one."""
    invocation = current_invocation()
    if invocation is None:
        return "", None
    return invocation.request_id, invocation.tenant_id


def log_invocation_error(error_type: str, message: str, stack_trace: list[str]) -> None:
    """Log a handler's exception as ONE record (one CloudWatch event), like awslambdaric.

    ``stack_trace`` is the list the error payload carries (``traceback.format_list``
    entries). Logged whatever the level: an error report is never filtered.
    """
    request_id, tenant_id = invocation_ids()
    render.write(render.render_error(error_type, message, stack_trace, request_id, tenant_id))


def runtime_log(level: str, message: str, logger: str = "lambdaboot") -> None:
    """Log one of the runtime's own messages (logger ``lambdaboot``), level-filtered.

    ``logger`` names another logger for a record awslambdaric writes from it (``root``).
    """
    name = level.upper()
    number = render.LEVELS.get(name, _DEFAULT_LEVEL)
    if number < _min_level:
        return
    name = {"WARN": "WARNING", "FATAL": "CRITICAL", "TRACE": "DEBUG"}.get(name, name)
    request_id, tenant_id = invocation_ids()
    render.write(render.render_record(name, time.time(), message, logger, request_id, tenant_id))
