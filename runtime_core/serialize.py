"""Events in, results out: JSON with orjson, compatible with what awslambdaric produces.

orjson costs 8-16 ms to import (it loads uuid -> platform and dataclasses -> inspect, ast),
more than the rest of the runtime's start-up. Lambda bills a cold start as Init plus the
first invocation's Duration, which runs until the runtime asks for the next invocation,
and the environment is frozen while it waits: an import during Init, or after the first
response, is billed all the same, and one started in the background would resume inside
the next invocation. So orjson is imported only once it pays for itself.

Until then the stdlib's C scanner and encoder serve (``runtime_core.c_json``: what
``json.loads``/``json.dumps`` run, without importing ``json``): the event is parsed as
``json.loads`` parses it, and a result made only of JSON's own types (exact ``dict`` with
exact ``str`` keys, ``list``, ``tuple``, ``str``, ``bool``, ``None``, ``int`` within 64
bits, ``float`` written without an exponent) is written byte for byte as orjson writes it.
orjson is imported on the spot for a result of any other type, or an event of
``_ORJSON_NOW`` bytes or more; otherwise each invocation the C codec serves adds what it
cost over orjson (a few µs for a small event, more per KiB) to a running estimate, and
``after_response()``, which the engines call between a response and the next ``/next``,
imports orjson once that estimate reaches the import's cost: a short-lived environment
never pays the import, a busy one pays it once, early (at most twice the best choice in
hindsight). A function that imported orjson itself has it used from the first invocation.

Compatibility with awslambdaric 4.2.2 (simplejson underneath) is kept where orjson differs:

- results: integers beyond 64 bits, non-``str`` dict keys (int, float, bool, None),
  ``Decimal`` (written as its exact digits) and anything with an ``_asdict()`` method
  (namedtuples) are written as simplejson writes them. orjson's fast path is tried first;
  only a value it refuses takes the slower compatible path.
- events: a body that may hold an integer beyond orjson's 64 bits (20 or more digits, or
  a minus sign and 19: orjson would silently turn it into a float) is parsed by the
  stdlib ``json`` module, which keeps such integers exact, as simplejson does. Long digit
  runs inside strings (Kinesis and DynamoDB Streams sequence numbers, DynamoDB ``N``
  values) stay on orjson: see ``_may_hold_big_int``.
- invalid events: the body must be UTF-8 (simplejson detects no other encoding), ``NaN``
  and ``Infinity`` are refused, and the error is worded as simplejson words it
  (``runtime_core.json_errors``), in every path, the first invocation's included.

Beyond awslambdaric: ``datetime``, ``date``, ``time``, ``UUID``, ``Enum`` and dataclasses
are written (orjson's native forms), and float or ``Decimal`` NaN/infinity become ``null``
rather than the invalid JSON tokens ``NaN``/``Infinity``.
"""

from __future__ import annotations

import os
import sys

from runtime_core.c_json import MISS, dumps, scan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "BYTES_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "MarshalError",
    "UnmarshalError",
    "after_response",
    "decode_event",
    "encode_error",
    "encode_result",
    "forget_orjson",
    "preload",
]

JSON_CONTENT_TYPE = "application/json"
#: What a ``bytes`` result is sent as. awslambdaric says ``application/unknown``, which is
#: not a registered media type; ``application/octet-stream`` is the standard word for it.
BYTES_CONTENT_TYPE = "application/octet-stream"

# Maps every ASCII digit and the minus sign to b"0", the bytes no integer can touch
# (``"``, ``.``, ``e``, ``E``) to b"q", and every other byte to b" " (see
# ``_may_hold_big_int``).
_DIGIT_RUN_TABLE = bytes(
    0x30 if 0x30 <= b <= 0x39 or b == 0x2D else 0x71 if b in b'".eE' else 0x20 for b in range(256)
)
_LONG_DIGIT_RUN = b"0" * 20
_UNQUOTED_LONG_RUN = b" " + _LONG_DIGIT_RUN
_LONG_RUN_UNQUOTED_END = _LONG_DIGIT_RUN + b" "
_GUARD_CHUNK = 64 * 1024  # below malloc's mmap threshold (128 KB)

# orjson's integer range, and a nesting depth well below its limit (254 levels of lists
# and dicts in 3.13; lowering it has been proposed): deeper results are left to orjson,
# which decides what they become.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_PLAIN_DEPTH = 64

#: orjson once it is imported and initialised; None until then (see the module docstring).
_orjson: Any = None


class UnmarshalError(Exception):
    """The event body is not valid JSON (``Runtime.UnmarshalError``)."""


class MarshalError(Exception):
    """The handler's result cannot be written as JSON (``Runtime.MarshalError``)."""


#: An event this large is parsed by orjson from the start: the import pays within it.
_ORJSON_NOW = 256 * 1024
#: What importing orjson costs, in µs, and the running estimate of what serving without it
#: has cost so far (µs): a fixed part per call, and a part per byte, as measured on
#: x86_64 with Python 3.11-3.13 (the C codec's per-call setup ~3-5 µs each way; about
#: 5 ns more per event byte and 30 ns more per result byte than orjson).
_IMPORT_COST_US = 10_000.0
_DECODE_CALL_US, _DECODE_BYTE_US = 4.0, 0.005
_ENCODE_CALL_US, _ENCODE_BYTE_US = 5.0, 0.03
_spent_us = 0.0


def after_response() -> None:
    """Import orjson now if serving without it has cost as much as the import (see the
    module's docstring); the engines call it after posting each response.

    A failing import is not raised here, where it would end the engine: it is raised again
    by the first invocation that needs orjson, which reports it as that invocation's error.
    """
    if _spent_us < _IMPORT_COST_US or _orjson is not None:
        return
    try:
        _import_orjson()
    except Exception:  # raised again, and reported, by the next invocation that needs it
        return


def preload() -> None:
    """Import orjson now (tests, and functions that want it from the start)."""
    try:
        _import_orjson()
    except Exception:
        return


def forget_orjson() -> None:
    """Serve as at start-up again: orjson not yet used, nothing spent without it.

    For tests of the first invocation's path (with ``orjson`` also hidden from
    ``sys.modules``, else it is picked up again at once, as a function's own import is).
    """
    global _orjson, _spent_us
    _orjson = None
    _spent_us = 0.0


def _import_orjson() -> Any:
    global _orjson
    import orjson

    _orjson = orjson
    return orjson


def _loaded_orjson() -> Any:
    """orjson if it is imported (by ``preload``, an earlier call or the function), else None.

    ``import`` rather than ``sys.modules``: a module another thread is still initialising
    is in ``sys.modules`` already, and ``import`` waits for it to be complete.
    """
    if _orjson is None and "orjson" in sys.modules:
        return _import_orjson()
    return _orjson


def decode_event(body: bytes, content_type: str | None) -> Any:
    """The event the handler receives: parsed JSON, or the raw bytes for other content types.

    As awslambdaric does, only ``application/json`` is parsed (an absent content type means
    JSON: the Runtime API's default); ``application/json; charset=...`` counts as JSON too.
    A body that is not a JSON document raises ``UnmarshalError`` with awslambdaric's
    message: the body must be UTF-8 (no other encoding is detected), and the error is
    worded as simplejson words it.
    """
    if (
        content_type is not None
        and content_type != JSON_CONTENT_TYPE  # what Lambda sends: no parsing needed
        and content_type.split(";", 1)[0].strip().lower() != JSON_CONTENT_TYPE
    ):
        # A big body arrives as the bytearray it was received into; the handler gets bytes.
        return body if type(body) is bytes else bytes(body)
    global _spent_us
    orjson = _orjson
    if orjson is None:
        orjson = _loaded_orjson()
        if orjson is None:
            if len(body) < _ORJSON_NOW:
                _spent_us += _DECODE_CALL_US + _DECODE_BYTE_US * len(body)
                value = _first_loads(body)
                if value is not MISS:
                    return value
                return _general_loads(body)
            orjson = _import_orjson()
    return _orjson_loads(orjson, body)


def _orjson_loads(orjson: Any, body: bytes) -> Any:
    """The event as orjson parses it, with the general path for what orjson would get
    wrong (integers beyond 64 bits) or refuses (then the general path says why)."""
    if not _may_hold_big_int(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return _general_loads(body)


def _may_hold_big_int(body: bytes) -> bool:
    """False only when ``body``, if it is valid JSON, holds no integer beyond 64 bits.

    Such an integer has 20+ digits (or a minus sign and 19), and in valid JSON it is
    preceded by ``[``, ``,``, ``:``, whitespace or the start, and followed by ``,``,
    ``]``, ``}``, whitespace or the end: never next to ``"`` (that is a string), nor to
    ``.``, ``e`` or ``E`` (that is a float, which both parsers read alike). So a run of
    digits and minus signs that touches one of those four bytes on either side is no big
    integer, whatever escapes the strings hold (an invalid body is refused by orjson and
    worded as simplejson words it): the 56-digit ``"sequenceNumber"`` of Kinesis, its ``eventID``
    ``"shardId-...:4959..."``, DynamoDB's ``"N"`` values, an S3 key ``".../4959....csv"``.
    Only a long run touching none of them sends the body to the stdlib; inside a string
    that is rare, and the stdlib is exact anyway.

    The body is read in chunks small enough for malloc to reuse the same memory (a
    translated copy of a 5 MB body was a fresh mapping, ~1,200 page faults, at every
    invocation) and to stay in cache. Per chunk, one ``translate`` and the searches run
    at C speed; Python runs once per long run that starts after another byte, in a chunk
    where a long run also ends before another byte. A run still open at a chunk's end is
    carried, with the byte before it, into the next.
    """
    if len(body) <= _GUARD_CHUNK and _LONG_DIGIT_RUN not in body.translate(_DIGIT_RUN_TABLE):
        return False  # no run of 20 digits at all: the common small event, two C calls
    return _scan_for_big_int(body)


def _scan_for_big_int(body: bytes, chunk: int = _GUARD_CHUNK) -> bool:
    """``_may_hold_big_int``'s scan, chunk by chunk, with the bytes around each long run
    (``_may_hold_big_int`` goes without it for a small body with no run of 20 digits at
    all: ~1-5 µs less per event up to 1 KB, see docs/architecture.md). ``chunk`` is there
    for the tests, which put chunk ends next to every run, escape and separator."""
    size = len(body)
    carry = b" "  # the start of the body stands where a separator would
    for offset in range(0, size, chunk):
        marks = carry + body[offset : offset + chunk].translate(_DIGIT_RUN_TABLE)
        if offset + chunk >= size:
            marks += b" "  # and so does its end
        find = marks.find
        # A big integer also ends at a b" ": where no long run does (every one in a Kinesis
        # batch ends at a quote), Python looks at none of them (what it cost per record made
        # the guard dearer than orjson's parse: benchmarks/results/event_decode.json).
        start = find(_UNQUOTED_LONG_RUN) + 1 if find(_LONG_RUN_UNQUOTED_END) >= 0 else 0
        while start:
            # The run goes on to its first byte that is not b"0": a b"q" or a b" ".
            end = find(b" ", start + 20)
            if end < 0:
                break  # it reaches the end of the chunk: carried into the next one
            if find(b"q", start + 20, end) < 0:  # it ends at a b" " too: maybe an integer
                return True
            start = find(_UNQUOTED_LONG_RUN, end) + 1
        rest = marks.rstrip(b"0")
        carry = marks[len(rest) - 1 :] if rest.endswith(b" ") else b""
    return False


def _first_loads(body: bytes) -> Any:
    """The event as ``json.loads`` parses it, by the same C scanner, without importing
    ``json`` (``runtime_core.c_json``); ``MISS`` for anything but a well-formed UTF-8
    document, which the general path then decides on."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return MISS
    return scan(text)


def _general_loads(body: bytes) -> Any:
    """The event, or ``UnmarshalError`` with awslambdaric's words, for any body.

    simplejson (awslambdaric's parser) decodes the bytes as strict UTF-8 (a UTF-16 body,
    or UTF-8-encoded surrogates, are errors), skips one leading BOM, and refuses NaN and
    Infinity; the stdlib parses what it accepts to the same values, exactly. A valid
    document the stdlib cannot parse (nested deeper than its recursion limit) goes to
    orjson, which parses 1024 levels.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnmarshalError(f"Unable to unmarshal input: {exc}") from None
    import json

    try:
        return json.loads(
            text[1:] if text.startswith("\ufeff") else text, parse_constant=_refuse_constant
        )
    except (ValueError, RecursionError) as exc:
        failure: BaseException = exc
    if isinstance(failure, RecursionError):
        # Nested deeper than the stdlib's parser goes: orjson goes to 1024 levels. Deeper
        # still, simplejson fails too, on its recursion limit; the stdlib names the kind
        # of value it was entering, as simplejson does, in nearly its words.
        orjson = _orjson or _import_orjson()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            message = str(failure).replace("from a unicode string", "from a string")
    else:
        from runtime_core.json_errors import describe

        message = describe(text) or str(failure)
    raise UnmarshalError(f"Unable to unmarshal input: {message}") from None


def _refuse_constant(token: str) -> Any:
    """NaN and Infinity are not JSON; awslambdaric's simplejson refuses them too."""
    raise ValueError(f"{token} is not JSON")


def encode_result(result: Any) -> tuple[bytes, str]:
    """The response body and its content type. ``bytes`` are sent as they are.

    Raises ``MarshalError`` (with awslambdaric's message prefix) for values JSON cannot hold.
    """
    if isinstance(result, bytes):
        return result, BYTES_CONTENT_TYPE
    global _spent_us
    orjson = _orjson
    if orjson is None:
        orjson = _loaded_orjson()
        if orjson is None:
            plain = _stdlib_dumps(result)
            if plain is not None:
                _spent_us += _ENCODE_CALL_US + _ENCODE_BYTE_US * len(plain)
                return plain, JSON_CONTENT_TYPE
            orjson = _import_orjson()
    return _orjson_dumps(orjson, result)


def _orjson_dumps(orjson: Any, result: Any) -> tuple[bytes, str]:
    """The result as orjson writes it, with simplejson's forms for what orjson refuses."""
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
    """An error body (``/error``, ``/init/error``) byte for byte as awslambdaric writes it.

    awslambdaric's encoder is simplejson with its default separators (``", "`` and
    ``": "``), keys in the order given, and non-ASCII text escaped, except in the
    execution environments where it turns ``ensure_ascii`` off (``AWS_EXECUTION_ENV`` of
    python3.12 and later): there it is written raw, as UTF-8. A lone surrogate (legal in a
    Python ``str``, not in UTF-8) is written escaped rather than losing the error.
    """
    raw = os.environ.get("AWS_EXECUTION_ENV") in _RAW_UNICODE_ENVS
    text = dumps(payload, ensure_ascii=not raw, compact=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return dumps(payload, ensure_ascii=True, compact=False).encode()


#: The execution environments in which awslambdaric 4.2.2 writes non-ASCII text raw
#: (its ``lambda_runtime_marshaller.Encoder``).
_RAW_UNICODE_ENVS = frozenset(f"AWS_Lambda_python3.{minor}" for minor in (12, 13, 14, 15))


def _stdlib_dumps(value: Any) -> bytes | None:
    """``value`` written by the stdlib exactly as orjson writes it, or None when it is not
    made only of JSON's own types or its text is not UTF-8 (a lone surrogate)."""
    if not _is_plain(value, 0):
        return None
    text = dumps(value, ensure_ascii=False, compact=True)
    try:
        return text.encode()
    except UnicodeEncodeError:  # orjson refuses it too, with its own words: let it say so
        return None


def _is_plain(value: Any, depth: int) -> bool:
    """True for a value both writers write alike: exact JSON types, 64-bit ints, and
    floats without an exponent (orjson's exponent form is not ``repr``'s and has changed
    between orjson releases; ``repr`` without one is the decimal form both write)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT_MIN <= value <= _INT_MAX)
    if kind is float:
        text = float.__repr__(value)
        return "e" not in text and "n" not in text  # neither an exponent nor nan/inf
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is dict:
        return all(type(k) is str and _is_plain(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_is_plain(v, depth + 1) for v in value)
    return False


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
    if isinstance(obj, int) and not isinstance(obj, bool) and not _INT_MIN <= obj <= _INT_MAX:
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
