"""The warm path's shortcuts give exactly what the general code gives, on valid and broken input.

- The response reader gives the same responses, the same error at the same piece, however
  the bytes are cut: thousands of generated answers (Lambda's ``202`` with any date, every
  one-byte change, deletion and insertion of it, other statuses and headers), alone and
  between other responses, in one piece and split at every byte boundary, against the
  reader fed one byte at a time. (A shortcut that recognised the ``202`` from its exact
  bytes was measured by ``benchmarks.warm_tricks`` under 2 % in both modes and removed;
  these tests stay for the reader itself.)
- The header names looked up in a table before decoding (``protocol._HEADER_NAMES``)
  against httptools' own parser with every name decoded and lower-cased: Lambda's names in
  every spelling, near misses, bytes no name may hold, duplicates, split anywhere.
- The ``POST /response`` template against ``Request``'s general builder.
- The big-integer guard's shortcut for small bodies against its chunked scan.
"""

from __future__ import annotations

import random

import httptools
import pytest

from runtime_core import serialize
from runtime_core.invocation import Invocation
from runtime_core.protocol import (
    BIG_BODY,
    Disconnected,
    Request,
    ResponseReader,
    RuntimeProtocol,
)

ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b"Date: Wed, 02 Dec 2026 00:40:03 GMT\r\n"
    b'Content-Length: 16\r\n\r\n{"status":"OK"}\n'
)
NEXT = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n"
    b"Lambda-Runtime-Aws-Request-Id: 8476a536\r\nLambda-Runtime-Deadline-Ms: 1700000003000\r\n"
    b"Date: Wed, 02 Dec 2026 00:40:03 GMT\r\n\r\n{}"
)
TOO_LARGE = (
    b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
    b"Date: Wed, 02 Dec 2026 00:40:03 GMT\r\nContent-Length: 58\r\n\r\n"
    b'{"errorMessage":"Exceeded maximum","errorType":"TooLarge"}'
)
CLOSING = b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
HTTP10 = b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class GeneralReader(ResponseReader):
    """The reader fed one byte at a time: the reference that whole and split reads must
    match (no private switch of the reader is touched)."""

    __slots__ = ()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for at in range(len(view)):
            super().feed(view[at : at + 1])


def outcome(reader_class: type[ResponseReader], pieces: list[bytes]) -> tuple[object, ...]:
    """Everything a driver can see: each response, the piece that raised and why, partial."""
    reader = reader_class()
    failure: tuple[int, str] | None = None
    for index, piece in enumerate(pieces):
        try:
            reader.feed(memoryview(bytearray(piece)))  # as the blocking driver hands it over
        except Disconnected as exc:
            failure = (index, str(exc))
            break
    responses = [(r.status, r.headers, bytes(r.body), r.keep_alive) for r in reader.done]
    return responses, failure, reader.partial


def assert_same(pieces: list[bytes]) -> tuple[object, ...]:
    quick = outcome(ResponseReader, pieces)
    assert quick == outcome(GeneralReader, pieces), pieces
    return quick


def variants(rng: random.Random) -> list[bytes]:
    """The exact answer with many dates, and every one-byte change of it."""
    dates = [b"Thu, 01 Jan 1970 00:00:00 GMT", b"Sun, 31 Dec 2099 23:59:59 GMT"]
    alphabet = bytes(range(256))
    date_bytes = b"MonTueDec, 0123456789:GMT"
    for _ in range(200):
        dates.append(bytes(rng.choice(alphabet) for _ in range(29)))
        date = bytearray(rng.choice(date_bytes) for _ in range(29))
        if rng.random() < 0.5:  # one byte a date cannot hold
            date[rng.randrange(29)] = rng.choice(b"\r\n\t\x00\x7f\x80;-.")
        dates.append(bytes(date))
    date_at = ACCEPTED.index(b"Wed")
    answers = [ACCEPTED[:date_at] + date + ACCEPTED[date_at + 29 :] for date in dates]
    odd = b"\r\n \t:\x00\xffxA0"
    for position in range(len(ACCEPTED)):
        before, byte, after = ACCEPTED[:position], ACCEPTED[position], ACCEPTED[position + 1 :]
        answers.append(before + after)  # deleted
        for replacement in odd:
            if replacement != byte:
                answers.append(before + bytes([replacement]) + after)
        answers.append(before + bytes([rng.choice(odd)]) + bytes([byte]) + after)  # inserted
        answers.append(before + bytes([byte]).swapcase() + after)
    return answers


def test_lambdas_202_reads_as_its_values() -> None:
    assert assert_same([ACCEPTED]) == (
        [
            (
                202,
                {
                    "content-type": "application/json",
                    "date": "Wed, 02 Dec 2026 00:40:03 GMT",
                    "content-length": "16",
                },
                b'{"status":"OK"}\n',
                True,
            )
        ],
        None,
        False,
    )


def test_thousands_of_answers_alone_and_between_others_match_the_parser() -> None:
    rng = random.Random(15)
    answers = variants(rng)
    assert len(answers) > 2000
    for answer in answers:
        assert_same([answer])
        assert_same([answer + NEXT])  # the pipelined GET's answer in the same read
        assert_same([NEXT, answer, ACCEPTED])
        assert_same([CLOSING, answer])  # after a close the parser refuses more bytes
        assert_same([HTTP10 + answer])
        assert_same([b"garbage\r\n\r\n", answer])


def test_split_at_every_byte_boundary_matches_the_parser() -> None:
    rng = random.Random(150)
    sample = [NEXT + ACCEPTED, TOO_LARGE, *rng.sample(variants(rng), 60)]
    for answer in sample:
        wire = answer + ACCEPTED
        for cut in range(1, len(wire)):
            assert_same([wire[:cut], wire[cut:]])
        for _ in range(10):
            first, second = sorted(rng.sample(range(1, len(wire)), 2))
            assert_same([wire[:first], wire[first:second], wire[second:]])


class DecodedHeaders:
    """httptools' public parser with a protocol of its own, every header name decoded and
    lower-cased as it comes: the reference for the reader's table of known names."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.heads: list[dict[str, str]] = []
        self.headers: dict[str, str] = {}

    def on_message_begin(self) -> None:
        self.headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_message_complete(self) -> None:
        self.heads.append(self.headers)


def heads(pieces: list[bytes], reference: bool) -> tuple[list[dict[str, str]], int | None]:
    """Each complete response's headers, and the piece the parser refused (or None)."""
    reader = DecodedHeaders() if reference else ResponseReader()
    for index, piece in enumerate(pieces):
        try:
            if isinstance(reader, DecodedHeaders):
                reader.parser.feed_data(piece)
            else:
                reader.feed(memoryview(bytearray(piece)))
        except (Disconnected, httptools.HttpParserError):
            return heads_of(reader), index
    return heads_of(reader), None


def heads_of(reader: ResponseReader | DecodedHeaders) -> list[dict[str, str]]:
    if isinstance(reader, DecodedHeaders):
        return reader.heads
    return [response.headers for response in reader.done if response.status >= 200]


LAMBDA_NAMES = [
    "Content-Length",
    "Content-Type",
    "Date",
    "Transfer-Encoding",
    "Connection",
    "Lambda-Runtime-Aws-Request-Id",
    "Lambda-Runtime-Deadline-Ms",
    "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id",
    "Lambda-Runtime-Client-Context",
    "Lambda-Runtime-Cognito-Identity",
    "Lambda-Runtime-Aws-Tenant-Id",
    "Lambda-Runtime-Invocation-Id",
]


def spellings(rng: random.Random, name: str) -> list[bytes]:
    """The name as Go writes it, lower and upper case, mixed case, and near misses: a byte
    changed, dropped or added, a prefix, and bytes no header name may hold."""
    mixed = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
    at = rng.randrange(len(name))
    near = [
        name[:at] + chr(rng.choice(b"xZ-")) + name[at + 1 :],
        name[:at] + name[at + 1 :],
        name + "s",
        name[: len(name) // 2],
        name + "\xe9",
        name[:at] + rng.choice("\x00 :\x7f\xff") + name[at:],
    ]
    return [s.encode("latin-1") for s in (name, name.lower(), name.upper(), mixed, *near)]


def test_the_table_of_header_names_gives_the_decoded_names() -> None:
    rng = random.Random(10)
    for name in LAMBDA_NAMES:
        for spelling in spellings(rng, name):
            if spelling.lower() in (b"content-length", b"transfer-encoding", b"connection"):
                value = {b"content-length": b"2", b"connection": b"keep-alive"}.get(
                    spelling.lower(), b"identity"
                )
            else:
                value = rng.choice([b"v", b"", b"caf\xe9", b"8476a536", b" x "])
            head = b"HTTP/1.1 200 OK\r\n" + spelling + b": " + value + b"\r\n"
            wire = head + b"Content-Length: 2\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\n{}" + NEXT
            expected = heads([wire], reference=True)
            assert heads([wire], reference=False) == expected, wire
            for cut in range(1, len(wire), 7):
                pieces = [wire[:cut], wire[cut:]]
                assert heads(pieces, reference=False) == heads(pieces, reference=True), pieces


def general_response(
    protocol: RuntimeProtocol, invocation: Invocation, body: bytes, content_type: str | None
) -> Request:
    """What ``RuntimeProtocol.response`` built before the template: ``Request`` itself."""
    headers = [("Content-Type", content_type or "application/json")]
    if invocation.invocation_id is not None:
        headers.append(("Lambda-Runtime-Invocation-Id", invocation.invocation_id))
    path = f"/2018-06-01/runtime/invocation/{invocation.request_id}/response"
    return Request(protocol.host, "POST", path, headers, body)


@pytest.mark.parametrize("host", ["127.0.0.1:9001", "[::1]:8080", "localhost:1"])
def test_the_response_template_makes_the_general_bytes(host: str) -> None:
    rng = random.Random(host)
    protocol = RuntimeProtocol(host)
    request_ids = [
        "8476a536-e9f4-11e8-9739-000000000001",
        "",
        "a/b",
        "%41 ?x",
        "\xe9t\xe9",
        "x\r\nInjected: 1",
        "".join(chr(rng.randrange(256)) for _ in range(40)),
    ]
    bodies = [b"", b"{}", b"%d %s", bytes(range(256)), b"x" * BIG_BODY, b"y" * (BIG_BODY + 1)]
    for request_id in request_ids:
        for invocation_id in (None, "nonce-7"):
            invocation = Invocation(request_id, 1, "arn", b"{}", invocation_id=invocation_id)
            for body in bodies:
                for content_type in (None, "application/json", "text/plain", ""):
                    made = protocol.response(invocation, body, content_type)
                    expected = general_response(protocol, invocation, body, content_type)
                    for field in ("method", "path", "headers", "body", "split", "raw"):
                        assert getattr(made, field) == getattr(expected, field), field


def test_the_guard_shortcut_answers_as_its_scan() -> None:
    rng = random.Random(20)
    pieces = [b"1", b"12345678901234567890", b'"', b".", b"e", b"-", b" ", b",", b"[", b"a", b"0"]
    bodies = [b"", b"12345678901234567890", b"-1234567890123456789", b'"12345678901234567890"']
    for _ in range(3000):
        bodies.append(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))))
    bodies.append(b"[" + b"1" * (BIG_BODY - 2) + b"]")
    for body in bodies:
        assert serialize._may_hold_big_int(body) == serialize._scan_for_big_int(body), body
