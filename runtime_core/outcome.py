"""What the engine posts for one invocation: a result or an error, already encoded.

A plain ``__slots__`` class (not a dataclass): it is built once per invocation on the
start-up path, where ``dataclasses`` would cost an import.
"""

from __future__ import annotations

__all__ = ["Outcome"]


class Outcome:
    """The bytes and headers of ``/response`` (``is_error`` false) or ``/error`` (true)."""

    __slots__ = ("body", "content_type", "error_type", "is_error", "xray_cause")

    def __init__(
        self,
        is_error: bool,
        body: bytes,
        content_type: str | None = None,
        error_type: str | None = None,
        xray_cause: str | None = None,
    ) -> None:
        self.is_error = is_error
        self.body = body
        #: ``Content-Type`` of a result (``application/json`` or, for ``bytes``, octet-stream).
        self.content_type = content_type
        #: ``Lambda-Runtime-Function-Error-Type`` value (errors only), e.g. ``Function.ValueError``.
        self.error_type = error_type
        #: ``Lambda-Runtime-Function-XRay-Error-Cause`` value, or None to leave the header out.
        self.xray_cause = xray_cause

    def __repr__(self) -> str:
        kind = f"error {self.error_type}" if self.is_error else f"result {self.content_type}"
        return f"Outcome({kind}, body={len(self.body)} bytes)"
