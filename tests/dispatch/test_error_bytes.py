"""Differential: what lambdaboot posts and logs for a failure is what awslambdaric 4.2.2 does.

The same failing function runs under awslambdaric (``python -m awslambdaric``) and under
lambdaboot's ``bootstrap``, on the same interpreter, in the same directory, with the same
``AWS_EXECUTION_ENV`` (that of a managed ``python3.X`` runtime for the interpreter) and
the same request ids, each against a Runtime API on 127.0.0.1 that records every request
byte for byte. Compared: the ``/error`` and ``/init/error`` bodies (bytes), their
``Content-Type`` and ``Lambda-Runtime-Function-Error-Type`` headers, the X-Ray cause, and
the error records in the log (``[ERROR] Type: message``, the ``Traceback`` line, the frames
indented with NO-BREAK SPACEs), with the ``LAMBDA_WARNING`` record before an init error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOOTSTRAP, runtime_env, write_function
from tests.dispatch.failing import FAILING
from tests.runtime.fake_api import FakeRuntimeApi, Seen

INVOCATIONS: list[bytes] = [
    *(
        json.dumps({"kind": kind, "value": 7}).encode()
        for kind in ("value", "unicode", "lines", "empty", "key", "odd", "chained", "multiline")
    ),
    b'{"kind": "set"}',
    # Bodies the invoke API would refuse, straight from the Runtime API: Runtime.UnmarshalError.
    b'{"kind": ',
    b"",
    b"[1, 2,]",
    b"\xff\xfe{\x00}\x00",
    '{"kind": "value"}'.encode("utf-16"),
    b'{"kind": "\xed\xa0\x80"}',
    b'"\\x"',
]

INIT_FAILURES: dict[str, tuple[str, dict[str, str]]] = {
    "raises at import": (
        "broken.handler",
        {"broken.py": "import helper\nhelper.check({'value': 'é'})\n"},
    ),
    "syntax error": ("syntax.handler", {"syntax.py": "def handler(event, context)\n    pass\n"}),
    "import error": ("needs.handler", {"needs.py": "import not_installed_anywhere\n"}),
    "missing module": ("nowhere.handler", {}),
    "missing handler": ("app.nope", {}),
    "no dot": ("handler", {}),
    "empty module name": (".handler", {}),
    "built-in module": ("sys.handler", {}),
}


class Run:
    """What one runtime process posted and logged."""

    def __init__(self, seen: list[Seen], output: str) -> None:
        self.posts = [s for s in seen if s.method == "POST"]
        self.output = output

    def error_records(self) -> list[str]:
        """The error records, in order: one stdout line each (newlines inside are ``\\r``)."""
        return [line for line in self.output.split("\n") if line.startswith("[ERROR]")]

    def error_text(self) -> list[str]:
        """The error records' lines, whichever of ``\\r`` and ``\\n`` separates them.

        awslambdaric writes a message's own newlines raw, so on stdout (without Lambda's
        telemetry descriptor) such a record becomes several CloudWatch events; lambdaboot
        writes them as ``\\r``, keeping the record one event as it is on Lambda.
        """
        text = self.output[self.output.index("[ERROR]") :] if "[ERROR]" in self.output else ""
        return text.replace("\r", "\n").split("\n")

    def warning_records(self) -> list[str]:
        stamp = re.compile(r"^\[WARNING\]\t\S+Z\t")
        return [stamp.sub("[WARNING]\t<time>\t", line) for line in self.output.split("\n")]


def run_runtime(
    command: list[str],
    python: Path,
    root: Path,
    handler: str,
    bodies: list[bytes],
    extra_env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> Run:
    """Run ``command`` as the runtime for ``bodies`` (one invocation each, request ids
    ``request-N``), until it asks for one more or exits; what it posted and logged."""
    api = FakeRuntimeApi()
    try:
        for n, body in enumerate(bodies):
            api.invoke(raw=body, Lambda_Runtime_Aws_Request_Id=f"request-{n}")
        minor = re.search(r"3\.\d+", subprocess_version(python))
        env = runtime_env(api.address, root, python, handler) | {
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{minor.group() if minor else ''}",
            "PYTHONHASHSEED": "0",
            **(extra_env or {}),
        }
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
        )
        try:
            if bodies:
                api.wait_for("/invocation/next", len(bodies) + 1)
            else:
                process.wait(20)
        finally:
            process.kill()
            output = process.communicate(timeout=20)[0].decode("utf-8", "replace")
        return Run(list(api.seen), output)
    finally:
        api.close()


_VERSIONS: dict[Path, str] = {}


def subprocess_version(python: Path) -> str:
    if python not in _VERSIONS:
        _VERSIONS[python] = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return _VERSIONS[python]


def both_runtimes(python: Path, root: Path, handler: str, bodies: list[bytes]) -> tuple[Run, Run]:
    """(lambdaboot's run, awslambdaric's run) of the same function and bodies."""
    theirs = run_runtime(
        [str(python), "-m", "awslambdaric", handler], python, root, handler, bodies
    )
    ours = run_runtime([str(BOOTSTRAP)], python, root, handler, bodies)
    return ours, theirs


def _headers(post: Seen) -> dict[str, str | None]:
    return {
        name: post.headers.get(name)
        for name in ("content-type", "lambda-runtime-function-error-type")
    }


def _xray(post: Seen) -> Any:
    """The X-Ray cause as JSON; awslambdaric lists ``paths`` from a set, in any order.

    Where awslambdaric writes non-ASCII raw (python3.12+), its header carries UTF-8 bytes
    (read here as Latin-1, as HTTP header bytes are); lambdaboot escapes them to ASCII, as
    a header value should be: the same JSON value.
    """
    raw = post.headers["lambda-runtime-function-xray-error-cause"]
    cause = json.loads(raw.encode("latin-1").decode("utf-8"))
    cause["paths"] = sorted(cause["paths"])
    return cause


@pytest.fixture
def function(function_dir: Path) -> Iterator[Path]:
    write_function(function_dir, FAILING)
    yield function_dir


def test_invocation_errors_are_awslambdarics_bytes(runtime_python: Path, function: Path) -> None:
    ours, theirs = both_runtimes(runtime_python, function, "app.handler", INVOCATIONS)
    assert len(ours.posts) == len(theirs.posts) == len(INVOCATIONS)
    for body, our, their in zip(INVOCATIONS, ours.posts, theirs.posts, strict=True):
        assert our.path == their.path, body
        assert our.body == their.body, body
        assert _headers(our) == _headers(their), body
        assert _xray(our) == _xray(their), body
        header = their.headers["lambda-runtime-function-xray-error-cause"]
        if len(_xray(their)["paths"]) <= 1 and header.isascii():  # the same bytes
            assert (
                our.headers["lambda-runtime-function-xray-error-cause"]
                == their.headers["lambda-runtime-function-xray-error-cause"]
            ), body
    assert ours.error_text() == theirs.error_text()
    assert len(ours.error_records()) == len(INVOCATIONS)  # one stdout line per record


@pytest.mark.parametrize("case", sorted(INIT_FAILURES))
def test_init_errors_are_awslambdarics_bytes(
    runtime_python: Path, function: Path, case: str
) -> None:
    handler, files = INIT_FAILURES[case]
    write_function(function, files)
    ours, theirs = both_runtimes(runtime_python, function, handler, [])
    (our,), (their,) = ours.posts, theirs.posts
    assert our.path == their.path == "/2018-06-01/runtime/init/error"
    if our.body != their.body and not our.body.isascii():
        # The one deliberate difference: with non-ASCII written raw (python3.12+),
        # awslambdaric's http.client sends the text as Latin-1 (invalid UTF-8, and it
        # crashes instead of posting if a character is beyond Latin-1); lambdaboot sends
        # the same text as UTF-8.
        assert our.body == their.body.decode("latin-1").encode("utf-8")
    else:
        assert our.body == their.body
    assert (
        our.headers["lambda-runtime-function-error-type"]
        == their.headers["lambda-runtime-function-error-type"]
    )
    # The LAMBDA_WARNING record, then the error record: the same lines, times aside.
    assert ours.warning_records() == theirs.warning_records()
    assert ours.error_records() == theirs.error_records() != []


JSON_STAMP = re.compile(r'^\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ')


def test_json_error_records_hold_awslambdarics_fields_in_its_order(
    runtime_python: Path, function: Path
) -> None:
    bodies = [b'{"kind": "value", "value": 7}', b'{"kind": "unicode"}', b'{"kind": "set"}', b"{"]
    runs = []
    for command in (
        [str(runtime_python), "-m", "awslambdaric", "app.handler"],
        [str(BOOTSTRAP)],
    ):
        run = run_runtime(
            command,
            runtime_python,
            function,
            "app.handler",
            bodies,
            {"AWS_LAMBDA_LOG_FORMAT": "JSON"},
        )
        # Byte for byte (a metric filter on '"level": "ERROR"' sees the same lines), the
        # time masked once it has awslambdaric's shape (whole seconds).
        records = [
            JSON_STAMP.sub('{"timestamp": "<time>", ', line)
            for line in run.output.split("\n")
            if line.startswith("{") and '"level": "ERROR"' in line
        ]
        assert all(r.startswith('{"timestamp": "<time>", ') for r in records), records
        runs.append(records)
    theirs, ours = runs
    assert len(ours) == len(bodies)
    assert [list(json.loads(r)) for r in ours] == [list(json.loads(r)) for r in theirs]
    assert ours == theirs


def test_a_lone_surrogate_in_a_message_is_posted_and_logged(
    runtime_python: Path, function_dir: Path
) -> None:
    """awslambdaric crashes writing this record (nothing posted: Runtime.ExitError), on
    stdout and on Lambda's telemetry descriptor alike; lambdaboot posts the error and logs
    the record with the surrogate escaped, on both."""
    write_function(
        function_dir,
        {"app.py": "def handler(event, context):\n    raise ValueError('bad \\ud800')\n"},
    )
    bodies = [b"{}", b"{}"]
    stdout = run_runtime([str(BOOTSTRAP)], runtime_python, function_dir, "app.handler", bodies)
    read_end, write_end = os.pipe()
    try:
        framed = run_runtime(
            [str(BOOTSTRAP)],
            runtime_python,
            function_dir,
            "app.handler",
            bodies,
            {"_LAMBDA_TELEMETRY_LOG_FD": str(write_end)},
            pass_fds=(write_end,),
        )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            frames = pipe.read()
    finally:
        with contextlib.suppress(OSError):
            os.close(write_end)
    for run in (stdout, framed):
        assert [json.loads(p.body)["errorMessage"] for p in run.posts] == ["bad \ud800"] * 2
    assert stdout.output.count("[ERROR] ValueError: bad \\ud800") == 2
    assert frames.count(b"[ERROR] ValueError: bad \\ud800") == 2
