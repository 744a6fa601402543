"""The one renderer behind every log record: Lambda's Text and JSON application-log lines.

Both front doors (the stdlib ``logging`` bridge and the structlog pipeline), and the
runtime's own messages, end here, so a record looks the same whoever wrote it. The
formats follow awslambdaric 4.2.2, the runtime AWS ships:

* Text: ``[LEVEL]\\t<UTC time, ms>Z\\t<requestId>\\t<message>\\n``, the exception's
  traceback after the message (then without the final newline, as ``logging.Formatter``
  leaves it in awslambdaric's frames).
* JSON: one object per line with ``timestamp`` (UTC, whole seconds), ``level``,
  ``message``, ``logger``, ``requestId``, ``tenantId`` when there is one, the record's
  extra fields, and ``errorType``/``errorMessage``/``stackTrace``/``location`` when it
  carries an exception; written as awslambdaric's stdlib encoder writes it (``", "`` and
  ``": "`` between items, non-ASCII raw), so a text filter such as ``"level": "ERROR"``
  matches the same lines on both.

A rendered record keeps its real newlines: ``sink.write`` sends it as one frame to Lambda's
telemetry descriptor, or as one stdout line with ``\\r`` for newlines.

This module is on the start-up path: it imports only ``sys`` and ``time``; the JSON
encoder (the stdlib's C one, never orjson, whose import would land in an invocation) and
``traceback`` are imported on first use.
"""

from __future__ import annotations

import time

from runtime_core.logs import sink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

    ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

__all__ = [
    "LEVELS",
    "exc_info_fields",
    "format_json_timestamp",
    "format_timestamp",
    "render_error",
    "render_record",
    "set_json",
    "write",
]

#: Where every rendered record goes (one frame, or one stdout line).
write = sink.write

#: Numeric level of every name Lambda or ``logging`` uses. Lambda's TRACE has no stdlib
#: equivalent; awslambdaric maps it to DEBUG, and so do we.
LEVELS: dict[str, int] = {
    "TRACE": 10,
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "FATAL": 50,
    "CRITICAL": 50,
}

# awslambdaric's JsonFormatter holds these keys (None without an exception, then dropped)
# before it adds the extras, so an extra field by one of these names never shows.
_EXCEPTION_KEYS = frozenset(("stackTrace", "errorType", "errorMessage", "location"))

# awslambdaric indents an error's stack trace with NO-BREAK SPACEs in Text mode.
_TRACE_INDENT = "\u00a0"

_json_mode = False


def set_json(enabled: bool) -> None:
    """Choose the format for every record from now on (``install`` calls this once)."""
    global _json_mode
    _json_mode = enabled


def is_json() -> bool:
    """Whether records are rendered as JSON (else Text)."""
    return _json_mode


# --- timestamps -------------------------------------------------------------------
# strftime is the costly part and changes once a second: cache the seconds prefix. One
# tuple, replaced in one assignment, so that threads logging at once never mix halves.
_second_prefix: tuple[int, str] = (-1, "")


def _seconds(created: float) -> tuple[int, str]:
    global _second_prefix
    second = int(created)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix = (second, prefix)
    return second, prefix


def format_timestamp(created: float) -> str:
    """``2024-01-01T00:00:00.123Z`` (UTC, milliseconds) for a ``time.time()`` value: the
    Text line's time, as awslambdaric's ``%(asctime)s.%(msecs)03dZ``."""
    second, prefix = _seconds(created)
    return f"{prefix}.{int((created - second) * 1000):03d}Z"


def format_json_timestamp(created: float) -> str:
    """``2024-01-01T00:00:00Z`` (UTC, whole seconds): a JSON record's ``timestamp``, as
    awslambdaric's ``JsonFormatter`` writes it (``%Y-%m-%dT%H:%M:%SZ``). CloudWatch's own
    event time still has the microseconds (the frame's timestamp)."""
    return _seconds(created)[1] + "Z"


# --- JSON encoding ----------------------------------------------------------------
_PLAIN = (str, int, float, bool, type(None))


def _encode(record: dict[str, object]) -> str:
    """``json.JSONEncoder(ensure_ascii=False, default=str).encode``, awslambdaric's record
    encoder, byte for byte. Never raises: should that fail (a circular value, an int too
    long for ``str``), each value JSON cannot hold becomes its ``str()``, so a record is
    never lost (awslambdaric drops it)."""
    from runtime_core.c_json import dumps

    try:
        return dumps(record, ensure_ascii=False, compact=False, default=str)
    except (ValueError, TypeError, RecursionError):
        plain = {k: v if isinstance(v, _PLAIN) else str(v) for k, v in record.items()}
        return dumps(plain, ensure_ascii=False, compact=False, default=str)


# --- exceptions -------------------------------------------------------------------
def exc_info_fields(exc_info: ExcInfo) -> dict[str, object]:
    """The exception fields of a JSON record, named as awslambdaric names them.

    ``stackTrace`` is ``traceback.format_tb``: frames only, no header, as awslambdaric's.
    """
    import traceback

    exc_type, exc, tb = exc_info
    return {
        "errorType": exc_type.__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(tb),
    }


def _exc_text(exc_info: ExcInfo) -> str:
    import traceback

    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


# --- records ----------------------------------------------------------------------
def _json_record(
    created: float, level: str, fields: dict[str, object], tenant_id: str | None
) -> dict[str, object]:
    """What every JSON record starts with, in awslambdaric's key order: ``timestamp`` and
    ``level``, then ``fields`` as given, then ``tenantId`` when there is one."""
    record: dict[str, object] = {
        "timestamp": format_json_timestamp(created),
        "level": level,
        **fields,
    }
    if tenant_id is not None:
        record["tenantId"] = tenant_id
    return record


def render_record(
    level: str,
    created: float,
    message: object,
    logger: str | None,
    request_id: str,
    tenant_id: str | None,
    extra: dict[str, object] | None = None,
    exc_info: ExcInfo | None = None,
    text_suffix: str = "",
    location: str | None = None,
    stack_info: str | None = None,
) -> str:
    """One application log record, as awslambdaric's formatters write it (hand it to ``write``).

    ``extra`` fields appear in JSON only; ``text_suffix`` is appended to the Text message
    (the structlog door uses it for its key=value pairs). ``location`` is where the
    logging call was made (``path:function:line``), shown in JSON with an exception.
    ``stack_info`` (``logging``'s ``stack_info=True``) follows a Text record's traceback.
    """
    if _json_mode:
        # awslambdaric's JsonFormatter order: message, logger, the exception's stackTrace,
        # errorType and errorMessage, requestId, location, tenantId, then the extras.
        fields: dict[str, object] = {"message": message, "logger": logger}
        if exc_info is not None:
            exc = exc_info_fields(exc_info)
            fields["stackTrace"] = exc["stackTrace"]
            fields["errorType"] = exc["errorType"]
            fields["errorMessage"] = exc["errorMessage"]
        fields["requestId"] = request_id
        if exc_info is not None and location is not None:
            fields["location"] = location
        record = _json_record(created, level, fields, tenant_id)
        if extra:
            for key, value in extra.items():
                if key not in record and key not in _EXCEPTION_KEYS and value is not None:
                    record[key] = value
        if logger is None:
            del record["logger"]
        return _encode(record) + "\n"
    text = message if isinstance(message, str) else str(message)
    if text_suffix:
        text += text_suffix
    out = f"[{level}]\t{format_timestamp(created)}\t{request_id}\t{text}\n"
    if exc_info is not None:
        out += _exc_text(exc_info)
    if stack_info:
        out += stack_info if out.endswith("\n") else "\n" + stack_info
    return out


def render_error(
    error_type: str,
    message: str,
    stack_trace: list[str],
    request_id: str,
) -> str:
    """The one record that reports a handler's exception (awslambdaric's ``log_error``),
    to be written with ``write(..., error=True)``: its lines joined by newlines."""
    if _json_mode:
        # awslambdaric's log_error: the error payload (no tenantId) after timestamp and
        # level, written by the same encoder as the /error body.
        from runtime_core.serialize import encode_error

        body = {
            "timestamp": format_json_timestamp(time.time()),
            "level": "ERROR",
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack_trace,
        }
        return encode_error(body).decode()
    # awslambdaric's log_error: the head, then "Traceback (most recent call last):" even
    # when there are no frames, then each entry's lines with leading spaces as NO-BREAK
    # SPACEs (an empty entry stays an empty line).
    head = "[ERROR]"
    if error_type:
        head += " " + error_type
    if message:
        head += (": " if error_type else " ") + message
    lines = [head, "Traceback (most recent call last):"]
    for entry in stack_trace:
        if not entry:
            lines.append("")
        for line in entry.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_TRACE_INDENT * (len(line) - len(stripped)) + stripped)
    return "\n".join(lines)
