"""Events in, results out: JSON with orjson, compatible with what awslambdaric produces.

orjson is imported on first use, not at module import: it costs ~9-16 ms (it loads
dataclasses, uuid and enum), and a function that fails at init never needs it.

Compatibility with awslambdaric 4.2.2 (simplejson underneath) is kept where orjson differs:

- results: integers beyond 64 bits, non-``str`` dict keys (int, float, bool, None),
  ``Decimal`` (written as its exact digits) and anything with an ``_asdict()`` method
  (namedtuples) are written as simplejson writes them. orjson's fast path is tried first;
  only a value it refuses takes the slower compatible path.
- events: a body with a run of 20 or more digits (an integer that may not fit 64 bits,
  which orjson would silently turn into a float) is parsed by the stdlib ``json``
  module, which keeps such integers exact, as simplejson does. Invalid JSON (including
  ``NaN``/``Infinity``, which simplejson refuses too) is worded by the stdlib, whose
  messages are simplejson's.

Beyond awslambdaric: ``datetime``, ``date``, ``time``, ``UUID``, ``Enum`` and dataclasses
are written (orjson's native forms), and float or ``Decimal`` NaN/infinity become ``null``
rather than the invalid JSON tokens ``NaN``/``Infinity``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "BYTES_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "MarshalError",
    "UnmarshalError",
    "decode_event",
    "encode_error",
    "encode_result",
]

JSON_CONTENT_TYPE = "application/json"
#: What a ``bytes`` result is sent as. awslambdaric says ``application/unknown``, which is
#: not a registered media type; ``application/octet-stream`` is the standard word for it.
BYTES_CONTENT_TYPE = "application/octet-stream"

# Maps every ASCII digit to b"0" and every other byte to b" ": after ``translate``, a run
# of 20 zeros marks a number with 20+ digits, which may exceed orjson's 64-bit integers.
_DIGIT_RUN_TABLE = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 20


class UnmarshalError(Exception):
    """The event body is not valid JSON (``Runtime.UnmarshalError``)."""


class MarshalError(Exception):
    """The handler's result cannot be written as JSON (``Runtime.MarshalError``)."""


def decode_event(body: bytes, content_type: str | None) -> Any:
    """The event the handler receives: parsed JSON, or the raw bytes for other content types.

    As awslambdaric does, only ``application/json`` is parsed (an absent content type means
    JSON: the Runtime API's default); ``application/json; charset=...`` counts as JSON too.
    """
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() != JSON_CONTENT_TYPE:
        return body
    import orjson

    if _LONG_DIGIT_RUN not in body.translate(_DIGIT_RUN_TABLE):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # invalid: the stdlib words the error as simplejson (awslambdaric) does
    import json

    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise UnmarshalError(f"Unable to unmarshal input: {exc}") from None


def _reject_constant(token: str) -> Any:
    """NaN and Infinity are not JSON; awslambdaric's simplejson refuses them too."""
    raise ValueError(f"Expecting value: {token} is not valid JSON")


def encode_result(result: Any) -> tuple[bytes, str]:
    """The response body and its content type. ``bytes`` are sent as they are.

    Raises ``MarshalError`` (with awslambdaric's message prefix) for values JSON cannot hold.
    """
    if isinstance(result, bytes):
        return result, BYTES_CONTENT_TYPE
    import orjson

    try:
        return orjson.dumps(result, default=_default), JSON_CONTENT_TYPE
    except TypeError:
        pass  # a big integer or a non-str key: retry on the compatible path below
    try:
        return (
            orjson.dumps(_compatible(result), default=_default),
            JSON_CONTENT_TYPE,
        )
    except TypeError as exc:
        raise MarshalError(f"Unable to marshal response: {_describe(exc)}") from None


def encode_error(payload: dict[str, Any]) -> bytes:
    """JSON for an error body or X-Ray cause, whose strings come from arbitrary exceptions.

    A lone surrogate in an exception message is legal in a Python ``str`` but not in UTF-8;
    orjson refuses it, so the stdlib writes it as an escape instead of losing the error.
    """
    import orjson

    try:
        return orjson.dumps(payload)
    except TypeError:
        import json

        return json.dumps(payload).encode()


def _default(obj: Any) -> Any:
    """orjson's hook for types it does not know: Decimal, and namedtuple-like objects."""
    asdict = getattr(obj, "_asdict", None)
    if callable(asdict):  # simplejson's namedtuple_as_object: any object with _asdict()
        return _compatible(asdict())
    from decimal import Decimal

    if isinstance(obj, Decimal):
        if obj.is_finite():
            import orjson

            return orjson.Fragment(str(obj))  # exact digits, as simplejson writes them
        return None
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _compatible(obj: Any) -> Any:
    """A copy orjson accepts: big ints as raw digits, and dict keys as simplejson writes them."""
    if isinstance(obj, int) and not isinstance(obj, bool) and not -(2**63) <= obj < 2**64:
        import orjson

        return orjson.Fragment(str(int(obj)))
    if isinstance(obj, dict):
        return {_key(k): _compatible(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        asdict = getattr(obj, "_asdict", None)
        if callable(asdict):
            return _compatible(asdict())
        return [_compatible(v) for v in obj]
    return obj


def _key(key: Any) -> Any:
    """A dict key as simplejson writes it: str, int, float, bool and None only."""
    if isinstance(key, str):
        return str.__str__(key)  # a plain str: orjson refuses subclasses (str enums) as keys
    if key is None or isinstance(key, bool):
        return "null" if key is None else ("true" if key else "false")
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        import json

        return json.dumps(key)  # repr with NaN/Infinity spelled as simplejson spells them
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _describe(exc: TypeError) -> str:
    """orjson's error text, with the cause (from our hook) preferred when there is one."""
    cause = exc.__cause__
    return str(cause) if cause is not None else str(exc)
