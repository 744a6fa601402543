"""The ``context`` argument handlers receive, attribute for attribute awslambdaric 4.2.2's.

Same class names, attribute names, types and ``repr`` as awslambdaric's ``LambdaContext``
(``memory_limit_in_mb`` is a ``str``, as the environment gives it), so handlers and
libraries (Powertools) that read it work unchanged.

Cheap to build: the function's environment is read once (``read_function_env``), and
the client-context and Cognito headers, usually absent, are parsed only when present.
They are parsed before the handler runs, though, because a malformed one must fail the
invocation with ``Runtime.LambdaContextUnmarshalError`` rather than surprise the handler.
"""

from __future__ import annotations

import os
import sys

from runtime_core.invocation import Invocation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Client",
    "ClientContext",
    "CognitoIdentity",
    "ContextUnmarshalError",
    "LambdaContext",
    "read_function_env",
]

#: The W3C trace-context fields ``LambdaContext.w3c()`` exposes from ``clientContext.w3c``.
W3C_FIELDS = ("traceparent", "tracestate", "baggage")

_ENV_NAMES = (
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
)
_env: tuple[str | None, ...] | None = None


def read_function_env() -> None:
    """(Re)read the function's names from the environment; done once, on first use."""
    global _env
    _env = tuple(os.environ.get(name) for name in _ENV_NAMES)


class ContextUnmarshalError(Exception):
    """A client-context or Cognito header is not a JSON object."""


class CognitoIdentity:
    """The Cognito identity of the caller (mobile SDK invocations); attributes may be None."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity: dict[str, Any] | None = None) -> None:
        if not identity:  # the usual case, at every invocation: nothing to look up
            self.cognito_identity_id: str | None = None
            self.cognito_identity_pool_id: str | None = None
            return
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The calling app, from the client context's ``client`` object."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, client: dict[str, Any]) -> None:
        self.installation_id: Any = client.get("installation_id")
        self.app_title: Any = client.get("app_title")
        self.app_version_name: Any = client.get("app_version_name")
        self.app_version_code: Any = client.get("app_version_code")
        self.app_package_name: Any = client.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """The client context the caller sent (``custom``, ``env``, ``client``)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, context: dict[str, Any]) -> None:
        self.custom: Any = context.get("custom")
        self.env: Any = context.get("env")
        client = context.get("client")
        self.client: Any = None if client is None else Client(_as_object(client, "Client Context"))

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """What a handler knows about its invocation and its function."""

    __slots__ = (
        "_invocation",
        "_w3c_fields",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
        "tenant_id",
    )

    def __init__(self, invocation: Invocation) -> None:
        """Raises ``ContextUnmarshalError`` for a malformed client-context or Cognito header."""
        if _env is None:
            read_function_env()
        assert _env is not None
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = _env
        self.aws_request_id: str = invocation.request_id
        self.invoked_function_arn: str = invocation.invoked_function_arn
        self.tenant_id: str | None = invocation.tenant_id
        self._invocation = invocation
        self._w3c_fields: dict[str, str] = {}
        self.client_context: ClientContext | None = None
        if invocation.client_context:
            raw = _as_object(_parse(invocation.client_context, "Client Context"), "Client Context")
            w3c = raw.pop("w3c", None)
            if isinstance(w3c, dict):
                self._w3c_fields = {k: v for k in W3C_FIELDS if isinstance(v := w3c.get(k), str)}
            self.client_context = ClientContext(raw)
        identity = None
        if invocation.cognito_identity:
            identity = _as_object(
                _parse(invocation.cognito_identity, "Cognito Identity"), "Cognito Identity"
            )
        self.identity = CognitoIdentity(identity)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops this invocation (0 once past the deadline)."""
        return self._invocation.remaining_ms()

    def w3c(self) -> dict[str, str]:
        """The W3C trace context (traceparent, tracestate, baggage) the caller sent, if any."""
        return dict(self._w3c_fields)

    def log(self, msg: object) -> None:
        """Write ``msg`` to the function's log as it is (no newline added), like awslambdaric."""
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


def _parse(text: str, name: str) -> Any:
    """orjson for speed; the stdlib for what orjson refuses (NaN) and for the error's words."""
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise ContextUnmarshalError(f"Unable to parse {name} JSON: {exc}") from None


def _as_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContextUnmarshalError(
            f"Unable to parse {name} JSON: expected an object, got {type(value).__name__}"
        )
    return value
