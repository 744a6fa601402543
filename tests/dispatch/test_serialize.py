"""Serialisation, differentially: where awslambdaric 4.2.2 writes valid JSON, lambdaboot
writes an equal JSON value; where it refuses, lambdaboot refuses too (or does better)."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import math
import random
import uuid
from typing import Any

import pytest
from awslambdaric.lambda_runtime_exception import FaultException
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

from runtime_core.dispatch import call_sync
from runtime_core.serialize import MarshalError, UnmarshalError, decode_event, encode_result
from runtime_core.testing import make_invocation

RIC = LambdaMarshaller()
Point = collections.namedtuple("Point", "x y")


class HasAsDict:
    def _asdict(self) -> dict[str, Any]:
        return {"from": "_asdict", "big": 2**80}


class Size(enum.IntEnum):
    SMALL = 1


class Colour(enum.StrEnum):
    RED = "red"


class Tag(str):
    pass


def _strict_loads(data: bytes | str) -> Any:
    """Parse as strict JSON: NaN and Infinity are not JSON."""

    def reject(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(data, parse_constant=reject)


def _is_valid_json(text: str) -> bool:
    try:
        _strict_loads(text)
    except ValueError:
        return False
    return True


CORPUS: dict[str, Any] = {
    "none": None,
    "true": True,
    "int": 42,
    "negative": -7,
    "u64 max": 2**64 - 1,
    "i64 min": -(2**63),
    "beyond 64 bits": 2**64,
    "huge negative": -(10**40),
    "float": 1.1,
    "tiny float": 5e-324,
    "big float": 1e16,
    "negative zero": -0.0,
    "string": "hello",
    "non-ascii": "héllo \u2028 日本 🐍",
    "empty containers": [[], {}, ()],
    "tuple": (1, "a", None),
    "nested mix": {"a": [1, {"b": (2, 3)}], "c": {"d": {"e": [None, True, 1.5]}}},
    "int keys": {1: "a", 2: "b"},
    "big int key": {2**70: "x"},
    "mixed keys": {1.5: 1, None: 2, True: 3, False: 4, "s": 5, -3: 6},
    "int subclass key": {Size.SMALL: "small"},
    "int enum value": [Size.SMALL],
    "str enum and str subclass keys": {Colour.RED: 1, Tag("t"): 2},
    "str enum value": [Colour.RED, Tag("v")],
    "decimal": decimal.Decimal("1.10"),
    "decimals in a dict": {"price": decimal.Decimal("19.99"), "qty": decimal.Decimal("3")},
    "decimal exponent": decimal.Decimal("1E+3"),
    "decimal negative zero": decimal.Decimal("-0"),
    "namedtuple": Point(1, 2),
    "nested namedtuples": {"p": [Point(Point(1, 2), [3])]},
    "namedtuple with big int": Point(2**65, {1: 2}),
    "object with _asdict": [HasAsDict()],
    "big ints deep": {"a": [{"b": (2**100, -(2**100))}]},
    "dict subclass": collections.OrderedDict([("z", 1), ("a", 2)]),
    "list of many": list(range(1000)),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_equal_json_value_to_awslambdaric(name: str) -> None:
    value = CORPUS[name]
    their_text, their_type = RIC.marshal_response(value)
    assert _is_valid_json(their_text)
    ours, our_type = encode_result(value)
    assert our_type == their_type == "application/json"
    assert _strict_loads(ours) == _strict_loads(their_text)


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("1.10"),
        decimal.Decimal("0.1000000000000000000000000001"),
        decimal.Decimal("-12345678901234567890.5"),
    ],
)
def test_decimal_keeps_its_exact_digits(value: decimal.Decimal) -> None:
    ours, _ = encode_result({"d": value})
    their_text, _ = RIC.marshal_response({"d": value})
    parse = lambda s: json.loads(s, parse_float=decimal.Decimal)  # noqa: E731
    assert str(parse(ours)["d"]) == str(parse(their_text)["d"]) == str(value)


def test_big_integers_are_exact() -> None:
    ours, _ = encode_result([2**64, -(2**63) - 1, 10**50])
    assert json.loads(ours) == [2**64, -(2**63) - 1, 10**50]


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        frozenset({1}),
        bytearray(b"x"),
        iter([1]),
        {(1, 2): 3},
        {decimal.Decimal(1): 2},
        object(),
    ],
    ids=["set", "frozenset", "bytearray", "iterator", "tuple key", "decimal key", "object"],
)
def test_what_awslambdaric_refuses_is_a_marshal_error_with_its_message(value: Any) -> None:
    with pytest.raises(FaultException) as theirs:
        RIC.marshal_response(value)
    with pytest.raises(MarshalError) as ours:
        encode_result(value)
    assert str(ours.value) == theirs.value.msg


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, decimal.Decimal("NaN"), decimal.Decimal("-Infinity")]
)
def test_nan_and_infinity_become_null_which_is_valid_json(value: Any) -> None:
    # awslambdaric writes the tokens NaN/Infinity, which strict JSON parsers (JavaScript,
    # Go, API Gateway clients) reject; null keeps the response parseable everywhere.
    ours, _ = encode_result({"v": value})
    assert _strict_loads(ours) == {"v": None}


@dataclasses.dataclass
class Order:
    id: int
    when: datetime.datetime
    tags: list[str]


class Plain(enum.Enum):
    RED = "red"


def test_beyond_awslambdaric_datetime_dataclass_uuid_enum() -> None:
    when = datetime.datetime(2026, 11, 23, 12, 30, tzinfo=datetime.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    body, content_type = encode_result(
        {
            "order": Order(1, when, ["a"]),
            "day": datetime.date(2026, 1, 2),
            "id": ident,
            "colour": Plain.RED,
        }
    )
    assert content_type == "application/json"
    assert json.loads(body) == {
        "order": {"id": 1, "when": "2026-11-23T12:30:00+00:00", "tags": ["a"]},
        "day": "2026-01-02",
        "id": "12345678-1234-5678-1234-567812345678",
        "colour": "red",
    }


def test_non_ascii_is_sent_as_utf8_not_escaped() -> None:
    body, _ = encode_result({"name": "Zoë 日本"})
    assert body == '{"name":"Zoë 日本"}'.encode()


def test_bytes_result_is_sent_as_is() -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00binary"
    assert encode_result(raw) == (raw, "application/octet-stream")
    outcome = call_sync(lambda e, c: raw, make_invocation({}))
    assert (outcome.is_error, outcome.body, outcome.content_type) == (
        False,
        raw,
        "application/octet-stream",
    )


def test_none_result_is_json_null() -> None:
    outcome = call_sync(lambda e, c: None, make_invocation({}))
    assert (outcome.is_error, outcome.body, outcome.content_type) == (
        False,
        b"null",
        "application/json",
    )


def test_unserialisable_result_is_a_marshal_error_outcome() -> None:
    outcome = call_sync(lambda e, c: {"s": {1, 2}}, make_invocation({}, request_id="req-9"))
    assert outcome.is_error
    assert outcome.error_type is None  # as awslambdaric: no error-type header on /error
    assert json.loads(outcome.body) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": "req-9",
        "stackTrace": [],
    }


# Events ---------------------------------------------------------------------------

EVENTS = [
    b"{}",
    b'{"a": 1, "b": [1, 2.5, "x", null, true], "c": {"d": "\\u00e9"}}',
    '{"name": "Zoë 日本 🐍"}'.encode(),
    b'{"big": 123456789012345678901234567890, "neg": -99999999999999999999}',
    b'{"u64": 18446744073709551615, "i64": -9223372036854775808}',
    b'{"just_over": 18446744073709551616}',
    b'{"long string of digits": "12345678901234567890123"}',
    b'{"pi": 3.14159265358979323846264338327950288}',
    b"[1e400]",
    b'{"dup": 1, "dup": 2}',
    b'"just a string"',
    b"42",
    b"null",
    b'  {"spaces": true}  \n',
]


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN, int/float and -0.0/0.0 distinguished, and dict keys
    in the same order (what a handler iterating the event sees)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("body", EVENTS, ids=range(len(EVENTS)))
def test_event_decodes_as_awslambdaric_decodes_it(body: bytes) -> None:
    theirs = RIC.unmarshal_request(body, "application/json")
    ours = decode_event(body, "application/json")
    assert _same(ours, theirs), (ours, theirs)


BAD_EVENTS = [
    b"{",
    b"",
    b"{'single': 1}",
    b"[1, 2,]",
    b"\xff\xfe",
    b'{"n": NaN}',
    b"[-Infinity]",
    b"[1] x",
    b'{"a": 1 "b": 2}',
    b'"\\x"',
    b'"tab\there"',
    b'"\\u12"',
    b'{"a": [1, 2}',
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-16-le"),
    b'"\xed\xa0\x80"',
    b"\xef\xbb\xbf[1,]",
    b"[" * 2000 + b"]" * 1999,
]


@pytest.mark.parametrize("body", BAD_EVENTS, ids=range(len(BAD_EVENTS)))
def test_bad_json_event_is_an_unmarshal_error_as_in_awslambdaric(body: bytes) -> None:
    with pytest.raises(FaultException) as theirs:
        RIC.unmarshal_request(body, "application/json")
    with pytest.raises(UnmarshalError) as ours:
        decode_event(body, "application/json")
    assert str(ours.value) == theirs.value.msg  # simplejson's words, position included
    outcome = call_sync(lambda e, c: "unreached", make_invocation(raw=body))
    assert json.loads(outcome.body)["errorType"] == "Runtime.UnmarshalError"
    assert json.loads(outcome.body)["errorMessage"] == theirs.value.msg


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "text/plain", "application/xml"]
)
def test_non_json_content_type_passes_the_raw_bytes(content_type: str) -> None:
    body = b"<not json at all>\x00\xff"
    assert decode_event(body, content_type) == RIC.unmarshal_request(body, content_type) == body
    seen: list[Any] = []
    call_sync(lambda e, c: seen.append(e), make_invocation(raw=body, content_type=content_type))
    assert seen == [body]


def test_json_content_type_with_parameters_and_absent_content_type_are_json() -> None:
    assert decode_event(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert decode_event(b'{"a": 1}', None) == {"a": 1}


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random value of the kinds awslambdaric writes as valid JSON, nested."""
    scalars = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.randint(-1000, 1000),
        lambda: rng.uniform(-1e6, 1e6),
        lambda: "".join(rng.choice('aé日🐍"\\\n\t') for _ in range(rng.randint(0, 8))),
        lambda: (
            decimal.Decimal(rng.randint(-(10**30), 10**30))
            / decimal.Decimal(10 ** rng.randint(0, 12))
        ),
        lambda: Size.SMALL,
    ]
    if depth >= 4 or rng.random() < 0.4:
        return rng.choice(scalars)()
    kind = rng.randrange(4)
    items = [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    if kind == 0:
        return items
    if kind == 1:
        return tuple(items)
    if kind == 2:
        return Point(items[0] if items else None, items)
    keys = [
        rng.choice(
            [str(rng.random()), rng.randint(-(2**66), 2**66), rng.random(), None, True, Colour.RED]
        )
        for _ in items
    ]
    return dict(zip(keys, items, strict=True))


@pytest.mark.parametrize("seed", range(200))
def test_random_values_equal_awslambdaric(seed: int) -> None:
    value = _random_value(random.Random(seed))
    their_text, _ = RIC.marshal_response(value)
    ours, _ = encode_result(value)
    parse = lambda s: json.loads(s, parse_float=decimal.Decimal)  # noqa: E731
    assert parse(ours) == parse(their_text)
