"""The fleet tools against moto's server on 127.0.0.1 (AWS itself cannot run here).

One moto server per test module; each test builds its own fleet under its own name
prefix, so tests in a module do not depend on one another's order.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import lambdaboot

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",  # never wait for an instance metadata service
}
REGIONS = ("eu-west-1", "us-east-2")
REGION_ARGS = [arg for region in REGIONS for arg in ("--region", region)]
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # moto's recorder writes its file into the server's working directory: keep it out of the repo.
    workdir = tmp_path_factory.mktemp("moto")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("moto_server did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def client(endpoint: str, service: str, region: str, **credentials: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
        aws_session_token=credentials.get("token"),
    )


def fleet_cli(endpoint: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """``lambdaboot ARGS --endpoint-url ENDPOINT`` with test credentials."""
    return lambdaboot(*args, "--endpoint-url", endpoint, env={**CREDENTIALS, **(env or {})})


def tiny_zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/marker.py", text)
    return buffer.getvalue()


def function_role(endpoint: str, **credentials: str) -> str:
    iam = client(endpoint, "iam", "us-east-1", **credentials)
    try:
        return str(iam.get_role(RoleName="fleet-fn")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="fleet-fn", AssumeRolePolicyDocument=json.dumps(policy))
        return str(role["Role"]["Arn"])


@dataclass
class Fleet:
    """Functions in two regions using ``layer`` (ours): some on old versions, some with other
    layers before and after ours, one incompatible per region, one behind an alias."""

    endpoint: str
    prefix: str
    layer: str
    ours: dict[str, list[str]] = field(default_factory=dict)  # region -> version ARNs
    other: dict[str, tuple[str, str]] = field(default_factory=dict)  # region -> (before, after)
    # (region, function) -> its layer list when the fleet was made
    layers: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def fn(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def lam(self, region: str) -> Any:
        return client(self.endpoint, "lambda", region)

    def current_layers(self, region: str, short: str, qualifier: str | None = None) -> list[str]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        config = self.lam(region).get_function_configuration(FunctionName=self.fn(short), **extra)
        return [entry["Arn"] for entry in config.get("Layers", [])]

    def alias_version(self, region: str, short: str, alias: str) -> str:
        return str(
            self.lam(region).get_alias(FunctionName=self.fn(short), Name=alias)["FunctionVersion"]
        )

    def publish_ours(self, text: str) -> dict[str, str]:
        """A new version of our layer in both regions (boto3, direct upload): region -> ARN."""
        arns = {}
        for region in REGIONS:
            arn = self.lam(region).publish_layer_version(
                LayerName=self.layer,
                Content={"ZipFile": tiny_zip(text)},
                CompatibleRuntimes=["python3.12"],
                CompatibleArchitectures=["x86_64"],
            )["LayerVersionArn"]
            self.ours[region].append(arn)
            arns[region] = arn
        return arns


# (region, short name, runtime, architecture, layers: "ours:N", "before", "after")
FUNCTIONS = [
    ("eu-west-1", "api", "python3.12", "x86_64", ["before", "ours:1", "after"]),
    ("eu-west-1", "billing", "python3.12", "x86_64", ["ours:1"]),  # behind alias "live"
    ("eu-west-1", "legacy", "nodejs20.x", "x86_64", ["ours:1"]),  # incompatible runtime
    ("eu-west-1", "plain", "python3.12", "x86_64", ["before"]),  # does not use ours
    ("eu-west-1", "worker", "python3.12", "x86_64", ["ours:2", "after"]),
    ("us-east-2", "edge", "python3.12", "arm64", ["ours:1"]),  # incompatible architecture
    ("us-east-2", "reports", "python3.12", "x86_64", ["before", "ours:1"]),
]


def make_fleet(endpoint: str, prefix: str) -> Fleet:
    fleet = Fleet(endpoint, prefix, f"{prefix}-lambdaboot")
    role = function_role(endpoint)
    for region in REGIONS:
        lam = fleet.lam(region)
        fleet.ours[region] = []
        for n in (1, 2):
            fleet.ours[region].append(
                lam.publish_layer_version(
                    LayerName=fleet.layer,
                    Content={"ZipFile": tiny_zip(f"VERSION = {n}\n")},
                    CompatibleRuntimes=["python3.12"],
                    CompatibleArchitectures=["x86_64"],
                )["LayerVersionArn"]
            )
        before, after = (
            lam.publish_layer_version(
                LayerName=f"{prefix}-{name}", Content={"ZipFile": tiny_zip(name)}
            )["LayerVersionArn"]
            for name in ("tracing", "settings")
        )
        fleet.other[region] = (before, after)
    code = {"ZipFile": tiny_zip("def handler(event, context):\n    return event\n")}
    for region, short, runtime, arch, spec in FUNCTIONS:
        before, after = fleet.other[region]
        layers = [
            fleet.ours[region][int(s[5:]) - 1]
            if s.startswith("ours:")
            else {"before": before, "after": after}[s]
            for s in spec
        ]
        fleet.lam(region).create_function(
            FunctionName=fleet.fn(short),
            Runtime=runtime,
            Role=role,
            Handler="app.handler",
            Code=code,
            Architectures=[arch],
            Layers=layers,
            Tags={"team": "payments" if short == "billing" else "platform"},
        )
        fleet.layers[(region, short)] = layers
    billing = fleet.lam("eu-west-1")
    billing.publish_version(FunctionName=fleet.fn("billing"))
    billing.create_alias(FunctionName=fleet.fn("billing"), Name="live", FunctionVersion="1")
    return fleet


@pytest.fixture
def fleet(moto_endpoint: str, request: pytest.FixtureRequest) -> Fleet:
    name = request.node.name.removeprefix("test_")
    prefix = name.replace("_", "")[:12] + hashlib.sha1(name.encode()).hexdigest()[:6]
    return make_fleet(moto_endpoint, prefix)
