"""The two events the Extensions API hands an external extension, as typed values.

Lambda sends JSON; an extension wants fields it can rely on. Parsing lives here once so
the loop and the tests read the wire format the same way (spec §5: ``deadlineMs`` is
epoch milliseconds, ``tracing`` is absent without a trace, and the shutdown reason's case
is not fixed, so it is lower-cased).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from runtime_core.protocol import ApiError

__all__ = ["InvokeEvent", "ShutdownEvent", "parse_event"]


@dataclass(frozen=True, slots=True)
class InvokeEvent:
    """An invocation has started; the extension may work until it asks for the next event."""

    request_id: str
    #: When the invocation times out, in epoch milliseconds.
    deadline_ms: int
    invoked_function_arn: str
    #: The X-Ray trace header value (``Root=…;Parent=…;Sampled=…``), or None without tracing.
    tracing: str | None = None

    def remaining_ms(self) -> int:
        """Milliseconds left before the invocation's deadline (0 once it has passed)."""
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass(frozen=True, slots=True)
class ShutdownEvent:
    """The environment is ending: flush and exit before ``deadline_ms`` (epoch ms)."""

    #: ``spindown``, ``timeout`` or ``failure`` (lower-cased: Lambda's case varies).
    reason: str
    deadline_ms: int

    def remaining_ms(self) -> int:
        """Milliseconds left before Lambda kills the extension (0 once it has passed)."""
        return max(0, self.deadline_ms - int(time.time() * 1000))


def parse_event(body: bytes) -> InvokeEvent | ShutdownEvent:
    """The event in a ``GET /event/next`` body; ``ApiError`` if it is not one Lambda sends."""
    try:
        data = json.loads(body)
        kind = data["eventType"]
        deadline = int(data["deadlineMs"])
        if kind == "INVOKE":
            tracing = data.get("tracing") or {}
            return InvokeEvent(
                str(data["requestId"]),
                deadline,
                str(data.get("invokedFunctionArn", "")),
                tracing.get("value") or None,
            )
        if kind == "SHUTDOWN":
            return ShutdownEvent(str(data.get("shutdownReason", "")).lower(), deadline)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ApiError(
            f"/event/next sent an event that cannot be read ({exc!r}): {body[:300]!r}"
        ) from None
    raise ApiError(f"/event/next sent an unknown event type {kind!r}")
