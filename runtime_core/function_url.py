"""A Function URL's response for a streaming handler: status, headers, cookies, then a body.

A value type of its own (re-exported by ``runtime_core.streaming``), so that ``dispatch``,
which streams it, and the public ``streaming`` module can both import it without
importing each other.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["HTTP_INTEGRATION_CONTENT_TYPE", "FunctionUrlResponse"]

#: The content type that tells a Function URL to read a prelude first.
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
_PRELUDE_END = b"\x00" * 8


class FunctionUrlResponse:
    """A Function URL's HTTP response: status, headers and cookies, then a (streamed) body.

    Return it from a streaming handler, or pass it to :meth:`ResponseStream.set_http_response`
    before the first write. ``body`` may be bytes, str, or an iterable or async iterable of them.
    """

    __slots__ = ("body", "cookies", "headers", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        cookies: Sequence[str] | None = None,
        body: Any = None,
    ) -> None:
        if not 100 <= status_code <= 599:
            raise ValueError(f"FunctionUrlResponse status_code must be 100-599, not {status_code}")
        self.status_code = status_code
        self.headers = dict(headers or {})
        self.cookies = list(cookies or ())
        self.body = body

    def prelude(self) -> bytes:
        """The JSON prelude and its 8-NUL terminator, as a Function URL reads them."""
        import json

        document: dict[str, Any] = {"statusCode": self.status_code}
        if self.headers:
            document["headers"] = self.headers
        if self.cookies:
            document["cookies"] = self.cookies
        encoded = json.dumps(document, separators=(",", ":")).encode()
        if b"\x00" in encoded:  # json escapes NUL in strings, so only a bug could get here
            raise ValueError("a FunctionUrlResponse prelude may not contain NUL bytes")
        return encoded + _PRELUDE_END
