"""The stdlib ``logging`` front door: one handler on the root logger, as awslambdaric has.

With it, ``logging.getLogger(__name__).info(...)`` in a handler prints one line in the
chosen format with no configuration, ``logging.basicConfig()`` stays the no-op it is on
AWS (the root logger already has a handler), and Powertools' ``Logger`` keeps its
records to itself: it attaches a filter to the root handlers it finds, this one included.

Records also get ``aws_request_id`` and ``tenant_id`` attributes (awslambdaric's names),
so a user's own ``Formatter`` on this handler can use ``%(aws_request_id)s``.
"""

from __future__ import annotations

import logging
import time

from runtime_core.logs import render
from runtime_core.logs.ids import invocation_ids

__all__ = ["LambdaLogHandler", "install_bridge"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "aws_request_id",
    "tenant_id",
}
# awslambdaric's JSON level: the record's level rounded down to a standard one.
_JSON_LEVEL_NAMES = {
    0: "NOTSET",
    10: "DEBUG",
    20: "INFO",
    30: "WARNING",
    40: "ERROR",
    50: "CRITICAL",
}


class LambdaLogHandler(logging.Handler):
    """Renders each record with the runtime's renderer and writes it to stdout, flushed."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            request_id, tenant_id = invocation_ids()
            record.aws_request_id = request_id
            record.tenant_id = tenant_id
            render.write(self._line(record, request_id, tenant_id))
        except Exception:
            self.handleError(record)

    def _line(self, record: logging.LogRecord, request_id: str, tenant_id: str | None) -> str:
        if self.formatter is not None:  # the user chose a format: honour it, one line per record
            text = self.format(record).rstrip("\n")
            return text.replace("\n", "\r") + "\n"
        exc_info = record.exc_info if record.exc_info and record.exc_info[0] is not None else None
        if render.is_json():
            message: object = (
                record.msg
                if isinstance(record.msg, dict) and not record.args
                else record.getMessage()
            )
            level = _JSON_LEVEL_NAMES[min(50, max(0, record.levelno)) // 10 * 10]
            extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
            return render.render_record(
                level,
                record.created,
                message,
                record.name,
                request_id,
                tenant_id,
                extra=extra,
                exc_info=exc_info,
                location=f"{record.pathname}:{record.funcName}:{record.lineno}",
            )
        text = record.getMessage()
        if record.stack_info:
            text = f"{text}\n{record.stack_info}"
        return render.render_record(
            record.levelname,
            record.created,
            text,
            record.name,
            request_id,
            tenant_id,
            exc_info=exc_info,
        )


def install_bridge(level: int, explicit: bool) -> None:
    """Attach the handler to the root logger (once) and set the root level.

    An explicit ``AWS_LAMBDA_LOG_LEVEL`` also becomes the handler's floor, as Lambda drops
    records below it whatever a logger's own level says.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, LambdaLogHandler)), None)
    if handler is None:
        handler = LambdaLogHandler()
        root.addHandler(handler)
    handler.setLevel(level if explicit else logging.NOTSET)
    root.setLevel(level)
    # awslambdaric does this too: a user's Formatter prints UTC times, as Lambda's clock is.
    logging.Formatter.converter = time.gmtime
