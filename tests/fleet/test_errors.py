"""The fleet commands fail in one line, never a traceback, for what a user can fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import lambdaboot
from tests.fleet.conftest import tiny_zip


@pytest.fixture(scope="module")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layer") / "small.zip"
    path.write_bytes(tiny_zip("X = 1\n"))
    manifest = {
        "name": "small",
        "kind": "layer",
        "compatible_runtimes": ["python3.12"],
        "compatible_architectures": ["x86_64"],
    }
    path.with_suffix(".json").write_text(json.dumps(manifest))
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_PROFILE": "",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
}
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _commands(layer_zip: Path) -> list[list[str]]:
    return [["publish", str(layer_zip)], ["rollout", "small", "--dry-run"], ["drift", "small"]]


def _one_line(done: object, words: str) -> None:
    stderr = done.stderr  # type: ignore[attr-defined]
    assert done.returncode == 2, stderr  # type: ignore[attr-defined]
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert words in stderr, stderr


def test_missing_credentials(layer_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in NO_CREDENTIALS.items() if v}
    for command in _commands(layer_zip):
        done = lambdaboot(
            *command,
            "--region",
            "eu-west-1",
            "--endpoint-url",
            f"http://127.0.0.1:{_closed_port()}",
            env=env,
        )
        _one_line(done, f"lambdaboot {command[0]}: no AWS credentials found: set AWS_PROFILE")


def test_unreachable_endpoint(layer_zip: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    for command in _commands(layer_zip):
        done = lambdaboot(
            *command, "--region", "eu-west-1", "--endpoint-url", url, env=TEST_CREDENTIALS
        )
        _one_line(done, f"cannot reach the AWS endpoint {url}/: check --endpoint-url")


def test_bad_region_and_no_region(layer_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for command in _commands(layer_zip):
        done = lambdaboot(*command, "--region", "eu-wset-1", env=TEST_CREDENTIALS)
        _one_line(done, "unknown region 'eu-wset-1': give a Lambda region such as eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    for command in _commands(layer_zip):
        done = lambdaboot(*command, env={**TEST_CREDENTIALS, "AWS_CONFIG_FILE": "/nonexistent"})
        _one_line(done, "no region: give --region, set AWS_REGION")


def test_unknown_profile(layer_zip: Path) -> None:
    for command in _commands(layer_zip):
        done = lambdaboot(*command, "--profile", "nosuch", env={"AWS_CONFIG_FILE": "/nonexistent"})
        _one_line(done, "The config profile (nosuch) could not be found: check --profile")


def test_bad_publish_input(layer_zip: Path, tmp_path: Path) -> None:
    done = lambdaboot("publish", str(tmp_path / "absent.zip"), "--region", "eu-west-1")
    _one_line(done, "absent.zip: no such file")
    done = lambdaboot("publish", str(layer_zip), "--s3-bucket", "=x", "--region", "eu-west-1")
    _one_line(done, "--s3-bucket '=x': write REGION=BUCKET")
    done = lambdaboot(
        "publish", str(layer_zip), "--layer-name", "has space", "--region", "eu-west-1"
    )
    _one_line(done, "--layer-name 'has space': Lambda takes 1 to 140 letters, digits")


def test_bad_endpoint_and_role(layer_zip: Path) -> None:
    for command in _commands(layer_zip):
        done = lambdaboot(
            *command, "--region", "eu-west-1", "--endpoint-url", "localhost:1", env=TEST_CREDENTIALS
        )
        _one_line(done, "--endpoint-url 'localhost:1': give a URL, such as http://")
        done = lambdaboot(
            *command, "--region", "eu-west-1", "--role-arn", "admin", env=TEST_CREDENTIALS
        )
        _one_line(done, "--role-arn 'admin': give a role's ARN")


def test_a_zip_over_fifty_megabytes_needs_a_bucket(layer_zip: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    with big.open("wb") as stream:  # sparse: 51 MB on paper, nothing on disk
        stream.truncate(51 * 2**20)
    big.with_suffix(".json").write_text(layer_zip.with_suffix(".json").read_text())
    done = lambdaboot("publish", str(big), "--region", "eu-west-1", env=TEST_CREDENTIALS)
    _one_line(done, "big.zip is 51.0 MB, over Lambda's 50.0 MB direct upload: give --s3-bucket")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not a versions file written by `lambdaboot publish`"),
        ('{"eu-west-1": 3}', "not a versions file written by `lambdaboot publish`"),
        ('{"eu-west-1": {"status": "failed", "version": null}}', "names no published version"),
    ],
)
def test_a_malformed_versions_file_is_one_line(tmp_path: Path, text: str, words: str) -> None:
    versions = tmp_path / "versions.json"
    versions.write_text(text)
    for command in (["rollout", "small", "--to"], ["drift", "small", "--expect"]):
        done = lambdaboot(*command, str(versions), "--region", "eu-west-1", env=TEST_CREDENTIALS)
        _one_line(done, f"{versions}")
        assert words in done.stderr


def test_an_output_file_in_a_missing_folder_fails_before_any_work(
    layer_zip: Path, tmp_path: Path
) -> None:
    """Checked up front: after a rollout the report would be lost, after a publish the
    versions file that rollout needs."""
    missing = tmp_path / "nowhere" / "out.json"
    for command in (
        ["publish", str(layer_zip), "--versions-out", str(missing)],
        ["rollout", "small", "--report", str(missing)],
        ["rollout", "small", "--plan-out", str(missing)],
    ):
        done = lambdaboot(*command, "--region", "eu-west-1", env=NO_CREDENTIALS)
        _one_line(done, f"{missing}: its folder {missing.parent} does not exist")
