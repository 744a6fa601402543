"""Big events on the orjson path: exactly the stdlib's values, and the common shapes kept on orjson.

orjson turns an integer beyond 64 bits into a float, so the runtime sends a body that may
hold one to the stdlib, which keeps it exact. The guard that decides must never miss such
an integer (a miss is a silently wrong event) and should not send Kinesis, DynamoDB
Streams or S3 batch events (long digit runs inside strings) to the slower parser.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from runtime_core import serialize
from runtime_core.serialize import decode_event
from tests.dispatch.test_serialize import _same

#: The stdlib's parser, kept before ``stdlib_forbidden`` replaces ``json.loads``.
STDLIB_LOADS = json.loads


@pytest.fixture(autouse=True)
def orjson_loaded() -> Iterator[None]:
    """The path every invocation after the first takes: orjson imported."""
    serialize.preload()
    assert "orjson" in sys.modules
    yield


@pytest.fixture
def stdlib_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the body is handed to the stdlib parser."""

    def refuse(text: str, **kwargs: Any) -> Any:
        raise AssertionError(f"sent to the stdlib parser: {text[:120]!r}")

    monkeypatch.setattr(json, "loads", refuse)


def _check(body: bytes) -> None:
    expected = json.loads(body)
    ours = decode_event(body, "application/json")
    assert _same(ours, expected), (body[:300], ours, expected)


# Crafted ---------------------------------------------------------------------------

CRAFTED = [
    # integers at and beyond orjson's range, everywhere a value can stand
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b"  \n\t-99999999999999999999  ",
    b"[18446744073709551616]",
    b"[1,\t\r\n123456789012345678901234]",
    b'{"a":123456789012345678901}',
    b'{"a" :  -1234567890123456789012}',
    b'{"a": {"b": [{"c": [99999999999999999999]}]}}',
    b'{"x": "y", "n":\n12345678901234567890123}',
    # exponents and fractions with long digit runs
    b"[12345678901234567890.5, 1e400, -1e-400, 123456789012345678901e-3]",
    b"[1.0e12345678901234567890]",
    b"[-0, -0.0, 0e0, 1E+2]",
    # long digit runs inside strings and keys, with escapes around them
    b'{"12345678901234567890123": 1}',
    b'{"s": "\\"12345678901234567890123\\""}',
    b'{"s": "\\\\12345678901234567890123\\\\"}',
    b'{"s": "x:12345678901234567890123, y"}',
    b'{"s": "[12345678901234567890123]"}',
    b'{"s": "\\u002212345678901234567890123"}',
    b'{"s": "-1234567890123456789-0123"}',
    # a string with a long run next to a real big number
    b'{"s": "12345678901234567890123", "n": 12345678901234567890123}',
    b'["12345678901234567890123",12345678901234567890123]',
]


@pytest.mark.parametrize("body", CRAFTED, ids=range(len(CRAFTED)))
def test_crafted_bodies_decode_exactly_as_the_stdlib(body: bytes) -> None:
    _check(body)


# Randomised ------------------------------------------------------------------------

_SPACE = [" ", "\t", "\n", "\r", ""]


def _ws(rng: random.Random) -> str:
    return "".join(rng.choice(_SPACE) for _ in range(rng.randint(0, 2)))


def _digits(rng: random.Random) -> str:
    length = rng.choice([1, 5, 18, 19, 20, 21, 40, 56])
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1))


def _number(rng: random.Random) -> str:
    text = rng.choice(["", "-"]) + _digits(rng)
    if rng.random() < 0.2:
        text += "." + _digits(rng)
    if rng.random() < 0.15:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 30))
    return text


def _string(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(0, 4)):
        pieces.append(
            rng.choice(
                [
                    _digits(rng),
                    "-" + _digits(rng),
                    '\\"',
                    "\\\\",
                    "\\u0022",
                    ":",
                    ", ",
                    "[",
                    "shardId-000000000006:",
                    "é",
                    " ",
                ]
            )
        )
    return '"' + "".join(pieces) + '"'


def _document(rng: random.Random, depth: int = 0) -> str:
    if depth > 4 or rng.random() < 0.35:
        return rng.choice([_number, _number, _string, lambda _: "true", lambda _: "null"])(rng)
    items = [_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.5:
        inner = ",".join(_ws(rng) + item + _ws(rng) for item in items)
        return "[" + inner + "]"
    members = [
        _ws(rng) + _string(rng) + _ws(rng) + ":" + _ws(rng) + item + _ws(rng) for item in items
    ]
    return "{" + ",".join(members) + "}"


@pytest.mark.parametrize("seed", range(300))
def test_random_documents_decode_exactly_as_the_stdlib(seed: int) -> None:
    rng = random.Random(seed)
    _check((_ws(rng) + _document(rng) + _ws(rng)).encode())


def _has_big_int(value: Any) -> bool:
    if type(value) is int:
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_big_int(v) for v in value)
    return False


def test_the_guard_never_misses_a_big_integer() -> None:
    """Over many random documents, every one holding an integer beyond 64 bits is sent
    to the stdlib (what the differential tests rely on when orjson would be wrong)."""
    seen = 0
    for seed in range(3000):
        rng = random.Random(seed)
        body = (_ws(rng) + _document(rng) + _ws(rng)).encode()
        if _has_big_int(json.loads(body)):
            seen += 1
            assert serialize._may_hold_big_int(body), body
    assert seen > 300  # the generator does produce them


# Event shapes that stay on orjson ---------------------------------------------------

SEQUENCE = "49590338271490256608559692538361571095921575989136588898"


def kinesis(records: int) -> bytes:
    return json.dumps(
        {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": "1",
                        "sequenceNumber": SEQUENCE,
                        "data": base64.b64encode(bytes(range(256)) * 2).decode(),
                        "approximateArrivalTimestamp": 1545084650.987,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"shardId-000000000006:{SEQUENCE}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
                    "awsRegion": "us-east-2",
                    "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
                }
                for _ in range(records)
            ]
        },
        indent=2,
    ).encode()


def dynamodb_streams(records: int) -> bytes:
    return json.dumps(
        {
            "Records": [
                {
                    "eventID": "c4ca4238a0b923820dcc509a6f75849b",
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "dynamodb": {
                        "Keys": {"Id": {"N": "101"}},
                        "NewImage": {
                            "Message": {"S": "New item!"},
                            "Id": {"N": "101"},
                            "Big": {"N": "123456789012345678901234567890123456"},
                        },
                        "ApproximateCreationDateTime": 1428537600,
                        "SequenceNumber": "4421584500000000017450439091",
                        "SizeBytes": 26,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                    "eventSourceARN": (
                        "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/"
                        "2015-06-27T00:48:05.899"
                    ),
                }
                for _ in range(records)
            ]
        }
    ).encode()


def s3_batch(tasks: int) -> bytes:
    return json.dumps(
        {
            "invocationSchemaVersion": "1.0",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"},
            "tasks": [
                {
                    "taskId": "dGFza2lkZ29lc2hlcmUK",
                    "s3Key": f"exports/{SEQUENCE}.csv",
                    "s3VersionId": "1",
                    "s3BucketArn": "arn:aws:s3:us-east-1:0123456788:awsexamplebucket1",
                }
                for _ in range(tasks)
            ],
        }
    ).encode()


@pytest.mark.parametrize(
    "body",
    [kinesis(1), kinesis(50), dynamodb_streams(1), dynamodb_streams(50), s3_batch(20)],
    ids=["kinesis-1", "kinesis-50", "ddb-streams-1", "ddb-streams-50", "s3-batch-20"],
)
def test_common_event_shapes_stay_on_orjson(body: bytes, stdlib_forbidden: None) -> None:
    assert decode_event(body, "application/json") == STDLIB_LOADS(body)


def test_a_big_integer_after_many_string_runs_is_still_caught() -> None:
    records = json.loads(kinesis(20))
    records["Records"][-1]["count"] = 2**70
    _check(json.dumps(records).encode())


@pytest.mark.parametrize("shift", range(-45, 46, 3))
def test_a_run_across_a_chunk_boundary_is_judged_as_a_whole(shift: int) -> None:
    """The guard reads big bodies in chunks; a run cut by a chunk's end is still one run."""
    number = "-" + "9" * 40
    prefix = b'{"pad": "' + b"x" * (serialize._GUARD_CHUNK + shift - 30) + b'", "n": '
    unquoted = prefix + number.encode() + b', "z": 1}'
    quoted = prefix + b'"' + number.encode() + b'", "z": 1}'
    ends_quoted = prefix + b'"a:' + number.encode() + b'", "z": 1}'
    assert serialize._may_hold_big_int(unquoted)
    assert not serialize._may_hold_big_int(quoted)
    assert not serialize._may_hold_big_int(ends_quoted)
    _check(unquoted)
    _check(quoted)


def test_a_big_integer_at_the_very_end_of_a_long_body_is_caught() -> None:
    body = b"[" + b'"abc",' * 30_000 + b"123456789012345678901234]"
    assert serialize._may_hold_big_int(body)
    assert serialize._may_hold_big_int(b'"' + b"a" * 70_000 + b'"' + b" " * 10 + b"1" * 25)
    _check(body)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 20, 21, 22, 23, 64])
def test_the_guard_never_misses_a_big_integer_whatever_the_chunk_size(chunk: int) -> None:
    """Tiny chunks put a chunk's end inside or next to every run, escape and separator:
    the carried run, and the chunks where no long run ends at a separator (their runs are
    not looked at one by one), are judged as a whole body would be."""
    seen = 0
    for seed in range(400):
        rng = random.Random(seed)
        body = (_ws(rng) + _document(rng) + _ws(rng)).encode()
        big = _has_big_int(json.loads(body))
        seen += big
        assert serialize._scan_for_big_int(body, chunk) or not big, body
        if big:
            _check(body)
    assert seen > 40


@pytest.mark.parametrize("shape", ["kinesis", "ddb-streams", "s3-batch"])
def test_megabyte_batches_stay_on_orjson(shape: str, stdlib_forbidden: None) -> None:
    """The size a busy stream delivers (~1 MB, many of the guard's chunks), not one chunk."""
    body = {
        "kinesis": lambda: kinesis(1_000),
        "ddb-streams": lambda: dynamodb_streams(2_000),
        "s3-batch": lambda: s3_batch(5_000),
    }[shape]()
    assert len(body) > 10 * serialize._GUARD_CHUNK
    assert not serialize._may_hold_big_int(body)
    assert decode_event(body, "application/json") == STDLIB_LOADS(body)
