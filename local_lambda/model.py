"""The local Lambda's public value types: a function's configuration and what an invoke returns."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import log_level, protocol


@dataclass
class FunctionConfig:
    """How to run one function: the runtime command and the settings Lambda would give it."""

    command: list[str]
    task_root: Path
    handler: str = "app.handler"
    timeout: float = 3.0
    memory_mb: int = 128
    init_timeout: float = 10.0
    env: dict[str, str] = field(default_factory=dict)
    function_name: str = "test-function"
    region: str = "us-east-1"
    log_format: str = "Text"
    log_level: str | None = None
    # Shutdown phase (spec §5 "Timing"): how long the runtime gets between SIGTERM and
    # SIGKILL when only internal extensions are registered, and in all with external ones.
    shutdown_internal_ms: int = 500
    shutdown_external_ms: int = 2000
    # How Max Memory Used is measured: "auto" (a cgroup v1 memory group where possible,
    # else sampled PSS), "cgroup" or "pss". See local_lambda/memory.py.
    memory_measure: str = "auto"
    # Echo each log line to this process's stderr as it arrives (the CLI uses it).
    echo_logs: bool = False
    # Also hand each log line to this as it arrives (``serve --template`` prints them
    # with the label of the environment that wrote them).
    log_listener: Callable[[str], None] | None = None
    # Layers (zips or directories) merged in order into /opt, a later one winning; and the
    # Lambda runtime to emulate: "provided.al2023" / "provided.al2" (start the function's
    # or /opt's bootstrap unless ``command`` is given) or "python3.11"-"python3.13" (the
    # managed runtime's start). With either, the function (a directory or a zip) is
    # mounted read-only: see local_lambda/layers.py and ``filesystem`` ("auto",
    # "namespace" or "directories").
    layers: list[Path] = field(default_factory=list)
    runtime: str | None = None
    filesystem: str = "auto"
    # Lambda Managed Instances: up to this many invocations in flight in one environment
    # (AWS_LAMBDA_MAX_CONCURRENCY); above 1 the environment is an LMI one (JSON logs,
    # AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances, no reset on a timeout).
    max_concurrency: int = 1
    # Freeze the environment's processes while it waits between invocations, as Lambda
    # does (see docs/local_lambda.md); False keeps them running (e.g. to attach a
    # debugger). Managed Instances environments are never frozen.
    freeze: bool = True
    # SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start): init and the before-snapshot
    # hooks in one process, the restore path in a fork of it (local_lambda/snapstart.py).
    snap_start: bool = False
    # SnapStart: how long a restore (after-restore hooks, up to the first /next) may take
    # before the invoke fails with SnapStartTimeoutException (Lambda's limit: 10 s).
    restore_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.command and self.runtime is None:
            raise ValueError(
                "FunctionConfig.command is empty: give the runtime command, e.g. ['./bootstrap'],"
                " or a runtime ('provided.al2023', 'python3.12')"
            )
        if self.log_format.lower() not in ("text", "json"):
            raise ValueError(f"log_format must be 'Text' or 'JSON', not {self.log_format!r}")
        if not self.managed_instances:  # (LMI logs JSON: checked below, once it is set)
            log_level.check(self.log_format, self.log_level)
        if self.memory_measure not in ("auto", "cgroup", "pss"):
            raise ValueError(
                f"memory_measure must be 'auto', 'cgroup' or 'pss', not {self.memory_measure!r}"
            )
        if self.timeout <= 0 or self.init_timeout <= 0 or self.restore_timeout <= 0:
            raise ValueError(
                "timeout, init_timeout and restore_timeout must be positive numbers of seconds"
            )
        self.task_root = Path(self.task_root).absolute()  # a mount source must be absolute
        self.layers = [Path(layer) for layer in self.layers]
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {self.max_concurrency}")
        if self.snap_start and self.managed_instances:
            raise ValueError("snap_start cannot be combined with max_concurrency above 1")
        if self.snap_start:
            self.env = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", **self.env}
        if self.managed_instances:
            self.log_format = "JSON"  # LMI logs JSON only (spec §4.1)
            log_level.check(self.log_format, self.log_level)
            lmi = {
                "AWS_LAMBDA_MAX_CONCURRENCY": str(self.max_concurrency),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances",
            }
            self.env = {**lmi, **self.env}

    @property
    def managed_instances(self) -> bool:
        return self.max_concurrency > 1

    @property
    def runtime_version(self) -> str:
        """What INIT_START names as the runtime, in Lambda's ``family:version`` form."""
        family, _, version = (self.runtime or "provided.al2023").partition(".")
        if family.startswith("python"):
            family, version = "python", family.removeprefix("python") + "." + version
        return f"{family}:{version}.local"

    @property
    def initialization_type(self) -> str:
        """``AWS_LAMBDA_INITIALIZATION_TYPE`` and the platform records' ``initializationType``."""
        if self.snap_start:
            return "snap-start"
        return "lambda-managed-instances" if self.managed_instances else "on-demand"

    @property
    def function_version(self) -> str:
        """The version this function runs as, wherever Lambda names it (START lines,
        ``AWS_LAMBDA_FUNCTION_VERSION``, the Extensions API's REGISTER answer, telemetry
        records, ``X-Amz-Executed-Version``). SnapStart applies only to published versions,
        so a SnapStart function runs as its version 1; any other runs as ``$LATEST``."""
        return protocol.PUBLISHED_VERSION if self.snap_start else protocol.LATEST_VERSION

    @property
    def json_logs(self) -> bool:
        return self.log_format.lower() == "json"


@dataclass(frozen=True)
class Report:
    """The figures of a REPORT line."""

    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    #: SnapStart cold starts: the restore's duration (Init Duration is then None).
    restore_duration_ms: float | None = None


@dataclass
class Timings:
    """Server-side ``time.perf_counter_ns()`` stamps of one invocation, for benchmarks
    (0 = did not happen)."""

    #: When the invocation began for its caller: the invoke's arrival (the invoke API's
    #: request, or ``LocalLambda.run``), or on a cold start the runtime's spawn (Init's start).
    started_ns: int = 0
    next_answered_ns: int = 0
    result_received_ns: int = 0
    accepted_written_ns: int = 0
    following_next_ns: int = 0

    @property
    def holding_ns(self) -> int:
        """From the event leaving to the runtime asking for the next one: its holding time."""
        if not (self.next_answered_ns and self.following_next_ns):
            return 0
        return self.following_next_ns - self.next_answered_ns


@dataclass
class PendingInvoke:
    """One invoke on its way to a runtime (the platform's side: what ``/next`` will carry).
    Not the runtime's ``Invocation``; it holds no futures, so it can be built anywhere."""

    event: bytes
    function_arn: str
    content_type: str = "application/json"
    trace_id: str = ""
    client_context: str = ""
    cognito_identity: str = ""
    tenant_id: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invocation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timings: Timings = field(default_factory=Timings)


@dataclass(frozen=True)
class InvokeOutcome:
    """How an invocation ended, as the invoker sees it."""

    payload: bytes
    function_error: str | None = None
    error_type: str | None = None
    status: str = "success"  # success | error | timeout | failure (telemetry's statuses)
    #: The invoke API's status: 200 unless Lambda refuses the invoke itself (then
    #: ``error_type`` is its x-amzn-ErrorType and ``payload`` its error body).
    http_status: int = 200


@dataclass
class InvokeResult:
    """What the invoker got, plus the platform's view of the invocation."""

    request_id: str
    payload: bytes
    function_error: str | None
    report: Report | None
    logs: str
    timings: Timings
    status_code: int = 200
    # The platform's errorType for the REPORT line (e.g. Runtime.ExitError), if any.
    error_type: str | None = None
    # With invoke(log_tail=True): base64 of the log's last 4 KB, as X-Amz-Log-Result.
    log_result: str | None = None
    # The invocation's log as CloudWatch events, one per record (``logs`` joins them).
    log_events: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def response_ms(self) -> float | None:
        """When the response was posted, in ms from the invocation's start: what a caller of
        a synchronous invoke waits for, since Lambda answers it as soon as the runtime has
        posted (work after that, until the next ``/next``, is in Duration, not in the wait).
        On a cold start it counts from the runtime's spawn, so it is Init plus the time to
        the response (the sandbox's creation, not in Init on Lambda either, is left out).
        None when no response was posted (a timeout or a crash before it)."""
        timings = self.timings
        if not (timings.started_ns and timings.result_received_ns):
            return None
        return (timings.result_received_ns - timings.started_ns) / 1e6


@dataclass(frozen=True)
class ShutdownResult:
    """What the shutdown phase did."""

    signals: list[str]
    exit_status: int | None
    duration_ms: float
    ran: bool = True  # False when there was no environment to shut down
    # The external extensions that were sent a SHUTDOWN event.
    shutdown_sent_to: list[str] = field(default_factory=list)
