"""``lambdaboot publish`` against moto's server on 127.0.0.1 (AWS itself cannot run here)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.layer_build.conftest import lambdaboot

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="module")
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


def _client(endpoint: str, region: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "lambda",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_publish_to_two_regions_shared_with_an_account_and_everyone(
    built_layer: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    versions = tmp_path / "versions.json"
    done = lambdaboot(
        "publish",
        str(built_layer),
        "--region",
        "eu-west-1",
        "--region",
        "us-east-2",
        "--layer-name",
        "lambdaboot-test",
        "--grant-account",
        "123456789012",
        "--public",
        "--endpoint-url",
        moto_endpoint,
        "--versions-out",
        str(versions),
        env=CREDENTIALS,
    )
    assert done.returncode == 0, done.stderr
    published = json.loads(versions.read_text())
    assert sorted(published) == ["eu-west-1", "us-east-2"]
    for region, entry in published.items():
        assert (
            f"arn:aws:lambda:{region}:" in entry["arn"]
            and f"{region}: {entry['arn']}" in done.stdout
        )
        client = _client(moto_endpoint, region)
        layer = client.get_layer_version(
            LayerName="lambdaboot-test", VersionNumber=entry["version"]
        )
        assert layer["CompatibleRuntimes"] == ["python3.12"]
        assert layer["CompatibleArchitectures"] == ["x86_64"]
        assert layer["LicenseInfo"] == "Apache-2.0"
        policy = json.loads(
            client.get_layer_version_policy(
                LayerName="lambdaboot-test", VersionNumber=entry["version"]
            )["Policy"]
        )
        principals = sorted(json.dumps(s["Principal"]) for s in policy["Statement"])
        assert len(principals) == 2 and any("123456789012" in p for p in principals)


def test_publish_shares_nothing_unless_asked(built_layer: Path, moto_endpoint: str) -> None:
    done = lambdaboot(
        "publish",
        str(built_layer),
        "--region",
        "eu-central-1",
        "--layer-name",
        "private-layer",
        "--endpoint-url",
        moto_endpoint,
        env=CREDENTIALS,
    )
    assert done.returncode == 0, done.stderr
    client = _client(moto_endpoint, "eu-central-1")
    with pytest.raises(ClientError):
        client.get_layer_version_policy(LayerName="private-layer", VersionNumber=1)


def test_publish_refuses_a_zip_without_its_manifest(tmp_path: Path, moto_endpoint: str) -> None:
    stray = tmp_path / "layer.zip"
    stray.write_bytes(b"PK\x05\x06" + bytes(18))
    done = lambdaboot(
        "publish",
        str(stray),
        "--region",
        "eu-west-1",
        "--endpoint-url",
        moto_endpoint,
        env=CREDENTIALS,
    )
    assert done.returncode == 2 and "layer.json is missing" in done.stderr


def test_publish_shares_with_an_organization(built_layer: Path, moto_endpoint: str) -> None:
    """moto keeps no organization condition in its layer policies, so the test reads what
    was sent: moto's recorder captures every request made to the server."""
    import httpx

    httpx.post(f"{moto_endpoint}/moto-api/recorder/reset-recording").raise_for_status()
    httpx.post(f"{moto_endpoint}/moto-api/recorder/start-recording").raise_for_status()
    done = lambdaboot(
        "publish",
        str(built_layer),
        "--region",
        "ap-south-1",
        "--layer-name",
        "org-layer",
        "--grant-org",
        "o-a1b2c3d4e5",
        "--endpoint-url",
        moto_endpoint,
        env=CREDENTIALS,
    )
    httpx.post(f"{moto_endpoint}/moto-api/recorder/stop-recording").raise_for_status()
    assert done.returncode == 0, done.stderr
    recording = httpx.get(f"{moto_endpoint}/moto-api/recorder/download-recording").text
    requests = [json.loads(line) for line in recording.splitlines() if line.strip()]
    grants = [json.loads(base64.b64decode(r["body"])) for r in requests if "/policy" in r["url"]]
    assert grants == [
        {
            "StatementId": "org-o-a1b2c3d4e5",
            "Action": "lambda:GetLayerVersion",
            "Principal": "*",
            "OrganizationId": "o-a1b2c3d4e5",
        }
    ]
    policy = json.loads(
        _client(moto_endpoint, "ap-south-1").get_layer_version_policy(
            LayerName="org-layer", VersionNumber=1
        )["Policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["org-o-a1b2c3d4e5"]
