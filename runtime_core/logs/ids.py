"""The ids every log record carries, read from the invocation being served.

A module of its own so that the ``logging`` bridge (``logs.stdlib``) and the structlog
processors can import it without importing ``runtime_core.logs`` back, which imports them.
"""

from __future__ import annotations

from runtime_core.invocation import current_invocation

__all__ = ["invocation_ids"]


def invocation_ids() -> tuple[str, str | None]:
    """``(requestId, tenantId)`` of the invocation being served; ``("", None)`` outside one."""
    invocation = current_invocation()
    if invocation is None:
        return "", None
    return invocation.request_id, invocation.tenant_id
