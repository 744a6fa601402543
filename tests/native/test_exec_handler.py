"""Per-invocation exec in-process: each failure kind, produced by a real small program.

Every error a user can meet is checked by its class (which becomes the error type
``Function.<Class>``) and by what its message tells them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from runtime_core.native import (
    ExecHandler,
    NativeBadOutput,
    NativeExitError,
    NativeOutputTooLarge,
    NativeSignal,
    NativeStartError,
    NativeTimeout,
)
from tests.native.conftest import NativePrograms, example_env, invocation, wait_until_gone


def test_example_summarises_the_event(native_programs: NativePrograms) -> None:
    handler = ExecHandler([str(native_programs.analyze)], env=example_env(native_programs))
    result = handler.run(b'{"values": [1, 2, 3.5]}', invocation())
    assert result == {
        "count": 3,
        "sum": 6.5,
        "mean": 6.5 / 3,
        "min": 1,
        "max": 3.5,
        "library": "libstats 1.0",
    }


def test_event_is_encoded_when_called_from_python(script: Any) -> None:
    echo = script("echo.sh", "cat\n")
    assert ExecHandler([str(echo)])({"name": "Zoë", "n": [1, 2]}) == {"name": "Zoë", "n": [1, 2]}


def test_stderr_lines_become_records_with_the_request_id(
    script: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    talk = script("talk.sh", 'echo "first line" >&2\nprintf "no newline" >&2\necho "{}"\n')
    ExecHandler([str(talk)]).run(b"{}", invocation(request_id="req-stderr"))
    records = [line for line in capsys.readouterr().out.splitlines() if "req-stderr" in line]
    assert [r.split("\t")[-1] for r in records] == ["first line", "no newline"]
    assert all(r.startswith("[INFO]\t") for r in records)


def test_request_id_and_deadline_are_in_the_environment(script: Any) -> None:
    show = script(
        "env.sh",
        (
            'printf \'{"id": "%s", "deadline": %s}\' '
            '"$AWS_LAMBDA_REQUEST_ID" "$AWS_LAMBDA_DEADLINE_MS"\n'
        ),
    )
    inv = invocation(request_id="req-env")
    assert ExecHandler([str(show)]).run(b"{}", inv) == {
        "id": "req-env",
        "deadline": inv.deadline_ms,
    }


def test_event_file_argument(script: Any) -> None:
    reader = script("reader.sh", 'test -t 0 || true\ncat "$2"\n')
    handler = ExecHandler([str(reader), "--event", "{event_file}"])
    assert handler.run(b'{"from": "file"}', invocation()) == {"from": "file"}
    leftovers = [
        p for p in Path("/tmp").glob("event-*.json") if p.read_bytes() == b'{"from": "file"}'
    ]
    assert leftovers == []


def test_bytes_output(script: Any) -> None:
    raw = script("raw.sh", "printf 'not json \\000\\377'\n")
    assert ExecHandler([str(raw)], output="bytes").run(b"{}", invocation()) == b"not json \x00\xff"


def test_large_event_is_written_while_output_is_read(script: Any) -> None:
    echo = script("echo.sh", "cat\n")
    body = b'{"blob": "' + b"x" * 3_000_000 + b'"}'
    assert len(ExecHandler([str(echo)]).run(body, invocation())["blob"]) == 3_000_000


def test_non_zero_exit_gives_the_status_and_the_tail_of_stderr(script: Any) -> None:
    failing = script(
        "fail.sh",
        'for i in $(seq 1 30); do echo "line $i" >&2; done\necho "disk full" >&2\nexit 3\n',
    )
    with pytest.raises(NativeExitError) as caught:
        ExecHandler([str(failing)]).run(b"{}", invocation())
    message = str(caught.value)
    assert f"{failing} exited with status 3" in message
    assert message.endswith("line 30\ndisk full")
    assert "line 5\n" not in message  # only the tail
    assert caught.value.status == 3


def test_death_by_signal_is_named(native_programs: NativePrograms) -> None:
    with pytest.raises(NativeSignal) as caught:
        ExecHandler([str(native_programs.segfault)]).run(b"{}", invocation())
    assert "killed by SIGSEGV (signal 11)" in str(caught.value)
    assert "about to read address 0" in str(caught.value)


def test_output_that_is_not_json(script: Any) -> None:
    chatty = script("chatty.sh", "echo 'Result: 42'\n")
    with pytest.raises(NativeBadOutput) as caught:
        ExecHandler([str(chatty)]).run(b"{}", invocation())
    assert "is not JSON" in str(caught.value) and "'Result: 42" in str(caught.value)


def test_no_output_at_all(script: Any) -> None:
    silent = script("silent.sh", "exit 0\n")
    with pytest.raises(NativeBadOutput, match="wrote nothing on stdout"):
        ExecHandler([str(silent)]).run(b"{}", invocation())


def test_output_past_the_response_limit(script: Any) -> None:
    flood = script("flood.sh", 'echo \'{"a": "\'\nexec yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n')
    with pytest.raises(NativeOutputTooLarge, match="more than 6291556 bytes"):
        ExecHandler([str(flood)]).run(b"{}", invocation())


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "it does not exist"),
        ("not executable", "it is not executable (chmod +x it"),
        ("wrong format", "exec format error"),
        ("bad interpreter", "its interpreter (the #! line) does not exist"),
    ],
)
def test_program_that_cannot_start(tmp_path: Path, case: str, expected: str) -> None:
    path = tmp_path / "tool"
    if case == "not executable":
        path.write_text("#!/bin/sh\necho {}\n")
    elif case == "wrong format":
        path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 60)
        path.chmod(0o755)
    elif case == "bad interpreter":
        path.write_text("#!/no/such/interpreter\n")
        path.chmod(0o755)
    with pytest.raises(NativeStartError) as caught:
        ExecHandler([str(path)]).run(b"{}", invocation())
    message = str(caught.value)
    assert message.startswith(f"Cannot start {path}: ") and expected in message


def test_missing_shared_library_is_named(native_programs: NativePrograms) -> None:
    with pytest.raises(NativeStartError) as caught:
        ExecHandler([str(native_programs.needs_gone)]).run(b"{}", invocation())
    assert "the shared library libgone.so.1 is missing" in str(caught.value)


def test_deadline_kills_the_whole_group(script: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hang = script("hang.sh", f"sleep 300 &\necho $! > {pidfile}\necho started >&2\nwait\n")
    with pytest.raises(NativeTimeout, match="deadline"):
        ExecHandler([str(hang)]).run(b"{}", invocation(seconds=1.0))
    child = int(pidfile.read_text())
    assert wait_until_gone(child), f"the program's child {child} outlived the deadline"


def test_background_children_do_not_outlive_a_finished_program(script: Any, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # The background child keeps stdout open: the result must still come back, and it must go.
    leaves = script("leaves.sh", f"sleep 300 &\necho $! > {pidfile}\necho '{{\"done\": true}}'\n")
    assert ExecHandler([str(leaves)]).run(b"{}", invocation()) == {"done": True}
    assert wait_until_gone(int(pidfile.read_text()))


def test_nothing_is_left_open(script: Any) -> None:
    echo = script("echo.sh", "cat\n")
    before = len(os.listdir("/proc/self/fd"))
    handler = ExecHandler([str(echo)])
    for _ in range(5):
        handler.run(b"{}", invocation())
    with pytest.raises(NativeExitError):
        ExecHandler([str(script("fail.sh", "exit 1\n"))]).run(b"{}", invocation())
    assert len(os.listdir("/proc/self/fd")) == before
