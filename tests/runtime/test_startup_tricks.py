"""The start-up tricks (runtime_core.startup) against the public way, valid and invalid input.

httptools' C parser loaded under stand-ins must be the very parser ``import httptools``
gives, byte stream for byte stream, errors included; and when the trick cannot work (a
release whose C module needs more of ``typing``), the public import is used instead.
Each check runs in a fresh interpreter under ``-I -S``, where ``typing`` is not loaded,
so the trick's path is the one taken.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from runtime_core.startup import with_fallback
from tests.conftest import REPO

STREAMS = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
    "chunked+trailers": b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "pipelined": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 204 No\r\n\r\n",
    "bad status": b"HTTP/1.1 2x0 Nope\r\nContent-Length: 0\r\n\r\n",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
    "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "no colon": b"HTTP/1.1 200 OK\r\nBroken header\r\n\r\n",
    "not http": b"\x00\x01\x02 garbage\r\n\r\n",
}

PROBE = r"""
import json, sys
sys.path[:0] = {paths!r}
from runtime_core.startup import response_parser_class
trick = response_parser_class()
typing_after_trick = "typing" in sys.modules

def run(parser_class, data):
    events = []
    class Sink:
        def on_header(self, name, value): events.append(["h", name.decode(), value.decode()])
        def on_body(self, body): events.append(["b", body.decode("latin-1")])
        def on_message_complete(self): events.append(["done", parser.get_status_code()])
    parser = parser_class(Sink())
    try:
        parser.feed_data(data)
    except Exception as exc:
        events.append(["error", type(exc).__name__])
    return events

streams = {{k: bytes.fromhex(v) for k, v in json.loads(sys.argv[1]).items()}}
with_trick = {{k: run(trick, v) for k, v in streams.items()}}
from httptools import HttpResponseParser
public = {{k: run(HttpResponseParser, v) for k, v in streams.items()}}
print(json.dumps({{"typing": typing_after_trick, "same_class": trick is HttpResponseParser,
                  "trick": with_trick, "public": public, "module": trick.__module__}}))
"""


def _site(python: str) -> str:
    return subprocess.run(
        [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _probe(paths: list[str]) -> dict[str, object]:
    streams = json.dumps({name: data.hex() for name, data in STREAMS.items()})
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(paths=paths), streams],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_trick_parser_is_httptools_own_on_valid_and_invalid_input() -> None:
    result = _probe([str(REPO), _site(sys.executable)])
    assert result["typing"] is False  # the trick ran: typing was not imported for it
    assert result["same_class"] is True  # a later `import httptools` reuses the C module
    assert result["trick"] == result["public"]
    trick = result["trick"]
    assert isinstance(trick, dict)
    for invalid in ("bad status", "bad length", "bad chunk", "no colon", "not http"):
        assert trick[invalid][-1][0] == "error", (invalid, trick[invalid])  # refused by both
    assert ["done", 202] in trick["chunked+trailers"]
    assert trick["interim"][-1] == ["done", 200]


def test_a_release_the_trick_does_not_fit_falls_back_to_the_public_import(
    tmp_path: Path,
) -> None:
    """A C module that needs more of ``typing`` than the stand-in has: the runtime still
    gets its parser, through the public import."""
    fake = tmp_path / "httptools"
    (fake / "parser").mkdir(parents=True)
    (fake / "__init__.py").write_text("from .parser.parser import HttpResponseParser\n")
    (fake / "parser" / "__init__.py").write_text("")
    (fake / "parser" / "parser.py").write_text(
        textwrap.dedent(
            """
            from typing import Any, Optional  # Any: not in the stand-in

            class HttpResponseParser:
                def __init__(self, sink: Any) -> None:
                    self.sink = sink

                def feed_data(self, data: bytes) -> None:
                    raise ValueError("a stand-in parser for the test")
            """
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(tmp_path)!r}]\n"
            "from runtime_core.startup import response_parser_class\n"
            "cls = response_parser_class()\n"
            "print(cls.__module__, 'typing' in sys.modules, type(sys.modules['typing']).__name__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    module, typing_loaded, _ = done.stdout.split()
    assert module == "httptools.parser.parser" and typing_loaded == "True"  # the real typing


def test_with_fallback_uses_the_plain_way_on_any_failure() -> None:
    def broken() -> str:
        raise AttributeError("a release changed")

    assert with_fallback(broken, lambda: "plain") == "plain"
    assert with_fallback(lambda: "trick", lambda: "plain") == "trick"


def test_every_trick_has_a_rung_on_the_start_up_ladder() -> None:
    """Each trick ``runtime_core.startup`` lists is measured by ``make bench``'s ladder (a
    rung with the module it keeps off the start-up path imported first), so its saving is
    a figure, not a claim; a trick added without a rung fails here."""
    import runtime_core.startup
    from benchmarks.startup_ladder import TRICKS

    listed = runtime_core.startup.__doc__.split("fallback:\n\n", 1)[1].split("\n\nTheir")[0]
    tricks = [line for line in listed.splitlines() if line.startswith("- ")]
    assert len(tricks) == len(TRICKS), tricks
    for module in TRICKS:
        assert re.search(rf"(?<![\w.]){module}(?!\w)", listed), module
