"""The persistent co-process in-process: one program, many requests, restarts, deadlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime_core.native import (
    CoProcess,
    NativeBadOutput,
    NativeExitError,
    NativeOutputTooLarge,
    NativeSignal,
    NativeStartError,
    NativeTimeout,
)
from tests.native.conftest import NativePrograms, example_env, invocation, wait_until_gone

# Answers each line with {"n": <requests so far>, "pid": <its pid>, "event": <the line>};
# an event containing "crash" kills it, "exit" exits 4, "hang" hangs, "chatter" answers
# with a line that is not JSON, "double" with two lines (in one write), "flood" with an
# endless line.
SERVER = r"""
n=0
while read -r line; do
  n=$((n + 1))
  case "$line" in
    *crash*) echo "crashing on request $n" >&2; kill -SEGV $$ ;;
    *exit*) echo "giving up" >&2; exit 4 ;;
    *hang*) sleep 300 ;;
    *chatter*) echo "Result: 42"; continue ;;
    *double*) printf '{"a": 1}\n{"b": 2}\n'; continue ;;
    *flood*) exec tr '\000' x < /dev/zero ;;
  esac
  echo "served $n" >&2
  printf '{"n": %d, "pid": %d, "event": %s}\n' "$n" "$$" "$line"
done
"""


@pytest.fixture
def server(script: Any) -> CoProcess:
    # A small limit: the flood case then needs 100 kB, not 6 MB, to take the same path.
    coprocess = CoProcess([str(script("server.sh", SERVER))], limit=100_000)
    coprocess.start()
    yield coprocess
    coprocess.close()


def test_one_process_serves_every_request(server: CoProcess) -> None:
    answers = [server.run(b'{"i": %d}' % i, invocation()) for i in range(5)]
    assert [a["n"] for a in answers] == [1, 2, 3, 4, 5]
    assert {a["pid"] for a in answers} == {server.pid}
    assert answers[3]["event"] == {"i": 3}
    assert server.starts == 1


def test_a_pretty_printed_event_travels_as_one_line(server: CoProcess) -> None:
    answer = server.run(b'{\n  "text": "two\\nlines",\n  "x": 1\n}\n', invocation())
    assert answer["event"] == {"text": "two\nlines", "x": 1}


def test_restarted_after_a_crash(server: CoProcess) -> None:
    first_pid = server.pid
    server.run(b"{}", invocation())
    with pytest.raises(NativeSignal) as caught:
        server.run(b'{"crash": 1}', invocation())
    assert "killed by SIGSEGV" in str(caught.value) and "crashing on request 2" in str(caught.value)
    answer = server.run(b'{"after": 1}', invocation())
    assert answer["n"] == 1 and answer["pid"] != first_pid  # a fresh process
    assert server.starts == 2


def test_exit_status_and_restart(server: CoProcess) -> None:
    with pytest.raises(
        NativeExitError, match="exited with status 4; the end of its stderr:\ngiving up"
    ):
        server.run(b'{"exit": 1}', invocation())
    assert server.run(b"{}", invocation())["n"] == 1


def test_deadline_kills_it_and_the_next_request_gets_a_new_one(server: CoProcess) -> None:
    hung_pid = server.pid
    assert hung_pid is not None
    with pytest.raises(NativeTimeout):
        server.run(b'{"hang": 1}', invocation(seconds=1.0))
    assert wait_until_gone(hung_pid)
    assert server.run(b"{}", invocation())["n"] == 1


@pytest.mark.parametrize(
    ("event", "message"), [("chatter", "is not JSON"), ("double", "more than one line")]
)
def test_broken_framing(server: CoProcess, event: str, message: str) -> None:
    with pytest.raises(NativeBadOutput, match=message):
        server.run(b'{"%s": 1}' % event.encode(), invocation())
    assert server.run(b"{}", invocation())["n"] == 1  # restarted: nothing stray is left


def test_answer_past_the_limit(server: CoProcess) -> None:
    with pytest.raises(NativeOutputTooLarge):
        server.run(b'{"flood": 1}', invocation())
    assert server.run(b"{}", invocation())["n"] == 1


def test_the_example_as_a_coprocess(native_programs: NativePrograms) -> None:
    coprocess = CoProcess(
        [str(native_programs.analyze), "--serve"], env=example_env(native_programs)
    )
    coprocess.start()
    try:
        assert coprocess.run(b'{"values": [2, 4]}', invocation())["mean"] == 3
        assert coprocess.run(b'{"values": [10]}', invocation())["max"] == 10
        pid = coprocess.pid
    finally:
        coprocess.close()
    assert pid is not None and wait_until_gone(pid)


def test_a_missing_library_is_named_at_the_first_request(native_programs: NativePrograms) -> None:
    coprocess = CoProcess([str(native_programs.needs_gone)])
    coprocess.start()  # the loader fails in the child: known once it has said so
    try:
        with pytest.raises(NativeStartError, match=r"shared library libgone\.so\.1 is missing"):
            coprocess.run(b"{}", invocation())
    finally:
        coprocess.close()


def test_a_missing_program_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(NativeStartError, match="does not exist"):
        CoProcess([str(tmp_path / "nope")]).start()
