"""Write an external Lambda extension in Python, shipped in the same layer as the runtime.

An extension is a separate process (an executable in ``/opt/extensions``), so unlike the
runtime's start-up path it may import asyncio; see docs/extensions.md for a walk-through::

    from runtime_core.extensions import Extension

    ext = Extension()

    @ext.on_telemetry(types=("function",))
    async def ship(events): ...

    @ext.on_shutdown
    async def flush(event): ...

    ext.run()
"""

from __future__ import annotations

from runtime_core.extensions.client import ExtensionApiError, ExtensionClient, Registration
from runtime_core.extensions.events import InvokeEvent, ShutdownEvent, parse_event
from runtime_core.extensions.loop import Extension
from runtime_core.extensions.telemetry import (
    Buffering,
    LogRecord,
    PlatformRecord,
    ReportRecord,
    TelemetryEvent,
    TelemetryListener,
    parse_batch,
)

__all__ = [
    "Buffering",
    "Extension",
    "ExtensionApiError",
    "ExtensionClient",
    "InvokeEvent",
    "LogRecord",
    "PlatformRecord",
    "Registration",
    "ReportRecord",
    "ShutdownEvent",
    "TelemetryEvent",
    "TelemetryListener",
    "parse_batch",
    "parse_event",
]
