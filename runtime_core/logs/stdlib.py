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

# Attributes every LogRecord has; anything else on a record came from `extra=`. Except
# ``taskName`` (3.12+): awslambdaric does not reserve it, so a record logged inside an
# asyncio task carries ``"taskName": "Task-1"`` in JSON, and so does ours (None: absent).
_STANDARD_ATTRIBUTES = (
    frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) - {"taskName"}
) | {
    "message",
    "asctime",
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
    """Renders each record with the runtime's renderer and hands it to the sink (one frame
    on Lambda's telemetry descriptor, or one flushed stdout line)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            request_id, tenant_id = invocation_ids()
            record.aws_request_id = request_id
            record.tenant_id = tenant_id
            render.write(self._render(record, request_id, tenant_id), record.levelno)
        except Exception:
            self.handleError(record)

    def _render(self, record: logging.LogRecord, request_id: str, tenant_id: str | None) -> str:
        if self.formatter is not None:  # the user chose a format: honour it, one record each
            return self.format(record)
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
        return render.render_record(
            record.levelname,
            record.created,
            record.getMessage(),
            record.name,
            request_id,
            tenant_id,
            exc_info=exc_info,
            stack_info=record.stack_info,
        )


def install_bridge(level: int) -> None:
    """Attach the handler to the root logger (once); with ``AWS_LAMBDA_LOG_LEVEL`` set
    (``level`` > 0), set the root logger's level to it, as awslambdaric does.

    Without it the root logger keeps its level (Python's default WARNING): on AWS an
    unchanged handler's ``logging.info()`` writes nothing. With it, the level is also the
    handler's floor: Lambda drops records below it whatever a logger's own level says.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, LambdaLogHandler)), None)
    if handler is None:
        handler = LambdaLogHandler()
        root.addHandler(handler)
    handler.setLevel(level)
    if level:
        root.setLevel(level)
    # awslambdaric does this too: a user's Formatter prints UTC times, as Lambda's clock is.
    logging.Formatter.converter = time.gmtime
