"""The runtime's side of one invocation, blocking: next, post the outcome, report init errors.

Shared by start-up (``/init/error``) and the blocking engine. The async engine has the
same three steps over an async driver in ``engine.aio``.
"""

from __future__ import annotations

import os

from runtime_core.protocol import RuntimeProtocol, parse_invocation, post_verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping
    from typing import Protocol

    from runtime_core.dispatch import InitError, Outcome
    from runtime_core.invocation import Invocation
    from runtime_core.protocol import Request, Response

    class SyncTransport(Protocol):
        address: str

        def send(self, request: Request) -> Response: ...
        def close(self) -> None: ...


__all__ = [
    "TRANSPORT_ENV",
    "RuntimeClient",
    "log_lost",
    "make_transport",
    "outcome_request",
    "runtime_failure",
    "set_trace_env",
    "transport_kind",
]

_TRACE_ENV = "_X_AMZN_TRACE_ID"
TRANSPORT_ENV = "LAMBDABOOT_TRANSPORT"


def transport_kind(environ: Mapping[str, str] = os.environ) -> str:
    """``socket`` (the default) or ``httpx``: the driver ``LAMBDABOOT_TRANSPORT`` asks for,
    for both engines. Anything else is a ``ValueError`` saying what is accepted (start-up
    checks it before the handler is loaded, so the engines' later calls cannot fail)."""
    value = environ.get(TRANSPORT_ENV, "")
    kind = value.strip().lower() or "socket"
    if kind not in ("socket", "httpx"):
        raise ValueError(
            f"{TRANSPORT_ENV} must be socket or httpx (or unset for socket), got {value!r}"
        )
    return kind


def make_transport(address: str) -> SyncTransport:
    """The blocking driver ``LAMBDABOOT_TRANSPORT`` asks for (see ``transport_kind``)."""
    if transport_kind() == "httpx":
        from runtime_core.transport.httpx_driver import HttpxTransport

        return HttpxTransport(address)
    from runtime_core.transport.blocking import BlockingTransport

    return BlockingTransport(address)


def set_trace_env(invocation: Invocation, environ: MutableMapping[str, str] = os.environ) -> None:
    """``_X_AMZN_TRACE_ID`` for this invocation; removed when Lambda sent none (X-Ray SDKs read it)."""
    trace_id = invocation.trace_id
    if trace_id:
        environ[_TRACE_ENV] = trace_id
    elif _TRACE_ENV in environ:
        del environ[_TRACE_ENV]


def outcome_request(
    protocol: RuntimeProtocol, invocation: Invocation, outcome: Outcome
) -> tuple[str, Request]:
    """The ``/response`` or ``/error`` request that reports ``outcome``, and its name for logs."""
    if outcome.is_error:
        return "/error", protocol.error(
            invocation, outcome.body, outcome.error_type, outcome.xray_cause
        )
    return "/response", protocol.response(invocation, outcome.body, outcome.content_type)


def runtime_failure(exc: Exception, invocation: Invocation) -> Outcome:
    """The error to post when dispatch itself failed (a bug, or a function that shadows one
    of the runtime's packages with an incompatible one), so the invocation is still answered.

    Built with the stdlib ``json``: the failure may be orjson's.
    """
    import json
    import traceback

    from runtime_core.outcome import Outcome

    message = f"lambdaboot could not run the handler: {exc!r}"
    log_lost(f"invocation {invocation.request_id}: {message}\n{traceback.format_exc()}")
    body = json.dumps(
        {
            "errorMessage": message,
            "errorType": "Runtime.InternalError",
            "requestId": invocation.request_id,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    ).encode()
    return Outcome(True, body, None, "Runtime.InternalError")


def log_lost(message: str) -> None:
    from runtime_core.logs import runtime_log

    runtime_log("ERROR", message)


class RuntimeClient:
    """The three calls of the Runtime API a blocking runtime makes, with the status policy."""

    def __init__(self, address: str, transport: SyncTransport | None = None) -> None:
        self.protocol = RuntimeProtocol(address)
        self.transport = transport or make_transport(address)

    def next(self) -> Invocation:
        return parse_invocation(self.transport.send(self.protocol.next_request))

    def post(self, invocation: Invocation, outcome: Outcome) -> None:
        """Post the handler's result or error; a refused post is logged, a broken API raises."""
        what, request = outcome_request(self.protocol, invocation, outcome)
        problem = post_verdict(what, self.transport.send(request))
        if problem is not None:
            log_lost(f"invocation {invocation.request_id}: {problem}")

    def init_error(self, error: InitError) -> None:
        """Report a failed init; the caller exits next, so any answer is only logged."""
        response = self.transport.send(self.protocol.init_error(error.body, error.error_type))
        if response.status not in (200, 202):
            log_lost(f"POST /init/error answered {response.status}")
