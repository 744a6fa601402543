"""What a native program's output becomes: the handler's result, or ``NativeBadOutput``."""

from __future__ import annotations

from runtime_core.native.failures import NativeBadOutput
from runtime_core.serialize import UnmarshalError, decode_event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["OUTPUT_MODES", "result_from"]

#: ``json``: the output must be one JSON value, which becomes the result (sent as
#: ``application/json``). ``bytes``: the output is the result as it is (octet-stream).
OUTPUT_MODES = ("json", "bytes")


def result_from(program: str, data: bytes, mode: str) -> Any:
    """The result for ``data``; JSON is parsed as events are (big integers kept exact)."""
    if mode == "bytes":
        return data
    if not data.strip():
        raise NativeBadOutput(
            program, f"{program} wrote nothing on stdout; it must write one JSON value"
        )
    try:
        return decode_event(data, None)
    except UnmarshalError as exc:
        detail = str(exc).removeprefix("Unable to unmarshal input: ")
        start = data[:120].decode("utf-8", "replace")
        raise NativeBadOutput(
            program,
            f"{program} wrote output that is not JSON ({detail}); it starts with {start!r}. "
            "Write one JSON value, or set the output mode to bytes",
        ) from None
