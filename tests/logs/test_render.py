"""The renderer's own rules, checked directly: timestamps and the Text line's shape."""

from __future__ import annotations

import calendar
import threading
import time

import pytest

from runtime_core.logs import render


def test_timestamp_is_utc_with_milliseconds() -> None:
    moment = calendar.timegm((2024, 2, 29, 23, 59, 58, 0, 0, 0)) + 0.0071
    assert render.format_timestamp(moment) == "2024-02-29T23:59:58.007Z"
    assert render.format_timestamp(moment + 1.5) == "2024-02-29T23:59:59.507Z"
    assert render.format_timestamp(moment + 2) == "2024-03-01T00:00:00.007Z"


def test_timestamps_from_many_threads_are_all_right() -> None:
    base = calendar.timegm((2030, 1, 1, 0, 0, 0, 0, 0, 0))
    wrong: list[str] = []

    def worker(offset: int) -> None:
        for i in range(2000):
            second = base + (i + offset) % 7
            text = render.format_timestamp(second + 0.25)
            if text != time.strftime("%Y-%m-%dT%H:%M:%S.250Z", time.gmtime(second)):
                wrong.append(text)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_text_record_keeps_its_newlines_and_is_one_stdout_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render.set_json(False)
    record = render.render_record("INFO", 0.0, "a\nb\n", "app", "rid", None)
    # As awslambdaric's Formatter writes it (the frame's message on Lambda's descriptor).
    assert record == "[INFO]\t1970-01-01T00:00:00.000Z\trid\ta\nb\n\n"
    render.write(record, 20)  # no descriptor: one stdout line, newlines as \r
    assert capsys.readouterr().out == "[INFO]\t1970-01-01T00:00:00.000Z\trid\ta\rb\n"
