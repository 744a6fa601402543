"""Fixtures for the local Lambda's tests: functions run by awslambdaric, and scripted runtimes.

A *scripted runtime* is a small Python program speaking the Runtime API with http.client,
misbehaving on purpose; it appends what it saw (status codes, signals) as JSON lines to
the file in $RECORD, which the test reads back.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_lambda import LocalLambda
from local_lambda.testing import LambdaFactory
from tests.conftest import write_function

AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]

# Shared head of every scripted runtime: how to call the API and record what happened.
SCRIPT_PRELUDE = """
import base64, http.client, json, os, socket, sys, time
HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
BASE = "/2018-06-01/runtime"

def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

def next_event():
    return call("GET", BASE + "/invocation/next")

def post(request_id, kind, body, headers=None):
    return call("POST", f"{BASE}/invocation/{request_id}/{kind}", body, headers)

def record(**fields):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps(fields) + "\\n")
"""


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    return tmp_path / "record.jsonl"


@pytest.fixture
def open_lambda(local_lambda_factory: LambdaFactory) -> LambdaFactory:
    """Open LocalLambdas for a test and close them (shutdown phase included) after it:
    the users' fixture from ``local_lambda.testing``."""
    return local_lambda_factory


@pytest.fixture
def ric_lambda(
    function_dir: Path, open_lambda: Callable[..., LocalLambda]
) -> Callable[..., LocalLambda]:
    """A local Lambda running ``app.py`` (given as source) under awslambdaric."""

    def make(source: str, **kwargs: Any) -> LocalLambda:
        write_function(function_dir, {"app.py": source})
        kwargs.setdefault("timeout", 5.0)
        return open_lambda(command=[*AWSLAMBDARIC, "app.handler"], task_root=function_dir, **kwargs)

    return make


@pytest.fixture
def scripted_lambda(
    function_dir: Path, record_file: Path, open_lambda: Callable[..., LocalLambda]
) -> Callable[..., LocalLambda]:
    """A local Lambda whose runtime is ``script`` (the prelude's helpers are in scope)."""

    def make(script: str, **kwargs: Any) -> LocalLambda:
        path = function_dir / "runtime.py"
        path.write_text(SCRIPT_PRELUDE + textwrap.dedent(script))
        env = {"RECORD": str(record_file), **kwargs.pop("env", {})}
        kwargs.setdefault("timeout", 5.0)
        return open_lambda(
            command=[sys.executable, str(path)], task_root=function_dir, env=env, **kwargs
        )

    return make
