"""The structlog front door behind ``runtime_core.get_logger()``.

A short chain of small processors adds what Lambda's formats need (level, timestamp,
the invocation's ids) and hands the record to the same renderer as the stdlib bridge,
so both kinds of record look the same. Loggers are built directly on structlog's
filtering bound logger (the level check is a no-op method, decided once), without
touching ``structlog.configure()``: a user's own structlog configuration stays theirs.

Imported only when someone asks for a logger: ``import structlog`` pulls in asyncio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog
from structlog.contextvars import merge_contextvars
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from runtime_core.logs import invocation_ids, logger_level, render

__all__ = ["PROCESSORS", "get_logger"]

_LEVEL_NAMES = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
}
# Keys the renderer places itself; everything else is the record's extra fields.
_OWN_KEYS = ("event", "level", "timestamp", "logger", "requestId", "tenantId", "exc_info")


def add_level(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """``level``: the method's name as Lambda spells levels (``exception`` is ERROR)."""
    event_dict["level"] = _LEVEL_NAMES.get(method_name, method_name.upper())
    return event_dict


def add_timestamp(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """``timestamp``: the record's time; the renderer formats it (UTC, milliseconds)."""
    event_dict["timestamp"] = time.time()
    return event_dict


def add_invocation_ids(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """``requestId`` and, when Lambda sent one, ``tenantId`` of the invocation being served."""
    request_id, tenant_id = invocation_ids()
    event_dict["requestId"] = request_id
    if tenant_id is not None:
        event_dict["tenantId"] = tenant_id
    return event_dict


def _exc_info(value: object) -> render.ExcInfo | None:
    """structlog's ways of passing an exception (True, an exception, a tuple) as a tuple."""
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value
    return None


def _call_site() -> str | None:
    """``path:function:line`` of the code that called the logger (for JSON exceptions)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module.startswith("structlog") or module.startswith("runtime_core.logs")):
            code = frame.f_code
            return f"{code.co_filename}:{code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def render_lambda(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
    """Final processor: one line in the configured Text/JSON format."""
    extra = {k: v for k, v in event_dict.items() if k not in _OWN_KEYS}
    suffix = "".join(f" {k}={v}" for k, v in extra.items()) if not render.is_json() else ""
    timestamp = event_dict.get("timestamp")
    exc_info = _exc_info(event_dict.get("exc_info"))
    return render.render_record(
        str(event_dict.get("level", "INFO")),
        timestamp if isinstance(timestamp, float) else time.time(),
        event_dict.get("event"),
        event_dict.get("logger"),
        str(event_dict.get("requestId", "")),
        event_dict.get("tenantId"),
        extra=extra,
        exc_info=exc_info,
        text_suffix=suffix,
        location=_call_site() if exc_info is not None and render.is_json() else None,
    )


#: The chain every ``get_logger()`` logger runs, in order.
PROCESSORS: list[Processor] = [
    merge_contextvars,
    add_level,
    add_timestamp,
    add_invocation_ids,
    render_lambda,
]


def _writer(level: int) -> Callable[[str], None]:
    def write(record: str) -> None:
        render.write(record, level)

    return write


class _Sink:
    """structlog's "wrapped logger": each level hands the rendered record to the sink."""

    debug = staticmethod(_writer(10))
    info = msg = staticmethod(_writer(20))
    warning = staticmethod(_writer(30))
    error = staticmethod(_writer(40))
    critical = staticmethod(_writer(50))


_SINK = _Sink()
_classes: dict[int, type[FilteringBoundLogger]] = {}


def get_logger(name: str | None = None, **initial_values: Any) -> FilteringBoundLogger:
    """A logger that filters as a stdlib logger would (``AWS_LAMBDA_LOG_LEVEL``, else
    WARNING) and renders like every other record."""
    level = logger_level()
    cls = _classes.get(level)
    if cls is None:
        cls = _classes[level] = structlog.make_filtering_bound_logger(level)
    context: dict[str, Any] = dict(initial_values)
    if name is not None:
        context["logger"] = name
    make: Any = cls
    logger: FilteringBoundLogger = make(_SINK, PROCESSORS, context)
    return logger
