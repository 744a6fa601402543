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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.extensions.fake_extensions_api import FakeExtensionsApi


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

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = sink.status
                if status == 200:
                    sink.bodies.append(json.loads(body))
                else:
                    sink.refused.set()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/ingest"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def records(self) -> list[dict[str, Any]]:
        return [record for body in self.bodies for record in body["records"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()
