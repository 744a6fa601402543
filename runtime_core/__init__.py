"""lambdaboot's runtime: the loop that serves Python handlers on AWS Lambda.

Users import three things from here; everything else is internal. ``get_logger`` is
resolved lazily because structlog imports asyncio (~40 ms), which a plain sync handler
should not pay for at cold start.
"""

from __future__ import annotations

from runtime_core.invocation import Invocation, current_invocation
from runtime_core.shutdown import on_shutdown

__version__ = "0.1.0"

__all__ = ["Invocation", "__version__", "current_invocation", "get_logger", "on_shutdown"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from structlog.typing import FilteringBoundLogger


def get_logger(name: str | None = None, **initial_values: Any) -> FilteringBoundLogger:
    """A structlog logger whose records carry the current invocation's ids.

    It renders through the same Text/JSON renderer as the stdlib ``logging`` bridge, so
    both kinds of record look the same in CloudWatch.
    """
    from runtime_core.logs.structlog_setup import get_logger as _get_logger

    return _get_logger(name, **initial_values)
