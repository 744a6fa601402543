"""The one pipe reader the local Lambda reads every process's output with: real pipes, a
real event loop, bytes written the way processes write them (in pieces, lines cut across
writes, more than one read's worth at once, an unterminated last line, invalid UTF-8)."""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time

from local_lambda.log_frames import Frame, TelemetryLogPipe
from local_lambda.pipe_reader import LineReader


async def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the reader did not pass it on"
        await asyncio.sleep(0.001)


def test_lines_cut_across_writes_come_out_whole_and_the_tail_at_the_end() -> None:
    async def scenario() -> list[str]:
        read_fd, write_fd = os.pipe()
        lines: list[str] = []
        reader = LineReader(read_fd, lines.append)
        os.write(write_fd, b"first li")
        os.write(write_fd, b"ne\nsecond\nthi")
        await _until(lambda: len(lines) == 2)
        assert lines == ["first line", "second"]  # "thi" waits for its newline
        big = b"x" * 200_000  # more than the pipe holds and than one read takes

        def writer() -> None:  # a process of its own would block on the full pipe too
            os.write(write_fd, b"rd\n" + b"\xff\xfe\n")
            os.write(write_fd, big[:100_000])
            os.write(write_fd, big[100_000:] + b"\nno newline")
            os.close(write_fd)  # the writer exits: the end of the file

        thread = threading.Thread(target=writer)
        thread.start()
        await _until(lambda: reader.fd < 0)
        thread.join()
        reader.close()  # again: nothing more, no error
        reader.drain()
        return lines

    lines = asyncio.run(scenario())
    assert lines == ["first line", "second", "third", "\ufffd\ufffd", "x" * 200_000, "no newline"]


def test_drain_passes_on_what_is_written_before_the_loop_runs() -> None:
    """What the environment relies on before a REPORT: ``drain`` reads now."""

    async def scenario() -> list[str]:
        read_fd, write_fd = os.pipe()
        lines: list[str] = []
        reader = LineReader(read_fd, lines.append)
        os.write(write_fd, b"a\nb\n")
        reader.drain()  # no await in between: the loop has not looked at the pipe
        seen = list(lines)
        reader.close()
        os.close(write_fd)
        return seen

    assert asyncio.run(scenario()) == ["a", "b"]


def _frame(message: bytes, frame_type: int = 0xA55A0003) -> bytes:
    return struct.pack(">IIQ", frame_type, len(message), 1_700_000_000_000_000) + message


def test_telemetry_frames_read_through_the_same_reader() -> None:
    async def scenario() -> list[Frame]:
        pipe = TelemetryLogPipe()
        frames: list[Frame] = []
        write_fd = os.dup(pipe.child_fd)  # the runtime's copy of the descriptor
        pipe.start(frames.append)
        record = _frame(b"Traceback (most recent call last):\n  boom\n")
        os.write(write_fd, record[:10])  # a frame cut across writes
        os.write(write_fd, record[10:] + _frame(b'{"level":"ERROR"}', 0xA55A0002))
        await _until(lambda: len(frames) == 2)
        os.close(write_fd)
        await _until(lambda: pipe._reader is not None and pipe._reader.fd < 0)
        pipe.close()
        return frames

    first, second = asyncio.run(scenario())
    assert first.event == "Traceback (most recent call last):\n  boom"
    assert first.timestamp_us == 1_700_000_000_000_000
    assert second.is_json and second.message == '{"level":"ERROR"}'


def test_a_telemetry_pipe_never_started_closes_both_ends() -> None:
    pipe = TelemetryLogPipe()
    child, read = pipe.child_fd, pipe._read_fd
    pipe.close()
    for fd in (child, read):
        try:
            os.fstat(fd)
        except OSError:
            continue
        raise AssertionError(f"descriptor {fd} left open")
