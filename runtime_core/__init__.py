"""lambdaboot's runtime: the loop that serves Python handlers on AWS Lambda.

What users import is what ``__all__`` lists; everything else is internal. Only
``Invocation``, ``current_invocation`` and ``on_shutdown`` are imported with the package:
the rest costs imports a plain sync handler should not pay for at cold start, so it is
resolved on first use. ``get_logger`` imports structlog, which imports asyncio (~40 ms);
the extension API (``Extension``, ``InvokeEvent``, ``ShutdownEvent``, used by extension
processes) imports asyncio; response streaming and native programs as handlers load their
own modules.
"""

from __future__ import annotations

from runtime_core.invocation import Invocation, current_invocation
from runtime_core.shutdown import on_shutdown
from runtime_core.version import __version__

__all__ = [
    "CoProcess",
    "ExecHandler",
    "Extension",
    "FunctionUrlResponse",
    "Invocation",
    "InvokeEvent",
    "NativeError",
    "ResponseStream",
    "ShutdownEvent",
    "__version__",
    "current_invocation",
    "get_logger",
    "on_shutdown",
    "streaming_response",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from structlog.typing import FilteringBoundLogger

    from runtime_core.extensions import Extension, InvokeEvent, ShutdownEvent
    from runtime_core.native import CoProcess, ExecHandler, NativeError
    from runtime_core.streaming import FunctionUrlResponse, ResponseStream, streaming_response

#: Names of the extension API (runtime_core.extensions), imported only when first used:
#: it imports asyncio, which the runtime's start-up path must not pay for.
_EXTENSION_NAMES = ("Extension", "InvokeEvent", "ShutdownEvent")
#: Response streaming (runtime_core.streaming), imported when a handler module asks for it.
_STREAMING_NAMES = ("FunctionUrlResponse", "ResponseStream", "streaming_response")
#: Native programs as handlers (runtime_core.native): it imports subprocess, so only on use.
_NATIVE_NAMES = ("CoProcess", "ExecHandler", "NativeError")


def __getattr__(name: str) -> Any:
    if name in _EXTENSION_NAMES:
        from runtime_core import extensions

        return getattr(extensions, name)
    if name in _STREAMING_NAMES:
        from runtime_core import streaming

        return getattr(streaming, name)
    if name in _NATIVE_NAMES:
        from runtime_core import native

        return getattr(native, name)
    raise AttributeError(f"module 'runtime_core' has no attribute {name!r}")


def get_logger(name: str | None = None, **initial_values: Any) -> FilteringBoundLogger:
    """A structlog logger whose records carry the current invocation's ids.

    It renders through the same Text/JSON renderer as the stdlib ``logging`` bridge, so
    both kinds of record look the same in CloudWatch.
    """
    from runtime_core.logs.structlog_setup import get_logger as _get_logger

    return _get_logger(name, **initial_values)
