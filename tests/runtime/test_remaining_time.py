"""One reading of the time left (``Invocation.remaining_ms``) behind the context, the deadline
watch and native programs' kill time, so they cannot disagree about it."""

from __future__ import annotations

import time

from runtime_core.context import LambdaContext
from runtime_core.deadline import seconds_left
from runtime_core.invocation import Invocation
from runtime_core.native.spawn import DEADLINE_MARGIN_MS, monotonic_deadline


def _invocation(ms_from_now: int) -> Invocation:
    return Invocation(
        "rid", int(time.time() * 1000) + ms_from_now, "arn:aws:lambda:us-east-1:1:function:f", b"{}"
    )


def test_time_left_is_the_same_everywhere() -> None:
    invocation = _invocation(5_000)
    remaining = invocation.remaining_ms()
    assert 4_000 < remaining <= 5_000
    assert abs(LambdaContext(invocation).get_remaining_time_in_millis() - remaining) <= 50
    assert abs(seconds_left(invocation, 1.0) - (remaining / 1000 - 1.0)) <= 0.05
    kill_at = monotonic_deadline(invocation)
    assert kill_at is not None
    expected = time.monotonic() + (remaining - DEADLINE_MARGIN_MS) / 1000
    assert abs(kill_at - expected) <= 0.05


def test_past_the_deadline_nothing_is_left() -> None:
    invocation = _invocation(-3_000)
    assert invocation.remaining_ms() == 0
    assert LambdaContext(invocation).get_remaining_time_in_millis() == 0
    assert seconds_left(invocation, 0.5) == 0.0
    kill_at = monotonic_deadline(invocation)
    assert kill_at is not None and kill_at <= time.monotonic()
