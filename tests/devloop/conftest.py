"""A SAM project on disk and `lambdaboot serve --template` running it, for the e2e tests.

The project has three functions as people write them: one using a layer of shared code,
one streaming its response, one with an external extension (in a layer) that records
the events it gets. ``serve`` is the real command in a subprocess; tests call it with
boto3 and read its console.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lambda_client, write_function

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Timeout: 30
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
  Recorder:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: layers/recorder
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub '${AWS::StackName}-api'
      CodeUri: src/api/
      Handler: app.handler
      Layers: [!Ref Shared]
      Environment:
        Variables:
          GREETING: hello
          GATE: !Ref Gate
  Stream:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/stream/
      Handler: app.handler
  WithExtension:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/ext/
      Handler: app.handler
      Layers: [!Ref Recorder]
Parameters:
  Gate:
    Type: String
    Default: none
"""

API = """
import os, pathlib, time
import shared_lib

VERSION = 1

def handler(event, context):
    gate = pathlib.Path(os.environ["GATE"])
    if event.get("hold"):  # wait for the test to let go (so invocations overlap for sure)
        (gate / f"in-{context.aws_request_id}").touch()
        while not (gate / "release").exists():
            time.sleep(0.02)
    return {
        "version": VERSION,
        "greeting": os.environ["GREETING"],
        "shared": shared_lib.greet("api"),
        "sam_local": os.environ.get("AWS_SAM_LOCAL"),
        "log_stream": context.log_stream_name,
    }
"""

STREAM = """
import asyncio

async def handler(event, context):
    for i in range(3):
        await asyncio.sleep(0.05)  # so a REPORT's Duration must cover the stream: >= 150 ms
        yield f"part {i};"
"""

EXT_APP = """
def handler(event, context):
    return {"request_id": context.aws_request_id}
"""

RECORDER = """
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(host, int(port))
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data

resp, _ = call("POST", "/2020-01-01/extension/register", \
json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
               {"Lambda-Extension-Name": "recorder"})
ident = resp.getheader("Lambda-Extension-Identifier")
while True:
    resp, data = call("GET", "/2020-01-01/extension/event/next", \
headers={"Lambda-Extension-Identifier": ident})
    event = json.loads(data)
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({"type": event["eventType"], \
"requestId": event.get("requestId")}) + "\\n")
    if event["eventType"] == "SHUTDOWN":
        break
"""


@dataclass
class Project:
    root: Path
    template: Path
    gate: Path
    record: Path

    def api_source(self, version: int) -> None:
        (self.root / "src/api/app.py").write_text(
            textwrap.dedent(API).replace("VERSION = 1", f"VERSION = {version}")
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    write_function(
        root,
        {
            "template.yaml": TEMPLATE,
            "src/api/app.py": API,
            "layers/shared/python/shared_lib.py": (
                "def greet(name):\n    return f'shared says hi to {name}'\n"
            ),
            "src/stream/app.py": STREAM,
            "src/ext/app.py": EXT_APP,
            "layers/recorder/extensions/recorder": f"#!{sys.executable}\n"
            + textwrap.dedent(RECORDER),
        },
    )
    (root / "layers/recorder/extensions/recorder").chmod(0o755)
    gate = tmp_path / "gate"
    gate.mkdir()
    return Project(root, root / "template.yaml", gate, tmp_path / "record.jsonl")


@dataclass
class Served:
    process: subprocess.Popen[str]
    endpoint: str
    console: Path  # stderr: log lines with the environment's label, notes
    stdout_lines: list[str]

    def client(self) -> Any:
        return lambda_client(
            self.endpoint,
            retries={"total_max_attempts": 1},
            read_timeout=60,
            max_pool_connections=32,
        )

    def log(self) -> str:
        return self.console.read_text()

    def read_stdout_until(self, text: str, timeout: float = 60) -> str:
        """Lines of stdout up to the first containing ``text``."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.stdout_lines.append(line)
            if text in line:
                return line
        raise AssertionError(
            f"serve never printed {text!r}; stdout: {self.stdout_lines}; stderr: {self.log()}"
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def serve(project: Project, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `lambdaboot serve --template` with extra arguments; stopped after the test."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        console = tmp_path / f"console-{len(started)}.txt"
        env = {**os.environ, "RECORD": str(project.record)}
        command = [
            sys.executable,
            "-m",
            "lambdaboot_cli",
            "serve",
            "--template",
            str(project.template),
        ]
        command += [
            "--parameter-overrides",
            f"Gate={project.gate}",
            "--env",
            f"RECORD={project.record}",
            *args,
        ]
        with console.open("w") as err:
            process = subprocess.Popen(
                command, cwd=project.root, stdout=subprocess.PIPE, stderr=err, text=True, env=env
            )
        served = Served(process, "", console, [])
        started.append(served)
        line = served.read_stdout_until("Invoke API: ")
        served.endpoint = line.split()[2]
        return served

    yield start
    for served in started:
        served.stop()
