"""Duration as Lambda bills it, and environments frozen between invocations.

Lambda's Duration runs from the event's delivery until the runtime asks for the next one;
for a custom runtime the first invocation's Billed Duration also carries Init. Between
invocations the environment is frozen, so work left running after a response resumes
(and is billed) inside the next invocation. Real runtimes, real sockets, real processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from local_lambda import LocalLambda
from local_lambda.testing import LambdaFactory
from tests.conftest import BOOTSTRAP, bootstrap_env, write_function
from tests.local_lambda.conftest import read_records

# Answers at once, then works 0.4 s before asking for the next event.
SLOW_AFTER_ANSWER = """
while True:
    status, headers, event = next_event()
    rid = headers["lambda-runtime-aws-request-id"]
    post(rid, "response", b'"answered"')
    time.sleep(0.4)
"""


def test_work_after_the_response_is_in_duration_and_billed_with_init(
    scripted_lambda: Callable[..., LocalLambda],
) -> None:
    lam = scripted_lambda(SLOW_AFTER_ANSWER)
    cold = lam.invoke({})
    assert cold.json() == "answered"
    report = cold.report
    assert report is not None and report.init_duration_ms is not None
    # the response came at once; Duration waited for the next /next
    timings = cold.timings
    assert (timings.result_received_ns - timings.next_answered_ns) / 1e6 < report.duration_ms
    assert report.duration_ms >= 400
    assert report.billed_duration_ms == math.ceil(report.init_duration_ms + report.duration_ms)
    warm = lam.invoke({})
    assert warm.report is not None and warm.report.init_duration_ms is None
    assert warm.report.duration_ms >= 400
    assert warm.report.billed_duration_ms == math.ceil(warm.report.duration_ms)
    assert f"Billed Duration: {warm.report.billed_duration_ms} ms" in warm.logs


# A background thread stamps the time of each tick; the second invocation reports how
# many ticks fell in the idle time between the first one's end and its own delivery.
TICKER = """
import threading
ticks = []

def tick():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.002)

threading.Thread(target=tick, daemon=True).start()
status, headers, event = next_event()
post(headers["lambda-runtime-aws-request-id"], "response", b"{}")
idle_from = time.monotonic()
status, headers, event = next_event()
delivered = time.monotonic()
window = (idle_from + 0.25, delivered - 0.25)
during_idle = [t for t in list(ticks) if window[0] < t < window[1]]
record(idle_s=delivered - idle_from, ticks_while_idle=len(during_idle), ticks=len(ticks))
post(headers["lambda-runtime-aws-request-id"], "response", b"{}")
status, headers, event = next_event()
"""


def test_a_frozen_environment_does_no_work_between_invocations(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(TICKER)
    lam.invoke({})
    # Idle for a while: on Lambda the environment is frozen now.
    time.sleep(1.5)
    lam.invoke({})
    (seen,) = read_records(record_file)
    assert seen["idle_s"] >= 1.5  # the runtime's own clock saw the idle time pass
    assert seen["ticks"] > 0  # the thread ran while invocations did
    assert seen["ticks_while_idle"] == 0, seen  # and never while the environment waited


def test_an_environment_started_eagerly_is_frozen_until_its_first_invocation(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(
        """
        import threading
        ticks = []
        threading.Thread(
            target=lambda: [ticks.append(time.monotonic()) or time.sleep(0.002) \
for _ in iter(int, 1)],
            daemon=True,
        ).start()
        asked = time.monotonic()
        status, headers, event = next_event()
        delivered = time.monotonic()
        record(ticks_while_idle=len([t for t in list(ticks) \
if asked + 0.25 < t < delivered - 0.25]))
        post(headers["lambda-runtime-aws-request-id"], "response", b"{}")
        status, headers, event = next_event()
        """
    )
    assert lam.start() is not None
    time.sleep(1.5)
    lam.invoke({})
    (seen,) = read_records(record_file)
    assert seen["ticks_while_idle"] == 0, seen


def test_freeze_false_keeps_the_environment_running(
    scripted_lambda: Callable[..., LocalLambda], record_file: Path
) -> None:
    lam = scripted_lambda(TICKER, freeze=False)
    lam.invoke({})
    time.sleep(1.5)
    lam.invoke({})
    (seen,) = read_records(record_file)
    assert seen["ticks_while_idle"] > 0, seen  # the thread went on while it waited


# A Python handler under lambdaboot's own bootstrap: a background thread started at import
# ticks; each invocation says how many ticks fell in the idle time since the last one.
TICKING_HANDLER = """
import threading, time

ticks = []
last = {}


def tick():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.002)


threading.Thread(target=tick, daemon=True).start()


def handler(event, context):
    now = time.monotonic()
    since = last.get("returned")
    idle = [t for t in list(ticks) if since is not None and since + 0.25 < t < now - 0.25]
    last["returned"] = time.monotonic()
    return {"ticks_while_idle": len(idle), "idle_s": None if since is None else now - since}
"""


def test_lambdaboot_under_a_frozen_environment(
    runtime_python: Path, function_dir: Path, local_lambda_factory: LambdaFactory
) -> None:
    """Through the real bootstrap on each Python: billed as Lambda bills a custom runtime,
    and no background work between invocations."""
    write_function(function_dir, {"app.py": TICKING_HANDLER})
    lam = local_lambda_factory(
        command=[str(BOOTSTRAP)], task_root=function_dir, env=bootstrap_env(runtime_python)
    )
    cold = lam.invoke({})
    assert cold.function_error is None, cold.payload
    report = cold.report
    assert report is not None and report.init_duration_ms is not None
    assert report.billed_duration_ms == math.ceil(report.init_duration_ms + report.duration_ms)
    time.sleep(1.5)
    warm = lam.invoke({})
    assert warm.json()["idle_s"] >= 1.5
    assert warm.json()["ticks_while_idle"] == 0, warm.json()
