"""Lambda's application log level: which function output reaches the log, as Lambda decides.

Facts (AWS Lambda Developer Guide, "Log-level filtering",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html):

* Filtering needs the JSON log format; the API refuses a log level with Text
  (``LogLevel is not supported when LogFormat is set to "Text"``).
* With JSON, the application log level is INFO unless configured, and the runtime is told
  through ``AWS_LAMBDA_LOG_LEVEL``; with Text the variable is not set.
* Lambda drops application records below the level. A stdout/stderr line is leveled by
  the ``"level"`` key of its JSON object; a line without a valid one (plain text
  included) counts as INFO. A frame on the telemetry log descriptor is leveled by its
  frame type (see :mod:`local_lambda.log_frames`).
"""

from __future__ import annotations

import json

__all__ = [
    "APPLICATION_LEVELS",
    "TEXT_REFUSAL",
    "check",
    "environment",
    "keeps",
    "line_level",
    "threshold",
]

#: The values Lambda accepts for ApplicationLogLevel, least severe first.
APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_RANK = {name: rank for rank, name in enumerate(APPLICATION_LEVELS)}
# Spellings runtimes write in a record's "level" (Python's among them).
_RANK.update({"WARNING": _RANK["WARN"], "CRITICAL": _RANK["FATAL"]})
INFO = _RANK["INFO"]

#: Lambda's answer to a log level with the Text format (CreateFunction/UpdateFunctionConfiguration).
TEXT_REFUSAL = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your'
    ' request or change the LogFormat to "Json" and try again.'
)


def check(log_format: str, log_level: str | None) -> None:
    """Refuse what Lambda's API refuses: a level with Text, or a level it does not know."""
    if log_level is None:
        return
    if log_format.lower() != "json":
        raise ValueError(TEXT_REFUSAL)
    if log_level not in _RANK or log_level in ("WARNING", "CRITICAL"):
        raise ValueError(f"log level {log_level!r} is not one of {', '.join(APPLICATION_LEVELS)}")


def environment(log_format: str, log_level: str | None) -> dict[str, str]:
    """The logging variables Lambda gives the runtime."""
    if log_format.lower() == "json":
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": log_level or "INFO"}
    return {"AWS_LAMBDA_LOG_FORMAT": "Text"}


def threshold(log_format: str, log_level: str | None) -> int | None:
    """The rank below which Lambda drops application records; None: nothing is dropped."""
    if log_format.lower() != "json":
        return None
    return _RANK[log_level or "INFO"]


def rank(name: object) -> int:
    """A record's level name (any case) as a rank; anything else counts as INFO."""
    if isinstance(name, str):
        return _RANK.get(name.upper(), INFO)
    return INFO


def line_level(line: str) -> int:
    """The rank of one output line: its JSON object's ``level``, else INFO."""
    if not line.startswith("{"):
        return INFO
    try:
        record = json.loads(line)
    except ValueError:
        return INFO
    return rank(record.get("level")) if isinstance(record, dict) else INFO


def keeps(event: str, level: int | None, threshold: int | None) -> bool:
    """Whether Lambda keeps one function output event: ``level`` is its rank when known
    (a frame's), else the line's own; ``threshold`` from :func:`threshold`."""
    if threshold is None:
        return True
    return (line_level(event) if level is None else level) >= threshold
