"""The stdlib's C JSON codec (``_json``), reached without importing ``json``.

``json.loads`` and ``json.dumps`` run a C scanner and a C encoder, but importing ``json``
first loads ``json.decoder`` and ``json.encoder``, whose ``re`` and ``enum`` cost ~4 ms at
a cold start. This module calls the C pieces directly, for values made only of JSON's own
types (the callers check that).

That is a private API: ``_json.make_encoder`` takes nine positional arguments and
``make_scanner`` reads attributes of a ``JSONDecoder``, both CPython implementation
details (and on 3.11 the scanner raises ``SystemError`` for invalid input until
``json.decoder`` has been imported). So every call falls back to the public ``json``
module on ANY failure of the private path, and serving goes on: ``dumps`` then returns
what ``json.dumps`` returns, and ``scan`` returns ``MISS`` (the caller then parses with
the public path, which also words any error).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["MISS", "dumps", "scan"]

#: What ``scan`` returns when it did not parse the text (invalid, or the C path failed).
MISS: Any = object()

# JSON's whitespace, which json.loads skips around the document.
_JSON_SPACE = " \t\n\r"


def dumps(
    value: Any, *, ensure_ascii: bool, compact: bool, default: Callable[[Any], Any] | None = None
) -> str:
    """``json.dumps(value, ensure_ascii=..., separators=(",", ":") if compact else None,
    default=...)``.

    The defaults (``", "`` and ``": "``) are what awslambdaric's simplejson writes (and its
    log records' stdlib encoder, with ``default=str``).
    """
    item_sep, key_sep = (",", ":") if compact else (", ", ": ")
    try:
        return _c_dumps(value, ensure_ascii, item_sep, key_sep, default or _refuse)
    except Exception:  # another _json, or none: the public module writes the same text
        import json

        return json.dumps(
            value, ensure_ascii=ensure_ascii, separators=(item_sep, key_sep), default=default
        )


def _c_dumps(
    value: Any, ensure_ascii: bool, item_sep: str, key_sep: str, default: Callable[[Any], Any]
) -> str:
    import _json

    escape = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    if type(value) is str:
        return str(escape(value))
    # What json.dumps runs: markers (None: no circular check, plain values are bounded),
    # default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan.
    write = _json.make_encoder(None, default, escape, None, key_sep, item_sep, False, False, True)
    return "".join(write(value, 0))


def _refuse(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def scan(text: str) -> Any:
    """The value ``json.loads(text)`` gives (NaN and Infinity refused), or ``MISS`` when
    the text is not one well-formed document or the C scanner could not say."""
    try:
        from _json import make_scanner

        start = len(text) - len(text.lstrip(_JSON_SPACE))
        value, end = make_scanner(_ScanSettings)(text, start)  # type: ignore[arg-type]
        if end >= len(text.rstrip(_JSON_SPACE)):
            return value
    except Exception:  # invalid, too deep, or the private API misbehaved: not decided here
        pass
    return MISS


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


class _ScanSettings:
    """What ``json.JSONDecoder`` hands the C scanner (it reads these attributes; on a
    class, the function stays a plain function)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _reject_constant
