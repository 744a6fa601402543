"""Measuring one or two function configurations: N cold starts, M warm invocations, an
import profile.

Every cold start runs in a fresh environment (``LocalLambda.shutdown()`` ends the previous
one, so the next invoke spawns the runtime again). With two configurations the runs are
interleaved A B A B, so that a noisy machine slows both alike and the ratio of each pair
stays meaningful.

Phases, all from the local Lambda's own clock (``InvokeResult.timings`` and the REPORT line):
- ``init_ms``: Init Duration, runtime spawn to its first ``/next``;
- ``first_invoke_ms``: the event leaving on that ``/next`` to the result arriving;
- ``first_response_ms``: the *first response*, runtime spawn to the response posted
  (``InvokeResult.response_ms``): what the first caller waits for, since Lambda (and the
  local invoke API) answers a synchronous invoke as soon as the runtime has posted;
- ``billed_cold_start_ms``: the *billed cold start*, Init Duration plus the first
  invocation's Duration, which runs on until the runtime asks for the next event: work
  left after the response (an import "for later", an extension's post-invocation work)
  is billed here, not hidden, and makes it larger than the first response;
- ``warm_ms``: the same event-to-result time on a warm environment;
- ``max_memory_mb``: Max Memory Used of each cold environment after its first invoke.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from local_lambda.emulator import LocalLambda
from local_lambda.model import FunctionConfig, InvokeResult

from . import importtime

PHASES = (
    "init_ms",
    "first_invoke_ms",
    "first_response_ms",
    "billed_cold_start_ms",
    "warm_ms",
    "max_memory_mb",
)

# The local Lambda measures memory but does not cap it (no cgroup limit is set).
MEMORY_ENFORCED = False


class BenchError(Exception):
    """The function could not be measured (it failed, or the runtime did not start)."""


@dataclass
class Target:
    """One configuration to measure, under a label for the table and the chart."""

    label: str
    config: FunctionConfig


@dataclass
class Samples:
    """Every measured value of one target, per phase, in run order."""

    phases: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    import_profile: dict[str, float] = field(default_factory=dict)


@dataclass
class Stopper:
    """Ends a run early, from a signal handler's thread: no further measurement starts,
    and the environments of the one in flight end now (``stop``: the shutdown phase with
    its budget, then a kill) or at once (``force``). A run stopped so returns what it has
    measured, and ``run`` never leaves its ``close()`` half done: that is what a second
    KeyboardInterrupt landing in it did, leaving a frozen runtime behind."""

    stopped: threading.Event = field(default_factory=threading.Event)
    lambdas: list[LocalLambda] = field(default_factory=list)

    def stop(self) -> None:
        self.stopped.set()
        for lam in list(self.lambdas):
            lam.interrupt()

    def force(self) -> None:
        self.stopped.set()
        for lam in list(self.lambdas):
            lam.interrupt(force=True)


def _checked(label: str, result: InvokeResult) -> InvokeResult:
    if result.function_error or result.report is None:
        detail = result.payload.decode("utf-8", "replace")[:500]
        log = result.logs.strip().splitlines()[-8:]
        raise BenchError(
            f"{label}: the invocation failed ({result.error_type or 'error'}): {detail}\n"
            + "\n".join("  | " + line for line in log)
        )
    return result


def _invoke_ms(result: InvokeResult) -> float:
    timings = result.timings
    return (timings.result_received_ns - timings.next_answered_ns) / 1e6


def cold_start(label: str, lam: LocalLambda, event: bytes, samples: Samples) -> None:
    """One invoke on a fresh environment, then the environment's end."""
    result = _checked(label, lam.invoke(event))
    report = result.report
    assert report is not None
    if report.init_duration_ms is None:
        raise BenchError(f"{label}: expected a cold start but the environment was warm")
    response_ms = result.response_ms
    assert response_ms is not None  # a checked result was posted
    phases = samples.phases
    phases["init_ms"].append(report.init_duration_ms)
    phases["first_invoke_ms"].append(_invoke_ms(result))
    phases["first_response_ms"].append(response_ms)
    phases["billed_cold_start_ms"].append(report.init_duration_ms + report.duration_ms)
    phases["max_memory_mb"].append(float(report.max_memory_used_mb))
    lam.shutdown()


def warm_invoke(label: str, lam: LocalLambda, event: bytes, samples: Samples) -> None:
    result = _checked(label, lam.invoke(event))
    samples.phases["warm_ms"].append(_invoke_ms(result))


def import_profile(
    target: Target, event: bytes, stopper: Stopper | None = None
) -> dict[str, float]:
    """One extra cold start with ``PYTHONPROFILEIMPORTTIME=1`` (kept out of the timed runs)."""
    config = dataclasses.replace(target.config, env={**target.config.env, **importtime.ENV})
    with LocalLambda(config) as lam:
        if stopper is not None:
            stopper.lambdas.append(lam)
        try:
            result = _checked(target.label, lam.invoke(event))
        finally:
            if stopper is not None:
                stopper.lambdas.remove(lam)
    return importtime.parse(result.logs)


def steps(targets: list[Target], cold: int, warm: int, profile: bool) -> int:
    """How many progress steps :func:`run` reports."""
    return len(targets) * (cold + warm + (1 if profile else 0))


def run(
    targets: list[Target],
    event: bytes,
    cold: int,
    warm: int,
    profile: bool = True,
    on_step: Callable[[str], None] = lambda _label: None,
    stopper: Stopper | None = None,
) -> dict[str, Samples]:
    """Measure every target, interleaved; ``on_step(label)`` after each measurement;
    ``stopper`` ends it early (see Stopper)."""
    samples = {t.label: Samples() for t in targets}
    lambdas = {t.label: LocalLambda(t.config) for t in targets}
    stopper = stopper or Stopper()
    stopper.lambdas[:] = lambdas.values()
    steps = [("cold", t) for _ in range(cold) for t in targets]
    if warm:
        steps += [("warm-up", t) for t in targets]  # a cold start: not counted
        steps += [("warm", t) for _ in range(warm) for t in targets]
    try:
        for lam in lambdas.values():
            lam.open()
        for kind, t in steps:
            if stopper.stopped.is_set():
                break
            lam, measured = lambdas[t.label], samples[t.label]
            try:
                if kind == "cold":
                    cold_start(t.label, lam, event, measured)
                elif kind == "warm-up":
                    _checked(t.label, lam.invoke(event))
                    continue
                else:
                    warm_invoke(t.label, lam, event, measured)
            except BenchError:
                if stopper.stopped.is_set():
                    break  # the invocation ended because the run was stopped
                raise
            on_step(t.label)
    finally:
        for lam in lambdas.values():
            lam.close()
        stopper.lambdas.clear()
    for t in targets if profile else []:
        if stopper.stopped.is_set():
            break
        try:
            samples[t.label].import_profile = import_profile(t, event, stopper)
        except BenchError:
            if stopper.stopped.is_set():
                break
            raise
        on_step(t.label)
    return samples
