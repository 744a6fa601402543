"""The one value every part of the runtime passes around: an invocation from ``/next``,
and where the one being served is kept (``current_invocation``).

It is a plain ``__slots__`` class (not a dataclass) because this module is on the
start-up path of the blocking engine, where every import is paid at each cold start.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

__all__ = ["ALONE", "CURRENT", "Invocation", "current_invocation"]


class Invocation:
    """What the Runtime API said about one invocation, headers already decoded.

    Empty header values are stored as ``None``: Lambda Managed Instances send some
    headers with empty values, which mean the same as an absent header. Every field may be
    given by position (``protocol.parse_invocation`` does, on the warm path: ~0.4 µs less
    than six keywords); elsewhere the optional ones are given by name.
    """

    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "content_type",
        "deadline_ms",
        "invocation_id",
        "invoked_function_arn",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        invoked_function_arn: str,
        body: bytes,
        trace_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
        invocation_id: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.request_id = request_id
        #: Absolute deadline, Unix epoch milliseconds.
        self.deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_function_arn
        self.body = body
        #: The X-Ray header value (``Root=...;Parent=...;Sampled=...``).
        self.trace_id = trace_id
        #: Raw JSON of ``Lambda-Runtime-Client-Context``, decoded lazily by the context object.
        self.client_context = client_context
        #: Raw JSON of ``Lambda-Runtime-Cognito-Identity``.
        self.cognito_identity = cognito_identity
        self.tenant_id = tenant_id
        #: Nonce to echo back as ``Lambda-Runtime-Invocation-Id`` on the result.
        self.invocation_id = invocation_id
        self.content_type = content_type

    def remaining_ms(self) -> int:
        """Whole milliseconds left before the deadline, 0 once past it: the one reading of
        the clock against ``deadline_ms`` that the context, the deadline watch and native
        programs share, so they can never disagree about how much time is left."""
        remaining = self.deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def __repr__(self) -> str:
        return (
            f"Invocation(request_id={self.request_id!r}, deadline_ms={self.deadline_ms}, "
            f"tenant_id={self.tenant_id!r}, body={len(self.body)} bytes)"
        )


# The invocation being served by the current thread or task: set and reset around each
# handler call by ``dispatch.Serving`` (the one place that enters and leaves one), read by
# ``current_invocation()`` and so by every log record. A ContextVar (not a global) so that
# concurrent invocations on one event loop never see each other's ids.
CURRENT: ContextVar[Invocation | None] = ContextVar("lambdaboot_invocation", default=None)

# At concurrency 1 there is one invocation in the whole process, so threads the user starts
# (a ThreadPoolExecutor does not copy context variables) should still see it, as they do
# under awslambdaric. ``dispatch.Serving`` puts it in this one-item list while it is served
# alone (engines that serve several at once leave it None, so ids are never crossed): a
# list, so that this module keeps the value without owning the code that sets it.
ALONE: list[Invocation | None] = [None]


def current_invocation() -> Invocation | None:
    """The invocation being served here (request id, trace id, tenant id, deadline), or None.

    Works from sync handlers, ``async def`` handlers, threads the handler starts (at
    concurrency 1), and log processors.
    """
    return CURRENT.get() or ALONE[0]
