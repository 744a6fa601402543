"""Run a handler in-process, as the runtime would, from a unit test (as ``structlog.testing``).

``invoke`` builds the invocation Lambda would send (request id, deadline, ARN, optional
client context, Cognito identity, tenant and trace ids, or any Runtime API header as
Lambda sends it: ``make_invocation(headers=...)``), decodes the event, gives the
handler awslambdaric's context object and encodes the result, through the same code the
engines use (``runtime_core.dispatch``); so a test sees exactly the bytes Lambda would get,
error payloads included, without a Runtime API, a socket or a subprocess::

    from runtime_core.testing import invoke

    def test_greets():
        result = invoke(app.handler, {"name": "Ada"})
        assert result.json() == {"greeting": "Hello, Ada"}

    def test_refuses_a_bad_event():
        result = invoke(app.handler, {})
        assert result.error_type == "KeyError"

``async def`` handlers run on a fresh event loop; streaming ones have their chunks
collected (``Result.chunks``). While the handler runs, ``current_invocation()`` and every
log record carry the invocation's ids, as in Lambda. Not on the runtime's start-up path.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from runtime_core import dispatch, protocol
from runtime_core.dispatch import ResponseStream, Serving
from runtime_core.handler_kind import is_streaming
from runtime_core.invocation import Invocation
from runtime_core.protocol import Response, parse_invocation

__all__ = ["Result", "invoke", "make_invocation"]

DEFAULT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:test-function"


class Result:
    """What the runtime would have posted: a result (``payload``) or an error."""

    def __init__(
        self, payload: bytes, is_error: bool, error_type: str | None, content_type: str | None
    ) -> None:
        #: The body of ``/response`` or ``/error``, byte for byte.
        self.payload = payload
        self.is_error = is_error
        self._error_type = error_type
        self.content_type = content_type
        #: A streaming handler's chunks, in the order written (empty otherwise).
        self.chunks: list[bytes] = []

    @property
    def error_type(self) -> str | None:
        """The error's ``errorType`` (``ValueError``, ``Runtime.MarshalError``...), as the
        error document says; None for a result."""
        if not self.is_error:
            return None
        try:
            return str(self.json()["errorType"])
        except (ValueError, KeyError, TypeError):
            return self._error_type

    def json(self) -> Any:
        """The payload decoded (the error document, for an error)."""
        return json.loads(self.payload)

    def __repr__(self) -> str:
        kind = f"error {self.error_type}" if self.is_error else "result"
        return f"Result({kind}, {self.payload[:80]!r})"


def make_invocation(
    event: Any = None,
    *,
    raw: bytes | None = None,
    request_id: str | None = None,
    timeout_s: float = 3.0,
    function_arn: str = DEFAULT_ARN,
    client_context: dict[str, Any] | None = None,
    identity: dict[str, Any] | None = None,
    tenant_id: str | None = None,
    trace_id: str | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str | None] | None = None,
) -> Invocation:
    """The invocation Lambda would deliver for ``event`` (JSON-encoded unless ``raw``).

    It is decoded from the ``/next`` headers the keywords make, by the engines' own code
    (``protocol.parse_invocation``). ``headers`` adds Runtime API headers as Lambda sends
    them, raw, over the keywords' (names in any case; ``None`` leaves one out): for what
    the keywords cannot say, such as a malformed client context, which the handler's
    context then refuses as it would in Lambda::

        make_invocation({"n": 1}, headers={"Lambda-Runtime-Client-Context": "{not json"})
    """
    body = raw if raw is not None else json.dumps(event).encode()
    sent = {
        protocol.N_REQUEST_ID: request_id or str(uuid.uuid4()),
        protocol.N_DEADLINE: str(int(time.time() * 1000 + timeout_s * 1000)),
        protocol.N_FUNCTION_ARN: function_arn,
        "content-type": content_type,
    }
    optional = {
        protocol.N_TRACE_ID: trace_id,
        protocol.N_CLIENT_CONTEXT: _json_or_none(client_context),
        protocol.N_COGNITO_IDENTITY: _json_or_none(identity),
        protocol.N_TENANT_ID: tenant_id,
    }
    for name, value in [*optional.items(), *(headers or {}).items()]:
        if value is None:
            sent.pop(name.lower(), None)
        else:
            sent[name.lower()] = value
    return parse_invocation(Response(200, sent, body))


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def invoke(handler: Any, event: Any = None, **invocation: Any) -> Result:
    """Call ``handler`` (a callable, or a ``module.function`` spec importable from
    ``sys.path``) with ``event`` as Lambda would; ``invocation`` takes
    ``make_invocation``'s keywords. Never raises for what the handler does."""
    if isinstance(handler, str):
        import os

        from runtime_core.handler_loader import load_handler

        handler = load_handler(handler, os.getcwd())
    served = make_invocation(event, **invocation)
    if is_streaming(handler):
        return _invoke_streaming(handler, served)
    with Serving(served, alone=True):
        if dispatch.is_async(handler):
            import asyncio

            outcome = asyncio.run(dispatch.call_async(handler, served))
        else:
            outcome = dispatch.call_sync(handler, served)
    return Result(outcome.body, outcome.is_error, outcome.error_type, outcome.content_type)


class _Collector:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.content_type: str | None = None

    async def begin(self, content_type: str) -> None:
        self.content_type = content_type

    async def write(self, data: bytes) -> None:
        if data:
            self.chunks.append(data)


def _invoke_streaming(handler: Any, served: Invocation) -> Result:
    import asyncio

    collector = _Collector()
    stream = ResponseStream(collector)
    with Serving(served, alone=True):
        outcome = asyncio.run(dispatch.call_streaming(handler, served, stream))
    if outcome.is_error and not stream.started:
        return Result(outcome.body, True, outcome.error_type, outcome.content_type)
    result = Result(
        b"".join(collector.chunks), outcome.is_error, outcome.error_type, collector.content_type
    )
    result.chunks = collector.chunks
    return result
