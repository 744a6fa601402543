"""The first invocation, served before orjson is imported, gives exactly what orjson gives.

Until orjson is loaded, ``runtime_core.serialize`` parses events with the stdlib's C
scanner and writes plain results with the stdlib's C encoder; orjson is imported once it
pays for itself (a big event at once; else between invocations, once the C codec's extra
cost has added up to the import's). Differentially, over a fixed corpus and random values:
the same bytes for every result, the same value (types and float bits included) or the
same error for every event, whichever path serves it. End to end: the real runtime serves
small invocations without orjson, and imports it once it pays.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import importlib.util
import json
import math
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from awslambdaric.lambda_runtime_exception import FaultException
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

from local_lambda import LocalLambda
from runtime_core import c_json, serialize
from runtime_core.serialize import MarshalError, UnmarshalError
from tests.conftest import BOOTSTRAP, on_bootstrap, runtime_env, write_function

Point = collections.namedtuple("Point", "x y")
RIC = LambdaMarshaller()  # awslambdaric's own event parser (simplejson)


class Tag(str):
    pass


class Count(int):
    pass


class _RecordingFinder:
    """Finds ``orjson`` (the module already loaded) and records that it was imported."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.imported: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "orjson":
            return None
        self.imported.append(name)
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> Any:
        return self.module

    def exec_module(self, module: Any) -> None:
        pass


@pytest.fixture
def first_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``serialize`` as it is before orjson is loaded (orjson out of ``sys.modules`` and
    forgotten by ``serialize``); records when it imports orjson."""
    finder = _RecordingFinder(orjson)
    monkeypatch.delitem(sys.modules, "orjson")
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    serialize.forget_orjson()
    yield finder.imported
    serialize.forget_orjson()  # orjson is back in sys.modules: picked up on next use


def _encoded(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", encode(value)
    except MarshalError as exc:
        return "error", str(exc)


def _today(value: Any) -> tuple[str, Any]:
    """What the orjson path (every invocation after the first) gives."""
    return _encoded(lambda v: serialize._orjson_dumps(orjson, v), value)


# --- results ----------------------------------------------------------------------


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# Served by the stdlib on the first call: JSON's own exact types.
PLAIN: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int": 42,
    "negative": -7,
    "u64 max": 2**64 - 1,
    "i64 min": -(2**63),
    "big but 64-bit": 9_007_199_254_740_993,
    "float": 1.1,
    "tenth": 0.1,
    "negative zero": -0.0,
    "zero float": 0.0,
    "integral float": 100.0,
    "just below 1e16": 9_999_999_999_999_998.0,
    "1e-4": 0.0001,
    "two thirds": 2 / 3,
    "string": "hello",
    "empty string": "",
    "escapes": 'quote" backslash\\ slash/ \b\f\n\r\t \x00\x01\x1f \x7f',
    "non-ascii": "héllo \u2028\u2029 日本",
    "astral": "🐍 \U0010ffff \U0001d11e",
    "empty containers": [[], {}, (), ""],
    "tuple": (1, "a", None),
    "nested mix": {"a": [1, {"b": (2, 3)}], "c": {"d": {"e": [None, True, 1.5]}}},
    "unicode keys": {"ключ": 1, "🔑": [2], "": 3, 'a"b': 4},
    "deep (64 levels)": _nested(64),
    "list of many": list(range(1000)),
    "trivial handler's result": {"ok": True},
}

# Left to orjson (imported on the spot): anything else, including what orjson refuses.
NOT_PLAIN: dict[str, Any] = {
    "1e16": 1e16,
    "1e-5": 1e-5,
    "1e-7": 1e-7,
    "5e-324": 5e-324,
    "float max": 1.7976931348623157e308,
    "nan": math.nan,
    "infinity": -math.inf,
    "beyond 64 bits": 2**64,
    "below i64": -(2**63) - 1,
    "int subclass": Count(3),
    "str subclass": Tag("t"),
    "str subclass key": {Tag("k"): 1},
    "int key": {1: "a"},
    "none key": {None: 1},
    "dict subclass": collections.OrderedDict(a=1),
    "namedtuple": Point(1, 2),
    "datetime": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
    "decimal": decimal.Decimal("19.99"),
    "set": {1, 2},
    "object": object(),
    "deep (65 levels)": _nested(65),
    "too deep for orjson": _nested(300),
    "float deep inside": {"a": [1, {"b": 1e300}]},
    "lone surrogate": "\ud800",
    "lone surrogate inside": {"ok": ["fine", "bad \udfff"]},
    "lone surrogate key": {"\ud83d": 1},
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_results_are_written_by_the_stdlib_byte_for_byte_as_orjson(
    name: str, first_call: list[str]
) -> None:
    value = PLAIN[name]
    assert serialize.encode_result(value) == (orjson.dumps(value), "application/json")
    assert first_call == []  # orjson was not needed
    assert serialize.encode_result(value) == serialize._orjson_dumps(orjson, value)


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_other_results_import_orjson_and_come_out_as_every_later_invocation(
    name: str, first_call: list[str]
) -> None:
    value = NOT_PLAIN[name]
    assert _encoded(serialize.encode_result, value) == _today(value)
    assert first_call == ["orjson"]


@pytest.mark.parametrize("text", ["\ud800", "a\udc00b", "\ud83d"])
def test_a_lone_surrogate_is_the_same_marshal_error_on_the_first_call(
    text: str, first_call: list[str]
) -> None:
    # The stdlib writes it as the surrogate's UTF-8-like bytes, which are not UTF-8:
    # orjson refuses it, and so the first call too, with orjson's words.
    outcome = _encoded(serialize.encode_result, {"message": text})
    assert outcome == (
        "error",
        "Unable to marshal response: str is not valid UTF-8: surrogates not allowed",
    )
    assert outcome == _today({"message": text})


def _random_float(rng: random.Random) -> float:
    choice = rng.random()
    if choice < 0.4:  # any bit pattern: subnormals, huge, tiny, nan and infinities
        return float(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
    if choice < 0.8:  # everyday magnitudes, on both sides of repr's exponent thresholds
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 18)
    return round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))


def _random_int(rng: random.Random) -> int:
    edge = rng.choice([0, 2**53, 2**63, 2**64, -(2**63)])
    return edge + rng.randint(-3, 3) if rng.random() < 0.3 else rng.randint(-(10**12), 10**12)


def _random_str(rng: random.Random) -> str:
    ranges = [(0x20, 0x7E), (0x00, 0x1F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)]
    chars = []
    for _ in range(rng.randint(0, 12)):
        low, high = rng.choice(ranges)
        code = rng.randint(low, high)
        if 0xD800 <= code <= 0xDFFF and rng.random() < 0.9:
            code = 0x41  # lone surrogates: rare, so most values stay plain
        chars.append(chr(code))
    return "".join(chars)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "float", "str"] + (
        ["list", "tuple", "dict"] * 2 if depth < 6 else []
    )
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return _random_int(rng)
    if kind == "float":
        return _random_float(rng)
    if kind == "str":
        return _random_str(rng)
    items = [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    return {_random_str(rng): item for item in items}


def test_random_results_come_out_as_orjson_writes_them() -> None:
    rng = random.Random(20241124)
    by_stdlib = 0
    for _ in range(5000):
        value = _random_value(rng)
        stdlib = serialize._stdlib_dumps(value)
        if stdlib is not None:
            by_stdlib += 1
            assert stdlib == orjson.dumps(value), value
            assert stdlib == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        else:  # left to orjson: the first call then takes today's path, so no difference
            assert not serialize._is_plain(value, 0) or _today(value)[0] == "error", value
    assert by_stdlib > 1000  # most random values are plain: the differential means something


def test_random_floats_are_written_as_orjson_writes_them_or_left_to_it() -> None:
    rng = random.Random(7)
    for _ in range(20000):
        value = _random_float(rng)
        stdlib = serialize._stdlib_dumps([value])
        if stdlib is not None:
            assert stdlib == orjson.dumps([value]), value
        else:
            assert "e" in repr(value) or not math.isfinite(value), value


def test_an_error_body_is_written_as_awslambdaric_writes_it(
    first_call: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from awslambdaric.lambda_runtime_marshaller import to_json

    payload = {
        "errorMessage": 'ünïcode 🐍 "quoted" \u2028 \x7f',
        "errorType": "ValueError",
        "requestId": "r-1",
        "stackTrace": ['  File "/var/task/app.py", line 3, in handler\n'],
    }
    for env in ("AWS_Lambda_python3.11", "AWS_Lambda_python3.12", "AWS_Lambda_python3.13"):
        monkeypatch.setenv("AWS_EXECUTION_ENV", env)
        assert serialize.encode_error(payload) == to_json(payload).encode(), env
    assert first_call == []  # orjson was not needed
    lone = dict(payload, errorMessage="bad \ud800")  # not UTF-8: written escaped
    assert json.loads(serialize.encode_error(lone))["errorMessage"] == "bad \ud800"


# --- events -----------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Equal, with equal types all the way down and floats equal to the bit (-0.0, nan).
    Iterative: events may be nested deeper than Python's recursion limit."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if struct.pack("<d", x) != struct.pack("<d", y) and not (
                math.isnan(x) and math.isnan(y)
            ):
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


def _decoded(decode: Any, body: bytes) -> tuple[str, Any]:
    try:
        value = decode(body)
    except (UnmarshalError, FaultException) as exc:
        return "error", str(exc) if isinstance(exc, UnmarshalError) else exc.msg
    except RecursionError:
        return "too deep", None
    return ("miss", None) if value is c_json.MISS else ("ok", value)


def _first_call(body: bytes) -> tuple[str, Any]:
    """The first invocation's path: the C scanner, and the general path where it misses."""
    first = _decoded(serialize._first_loads, body)
    return _decoded(serialize._general_loads, body) if first[0] == "miss" else first


def _assert_same_decoding(body: bytes) -> None:
    """The first call's path, the orjson path and awslambdaric give the same value (types
    and float bits included) or the same error message, byte for byte."""
    first = _first_call(body)
    today = _decoded(lambda b: serialize._orjson_loads(orjson, b), body)
    theirs = _decoded(lambda b: RIC.unmarshal_request(b, "application/json"), body)
    assert first[0] == today[0] == theirs[0], (body, first, today, theirs)
    if first[0] == "ok":
        assert _same(first[1], today[1]) and _same(first[1], theirs[1]), (body, first, today)
    else:
        assert first[1] == today[1] == theirs[1], body


EVENTS = [
    b'{"key": "value"}',
    b"{}",
    b"[]",
    b'""',
    b"0",
    b"-0",
    b"-0.0",
    b"1.0",
    b"1E5",
    b"1e-7",
    b"1e400",
    b"-1e400",
    b"0.1e-400",
    b"5e-324",
    b"1.7976931348623157e308",
    b"4.9e-324",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"-9999999999999999999",
    b"9999999999999999999",
    b"18446744073709551615",
    b"18446744073709551616",
    b"123456789012345678901234567890",
    b"[1.00000000000000011102230246251565404236316680908203125]",
    b' \t\n\r{"a" : [ 1 , 2 ] }\r\n ',
    b'{"a":1,"a":2,"b":3}',
    b'"\\u00e9\\ud83d\\udc0d\\u2028 \\" \\\\ \\/ \\b\\f\\n\\r\\t"',
    '"héllo 🐍"'.encode(),
    b'"\\ud800"',
    b'"\\udc00x"',
    b'"\xed\xa0\x80"',
    b'"\x7f"',
    b'"\x01"',
    b'"\\x"',
    b"NaN",
    b"[Infinity]",
    b"-Infinity",
    b"nan",
    b"[1,]",
    b"[1] x",
    b"{'a': 1}",
    b"",
    b" ",
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-16-le"),
    '{"a": 1}'.encode("utf-32-be"),
    b"\x00\x00\x00[",
    b"\xc3\x28",
    b"[\xff]",
    b"[1e5,-2.5E-3,0.000001]",
    b"tru",
    b"true",
    b"null ",
    b"[" * 600 + b"]" * 600,
    b"[" * 1100 + b"]" * 1100,
    b'{"date": "2024-01-01-12345678901234567890"}',
]


@pytest.mark.parametrize("body", EVENTS, ids=range(len(EVENTS)))
def test_events_decode_to_the_same_value_or_error(body: bytes) -> None:
    _assert_same_decoding(body)


def test_random_events_and_their_mutations_decode_alike() -> None:
    rng = random.Random(1124)
    for _ in range(3000):
        value = _random_value(rng)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
        body = text.encode("utf-8", "surrogatepass")
        _assert_same_decoding(body)
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.choice(
                    b' -.,:[]{}"\\eE0159tfnu\x00\x80\xff'
                )
        _assert_same_decoding(bytes(mutated))


def test_first_call_decodes_without_importing_orjson(first_call: list[str]) -> None:
    assert serialize.decode_event(b'{"a": [1, 2.5, "\\u00e9"]}', None) == {"a": [1, 2.5, "é"]}
    with pytest.raises(UnmarshalError, match=r"Expecting value: line 1 column 2 \(char 1\)"):
        serialize.decode_event(b"[NaN]", "application/json")
    assert first_call == []


def test_an_event_too_deep_for_the_stdlib_goes_to_orjson_on_the_first_call(
    first_call: list[str],
) -> None:
    depth = 1020  # orjson's limit is 1024 levels; the stdlib's C scanner stops near 1000
    body = b"[" * depth + b"]" * depth
    assert _decoded(serialize._first_loads, body)[0] == "miss"
    first, today = (
        _decoded(lambda b: serialize.decode_event(b, None), body),
        _decoded(lambda b: serialize._orjson_loads(orjson, b), body),
    )
    assert first[0] == today[0] == "ok" and _same(first[1], today[1])
    assert first_call == ["orjson"]


# --- the engines ------------------------------------------------------------------

RECORDER = """
    import datetime, sys

    def handler(event, context):
        loaded = "orjson" in sys.modules
        if event.get("when"):
            return {"when": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc), \
"loaded": loaded}
        return {"event": event, "orjson loaded": loaded, "floats": [0.1, -0.0, 1e15]}

    async def async_handler(event, context):  # served by the uvloop engine
        return handler(event, context)
"""

FIRST_EVENT = {"name": "héllo 🐍", "n": [1, -2, 9007199254740993], "nested": {"a": [None, True]}}


@pytest.fixture
def recorder(function_dir: Path) -> Iterator[Path]:
    write_function(function_dir, {"app.py": RECORDER})
    yield function_dir


@pytest.mark.parametrize("handler", ["app.handler", "app.async_handler"], ids=["blocking", "async"])
def test_orjson_is_imported_only_once_it_pays(
    runtime_python: Path, recorder: Path, handler: str
) -> None:
    config = on_bootstrap(recorder, runtime_python, handler=handler)
    big = {"items": ["x" * 1000] * 200}  # ~200 KB: about 1 ms more each on the C codec
    with LocalLambda(config) as lam:
        first = lam.invoke(FIRST_EVENT)
        second = lam.invoke(FIRST_EVENT)
        loaded = [lam.invoke(big).json()["orjson loaded"] for _ in range(12)]
        after = lam.invoke(FIRST_EVENT)
        when = lam.invoke({"when": True})
    expected = {"event": FIRST_EVENT, "orjson loaded": False, "floats": [0.1, -0.0, 1e15]}
    assert first.function_error is None
    assert first.payload == orjson.dumps(expected)  # the bytes orjson would have written
    assert second.payload == first.payload  # small events: still no orjson, nothing billed
    # Ten such events cost what the import costs: imported between two invocations.
    assert loaded[0] is False and loaded[-1] is True
    assert loaded == sorted(loaded)  # once loaded, it stays
    assert after.payload == orjson.dumps(dict(expected, **{"orjson loaded": True}))
    assert when.json() == {"when": "2024-05-01T00:00:00+00:00", "loaded": True}


def test_a_big_first_event_is_parsed_by_orjson_at_once(
    runtime_python: Path, recorder: Path
) -> None:
    config = on_bootstrap(recorder, runtime_python, handler="app.handler")
    event = {"blob": "y" * (256 * 1024)}
    with LocalLambda(config) as lam:
        result = lam.invoke(event)
    assert result.json() == {"event": event, "orjson loaded": True, "floats": [0.1, -0.0, 1e15]}


def test_a_first_result_orjson_must_write_is_written_by_orjson(
    runtime_python: Path, recorder: Path
) -> None:
    config = on_bootstrap(recorder, runtime_python, handler="app.handler")
    with LocalLambda(config) as lam:
        result = lam.invoke({"when": True})
    assert result.function_error is None
    assert result.json() == {"when": "2024-05-01T00:00:00+00:00", "loaded": False}


def test_every_truncation_of_a_real_event_fails_as_in_awslambdaric() -> None:
    event = {
        "resource": "/{proxy+}",
        "headers": {"Accept": "*/*", "X-Name": "Zoë 🐍"},
        "queryStringParameters": None,
        "requestContext": {"requestTimeEpoch": 1428582896000, "ratio": -2.5e-3, "ok": True},
        "body": '{"test": "body\\n"}',
    }
    body = json.dumps(event, ensure_ascii=False, indent=1).encode()
    for end in range(len(body)):  # cut anywhere, even inside a UTF-8 sequence
        _assert_same_decoding(body[:end])


# --- the first invocation through the Runtime API, against awslambdaric --------------

# Bodies the invoke API refuses, so only a Runtime API can hand them to a runtime; each is
# the first invocation of a fresh process (before this was fixed, Python 3.11's C scanner
# answered an invalid first event with a SystemError: Runtime.InternalError).
FIRST_BODIES = [
    b'{"key": ',
    b"",
    b"[1, 2,]",
    b"\xff\xfe{\x00}\x00",
    '{"a": 1}'.encode("utf-16"),
    b'{"a": "\xed\xa0\x80"}',
    b"\xef\xbb\xbf{}",
    b'{"name": "Zo\xc3\xab", "n": 18446744073709551616}',
]

ECHO = """
    def handler(event, context):
        return {"event": event}
"""


@pytest.mark.parametrize("body", FIRST_BODIES, ids=range(len(FIRST_BODIES)))
def test_the_first_event_is_decoded_as_awslambdaric_decodes_it(
    runtime_python: Path, function_dir: Path, body: bytes
) -> None:
    from tests.dispatch.test_error_bytes import both_runtimes

    write_function(function_dir, {"app.py": ECHO})
    ours, theirs = both_runtimes(runtime_python, function_dir, "app.handler", [body])
    (our,), (their,) = ours.posts, theirs.posts
    assert our.path == their.path, (our.body, their.body)
    if our.path.endswith("/error"):
        assert our.body == their.body  # errorType and errorMessage, byte for byte
        assert json.loads(our.body)["errorType"] == "Runtime.UnmarshalError"
    else:  # the same value (results may be compact: compared as JSON)
        assert json.loads(our.body) == json.loads(their.body)


# A stand-in for the stdlib's private C codec that json itself copes with (it falls back
# to its pure-Python parts when a name is None) but that cannot be called as the runtime
# calls it: what a changed private API would do to the first invocation.
STAND_IN_JSON = {
    "None names": "make_encoder = make_scanner = scanstring = None\n"
    "encode_basestring = encode_basestring_ascii = None\n",
    "missing": "raise ImportError('no _json here')\n",
}


@pytest.mark.parametrize("variant", sorted(STAND_IN_JSON))
def test_a_changed_private_json_codec_falls_back_and_serves(
    runtime_python: Path, function_dir: Path, tmp_path: Path, variant: str
) -> None:
    from tests.dispatch.test_error_bytes import run_runtime

    stand_in = tmp_path / "stand_in"
    stand_in.mkdir()
    (stand_in / "_json.py").write_text(STAND_IN_JSON[variant])
    write_function(function_dir, {"app.py": ECHO})
    bodies = [b'{"a": [1, 2.5, "\\u00e9"]}', b"[1, 2,]", b'{"b": null}']
    normal = run_runtime([str(BOOTSTRAP)], runtime_python, function_dir, "app.handler", bodies)
    changed = run_runtime(
        [str(BOOTSTRAP)],
        runtime_python,
        function_dir,
        "app.handler",
        bodies,
        {"PYTHONPATH": str(stand_in)},
    )
    assert [p.path.rsplit("/", 1)[1] for p in changed.posts] == ["response", "error", "response"]
    assert [p.body for p in changed.posts] == [p.body for p in normal.posts]
    assert json.loads(changed.posts[0].body) == {"event": {"a": [1, 2.5, "é"]}}


# The same first events through the hostile Runtime API: the /next answer comes byte by
# byte, after interim 1xx responses, or in HTTP/1.0 up to the close; each invalid body is
# still the first invocation's one Runtime.UnmarshalError, in awslambdaric's bytes.
HOSTILE_NEXT = [("slow", {"delay": 0.001}), ("interim", {}), ("close_delimited", {})]


@pytest.mark.parametrize(("fault", "options"), HOSTILE_NEXT, ids=[f for f, _ in HOSTILE_NEXT])
def test_a_bad_first_event_through_a_hostile_api_is_awslambdarics_error(
    runtime_python: Path, function_dir: Path, fault: str, options: dict[str, Any]
) -> None:
    import subprocess

    from awslambdaric.bootstrap import make_error
    from awslambdaric.lambda_runtime_marshaller import to_json

    from tests.hostile_api import HostileApi

    write_function(function_dir, {"app.py": ECHO})
    api = HostileApi()
    body = b'{"key": [1, 2,], "x": "\xed\xa0\x80"}'
    env = runtime_env(api.address, function_dir, runtime_python)
    api.fault("next", fault, **options)
    rid = api.invoke(raw=body)
    process = subprocess.Popen([str(BOOTSTRAP)], env=env, cwd=function_dir)
    try:
        api.wait_answered(1)
    finally:
        process.kill()
        process.wait()
        api.close()
    with pytest.raises(FaultException) as theirs:
        RIC.unmarshal_request(body, "application/json")
    expected = to_json(make_error(theirs.value.msg, theirs.value.exception_type, [], rid))
    assert api.answers_per_invocation() == {rid: 1}
    (answer,) = api.accepted[rid]
    assert answer.path.endswith("/error") and answer.body == expected.encode()
