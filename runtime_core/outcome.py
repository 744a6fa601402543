"""What the engine posts for one invocation: a result or an error, buffered or streamed.

A plain ``__slots__`` class (not a dataclass): it is built once per invocation on the
start-up path, where ``dataclasses`` would cost an import.
"""

from __future__ import annotations

__all__ = ["STREAMED", "Outcome"]


class Outcome:
    """The bytes and headers of ``/response`` (``is_error`` false) or ``/error`` (true).

    The streaming case: ``streamed`` is true when the result's bytes went out through a
    ``ResponseStream`` as the handler wrote them (``STREAMED``), so there is no body here.
    An error from a streaming handler is an ordinary error ``Outcome``: posted to
    ``/error`` when nothing was streamed yet, sent as trailers after the first bytes.
    """

    __slots__ = ("body", "content_type", "error_type", "is_error", "streamed", "xray_cause")

    def __init__(
        self,
        is_error: bool,
        body: bytes,
        content_type: str | None = None,
        error_type: str | None = None,
        xray_cause: str | None = None,
        streamed: bool = False,
    ) -> None:
        self.is_error = is_error
        self.body = body
        #: ``Content-Type`` of a result (``application/json`` or, for ``bytes``, octet-stream).
        self.content_type = content_type
        #: ``Lambda-Runtime-Function-Error-Type`` value (errors only), e.g. ``Function.ValueError``.
        self.error_type = error_type
        #: ``Lambda-Runtime-Function-XRay-Error-Cause`` value, or None to leave the header out.
        self.xray_cause = xray_cause
        self.streamed = streamed

    def __repr__(self) -> str:
        if self.streamed:
            return "Outcome(streamed result)"
        kind = f"error {self.error_type}" if self.is_error else f"result {self.content_type}"
        return f"Outcome({kind}, body={len(self.body)} bytes)"


#: A streaming handler that ended well: its bytes have been streamed already.
STREAMED = Outcome(False, b"", streamed=True)
