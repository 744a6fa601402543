"""The platform's own log lines (INIT_START, START, END, REPORT...), in Text or JSON format.

Text follows the CloudWatch lines of spec §7 (tabs where Lambda has them, Init Duration
after Max Memory Used, a trailing tab). In JSON log format the same events are written
as ``{"time", "type": "platform.*", "record": {...}}`` objects, with the telemetry
record shapes of spec §6.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable
from typing import Any

from . import protocol
from .model import Report


def readable(event: str) -> str:
    """A log event as a terminal shows it well: a record a runtime wrote with ``\\r`` for
    its newlines (one stdout line, one CloudWatch event) on lines of its own."""
    if "\r" not in event:
        return event
    return event.replace("\r\n", "\n").replace("\r", "\n")


def timestamp() -> str:
    """UTC time with milliseconds, as Lambda writes it: 2026-01-01T00:00:00.123Z."""
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class PlatformLog:
    """Formats platform events for one function's log format."""

    def __init__(
        self,
        json_format: bool,
        function_name: str,
        function_arn: str,
        initialization_type: str = "on-demand",
        runtime_version: str = protocol.RUNTIME_VERSION,
        function_version: str = protocol.LATEST_VERSION,
    ) -> None:
        self.runtime_version = runtime_version
        self.function_version = function_version
        self.json_format = json_format
        self.initialization_type = initialization_type
        self.function_name = function_name
        self.function_arn = function_arn
        # Told every platform event as (category, type, record): the Telemetry API's feed.
        self.listener: Callable[[str, str, Any], None] | None = None

    def _json(self, event_type: str, record: dict[str, Any]) -> str:
        return json.dumps({"time": timestamp(), "type": event_type, "record": record})

    def _tell(self, event_type: str, record: dict[str, Any]) -> None:
        if self.listener is not None:
            self.listener("platform", event_type, record)

    def init_start(self) -> str:
        record = {
            "initializationType": self.initialization_type,
            "phase": "init",
            "runtimeVersion": self.runtime_version,
            "runtimeVersionArn": protocol.RUNTIME_VERSION_ARN,
            "functionName": self.function_name,
            "functionVersion": self.function_version,
        }
        self._tell("platform.initStart", record)
        if self.json_format:
            return self._json("platform.initStart", record)
        return (
            f"INIT_START Runtime Version: {self.runtime_version}\t"
            f"Runtime Version ARN: {protocol.RUNTIME_VERSION_ARN}"
        )

    def init_report(self, duration_ms: float, status: str, error_type: str | None) -> str:
        """Written when init fails (Lambda writes INIT_REPORT for failed or timed-out inits)."""
        record: dict[str, Any] = {
            "initializationType": self.initialization_type,
            "phase": "init",
            "status": status,
            "metrics": {"durationMs": round(duration_ms, 3)},
        }
        if error_type:
            record["errorType"] = error_type
        self._tell("platform.initReport", record)
        if self.json_format:
            return self._json("platform.initReport", record)
        line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: init\tStatus: {status}"
        if error_type:
            line += f"\tError Type: {error_type}"
        return line

    def start(self, request_id: str, tenant_id: str | None) -> str:
        record = {"requestId": request_id, "version": self.function_version}
        if tenant_id:
            record["tenantId"] = tenant_id
        self._tell("platform.start", record)
        if self.json_format:
            return self._json("platform.start", record)
        return f"START RequestId: {request_id} Version: {self.function_version}"

    def end(self, request_id: str, status: str, duration_ms: float, produced_bytes: int) -> str:
        record = {
            "requestId": request_id,
            "status": status,
            "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes},
        }
        self._tell("platform.runtimeDone", record)
        if self.json_format:
            return self._json("platform.runtimeDone", record)
        return f"END RequestId: {request_id}"

    def restore_start(self) -> str:
        """SnapStart: a cold start resumes the snapshot (in place of INIT_START)."""
        record = {
            "runtimeVersion": self.runtime_version,
            "runtimeVersionArn": protocol.RUNTIME_VERSION_ARN,
            "functionName": self.function_name,
            "functionVersion": self.function_version,
        }
        self._tell("platform.restoreStart", record)
        if self.json_format:
            return self._json("platform.restoreStart", record)
        return (
            f"RESTORE_START Runtime Version: {self.runtime_version}\t"
            f"Runtime Version ARN: {protocol.RUNTIME_VERSION_ARN}"
        )

    def restore_report(self, duration_ms: float, status: str, error_type: str | None) -> str:
        record: dict[str, Any] = {
            "status": status,
            "metrics": {"durationMs": round(duration_ms, 3)},
        }
        if error_type:
            record["errorType"] = error_type
        self._tell("platform.restoreReport", record)
        if self.json_format:
            return self._json("platform.restoreReport", record)
        line = f"RESTORE_REPORT Restore Duration: {duration_ms:.2f} ms"
        if status != "success":
            line += f"\tStatus: {status}" + (f"\tError Type: {error_type}" if error_type else "")
        return line

    def report(self, report: Report, status: str, error_type: str | None) -> str:
        metrics: dict[str, Any] = {
            "durationMs": round(report.duration_ms, 3),
            "billedDurationMs": report.billed_duration_ms,
            "memorySizeMB": report.memory_size_mb,
            "maxMemoryUsedMB": report.max_memory_used_mb,
        }
        if report.init_duration_ms is not None:
            metrics["initDurationMs"] = round(report.init_duration_ms, 3)
        if report.restore_duration_ms is not None:
            metrics["restoreDurationMs"] = round(report.restore_duration_ms, 3)
            metrics["billedRestoreDurationMs"] = math.ceil(report.restore_duration_ms)
        record: dict[str, Any] = {
            "requestId": report.request_id,
            "metrics": metrics,
            "status": status,
        }
        if error_type and status not in ("success", "timeout"):
            record["errorType"] = error_type  # a timeout has none (see below)
        self._tell("platform.report", record)
        if self.json_format:
            return self._json("platform.report", record)
        line = (
            f"REPORT RequestId: {report.request_id}\t"
            f"Duration: {report.duration_ms:.2f} ms\t"
            f"Billed Duration: {report.billed_duration_ms} ms\t"
            f"Memory Size: {report.memory_size_mb} MB\t"
            f"Max Memory Used: {report.max_memory_used_mb} MB\t"
        )
        if report.init_duration_ms is not None:
            line += f"Init Duration: {report.init_duration_ms:.2f} ms\t"
        if report.restore_duration_ms is not None:  # as Lambda prints it for SnapStart
            line += (
                f"Restore Duration: {report.restore_duration_ms:.2f} ms\t"
                f"Billed Restore Duration: {math.ceil(report.restore_duration_ms)} ms\t"
            )
        # Lambda adds the status only when the invocation did not succeed from the platform's
        # side, and then ends the line there (no trailing tab): "...\tStatus: timeout" (no
        # error type) or "...\tStatus: error\tError Type: Runtime.ExitError". A function
        # error the runtime reported (POST /error) is a success here: its REPORT is plain,
        # as in CloudWatch for a Python handler's exception (docs/local_lambda.md, REPORT).
        if status == "timeout":
            line += "Status: timeout"
        elif status != "success":
            line += f"Status: {status}" + (f"\tError Type: {error_type}" if error_type else "")
        return line

    @staticmethod
    def timed_out(request_id: str, seconds: float) -> str:
        return f"{timestamp()} {request_id} Task timed out after {seconds:.2f} seconds"
