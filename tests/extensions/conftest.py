"""Fixtures for the extension tests: a scripted Extensions API, real extension processes, an
HTTP sink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_lambda import Report
from tests.conftest import REPO
from tests.extensions.fake_extensions_api import FakeExtensionsApi
from tests.stub_server import StubHandler, StubServer


@pytest.fixture
def fake_api() -> Iterator[FakeExtensionsApi]:
    api = FakeExtensionsApi()
    yield api
    api.close()


def start_extension(
    path: Path, api: FakeExtensionsApi, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Run an extension file as Lambda would (its own process, the API's address in the env)."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.fspath(REPO),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, os.fspath(path)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_extension(directory: Path, name: str, source: str) -> Path:
    """An extension script named ``name`` (its registration name), dedented."""
    path = directory / name
    path.write_text(textwrap.dedent(source))
    path.chmod(0o755)
    return path


class Sink:
    """A log endpoint: keeps every JSON body POSTed to it; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.refused = threading.Event()
        sink = self

        class Handler(StubHandler):
            def do_POST(self) -> None:
                body = self.read_body()
                status = sink.status
                if status == 200:
                    sink.bodies.append(json.loads(body))
                else:
                    sink.refused.set()
                self.reply(status)

        self._server = StubServer(Handler)
        self.url = f"http://{self._server.address}/ingest"

    def records(self) -> list[dict[str, Any]]:
        return [record for body in self.bodies for record in body["records"]]

    def assert_reports_shipped(self, reports: list[Report]) -> None:
        """The telemetry shipper sent one report per REPORT line, in order, with its
        figures (durations to the 3 decimals Lambda gives)."""
        shipped = [r for r in self.records() if r["kind"] == "report"]
        assert [r["requestId"] for r in shipped] == [report.request_id for report in reports]
        for record, report in zip(shipped, reports, strict=True):
            assert record["status"] == "success"
            assert record["durationMs"] == pytest.approx(report.duration_ms, abs=0.001)
            assert record["billedDurationMs"] == report.billed_duration_ms
            assert record["memorySizeMB"] == report.memory_size_mb
            assert record["maxMemoryUsedMB"] == report.max_memory_used_mb
            if report.init_duration_ms is None:
                assert record["initDurationMs"] is None
            else:
                assert record["initDurationMs"] == pytest.approx(report.init_duration_ms, abs=0.001)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()
