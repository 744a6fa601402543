"""``lambdaboot publish`` against moto's server on 127.0.0.1 (AWS itself cannot run here)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from layer_build.aws import AwsOptions, targets
from layer_build.limits import DIRECT_UPLOAD_ZIPPED
from layer_build.publish import load_layer, publish, versions_json
from layer_build.s3_stage import Buckets, goes_through_s3
from tests.conftest import lambdaboot
from tests.fleet.conftest import CREDENTIALS, client, fleet_cli


def _client(endpoint: str, region: str) -> Any:
    return client(endpoint, "lambda", region)


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
            and f"{region}: published {entry['arn']}" in done.stdout
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


def _buckets(endpoint: str, prefix: str) -> dict[str, str]:
    """A bucket in each test region, named ``PREFIX-REGION``."""
    made = {}
    for region in ("eu-west-1", "us-east-2"):
        name = f"{prefix}-{region}"
        client(endpoint, "s3", region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )
        made[region] = name
    return made


def _objects(endpoint: str, bucket: str, region: str) -> list[dict[str, Any]]:
    listed = client(endpoint, "s3", region).list_objects_v2(Bucket=bucket)
    return list(listed.get("Contents", []))


def test_publish_through_s3_then_again_is_unchanged_until_forced(
    built_layer: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    buckets = _buckets(moto_endpoint, "s3path")
    sha_hex = hashlib.sha256(built_layer.read_bytes()).hexdigest()
    args = [
        "publish",
        str(built_layer),
        "--layer-name",
        "s3-layer",
        "--region",
        "eu-west-1",
        "--region",
        "us-east-2",
        "--s3-bucket",
        "s3path-{region}",
        "--s3-prefix",
        "layers/runtime",
    ]
    first_out = tmp_path / "first.json"
    first = fleet_cli(moto_endpoint, *args, "--versions-out", str(first_out))
    assert first.returncode == 0, first.stderr
    published = json.loads(first_out.read_text())
    for region, bucket in buckets.items():
        entry = published[region]
        assert entry["status"] == "published" and entry["version"] == 1
        assert entry["s3"] == f"s3://{bucket}/layers/runtime/{sha_hex}.zip"
        # The object is the zip, under its sha256; Lambda's CodeSha256 is that digest in base64.
        [obj] = _objects(moto_endpoint, bucket, region)
        assert obj["Key"] == f"layers/runtime/{sha_hex}.zip"
        assert obj["Size"] == built_layer.stat().st_size
        layer = _client(moto_endpoint, region).get_layer_version(
            LayerName="s3-layer", VersionNumber=1
        )
        assert layer["Content"]["CodeSha256"] == base64.b64encode(bytes.fromhex(sha_hex)).decode()
        assert layer["CompatibleRuntimes"] == ["python3.12"]

    second_out = tmp_path / "second.json"
    second = fleet_cli(moto_endpoint, *args, "--versions-out", str(second_out))
    assert second.returncode == 0, second.stderr
    again = json.loads(second_out.read_text())
    for region in buckets:
        assert again[region]["status"] == "unchanged"
        assert again[region]["arn"] == published[region]["arn"]
        assert f"{region}: unchanged {published[region]['arn']}" in second.stdout
        versions = _client(moto_endpoint, region).list_layer_versions(LayerName="s3-layer")
        assert [v["Version"] for v in versions["LayerVersions"]] == [1]

    forced = fleet_cli(moto_endpoint, *args, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    result = json.loads(forced.stdout)
    assert {r: e["status"] for r, e in result.items()} == {
        "eu-west-1": "published",
        "us-east-2": "published",
    }
    assert {e["version"] for e in result.values()} == {2}
    for region, bucket in buckets.items():  # the object was there: not uploaded twice
        assert len(_objects(moto_endpoint, bucket, region)) == 1


def test_a_bucket_in_another_region_is_refused_before_any_upload(
    built_layer: Path, moto_endpoint: str
) -> None:
    buckets = _buckets(moto_endpoint, "wrongplace")
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "misplaced",
        "--region",
        "eu-west-1",
        "--region",
        "us-east-2",
        # eu-west-1's entry names the us-east-2 bucket: Lambda could not read it.
        "--s3-bucket",
        f"eu-west-1={buckets['us-east-2']}",
        "--s3-bucket",
        f"us-east-2={buckets['us-east-2']}",
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"bucket {buckets['us-east-2']} is in us-east-2, not eu-west-1" in done.stderr
    for region, bucket in buckets.items():
        assert _objects(moto_endpoint, bucket, region) == []
        with pytest.raises(ClientError):
            _client(moto_endpoint, region).get_layer_version(LayerName="misplaced", VersionNumber=1)


def test_a_region_without_a_bucket_is_named(built_layer: Path, moto_endpoint: str) -> None:
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--region",
        "eu-west-1",
        "--region",
        "us-east-2",
        "--s3-bucket",
        "eu-west-1=somewhere",
    )
    assert done.returncode == 2
    assert "no bucket for us-east-2: add --s3-bucket us-east-2=BUCKET" in done.stderr


def test_the_region_comes_from_the_aws_configuration(
    built_layer: Path, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    config = tmp_path / "config"
    config.write_text("[profile fleet]\nregion = ap-northeast-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[fleet]\naws_access_key_id = fleet\naws_secret_access_key = fleet\n")
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "from-profile",
        "--profile",
        "fleet",
        env={"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)},
    )
    assert done.returncode == 0, done.stderr
    assert "ap-northeast-1: published arn:aws:lambda:ap-northeast-1:" in done.stdout
    from_env = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "from-env",
        env={"AWS_REGION": "sa-east-1"},
    )
    assert from_env.returncode == 0, from_env.stderr
    assert "sa-east-1: published arn:aws:lambda:sa-east-1:" in from_env.stdout


def test_a_role_in_another_account_is_assumed_through_sts(
    built_layer: Path, moto_endpoint: str
) -> None:
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "cross-account",
        "--region",
        "eu-west-1",
        "--role-arn",
        "arn:aws:iam::210987654321:role/layer-publisher",
    )
    assert done.returncode == 0, done.stderr
    assert "eu-west-1: published arn:aws:lambda:eu-west-1:210987654321:layer:cross-account:1" in (
        done.stdout
    )


def test_one_failing_region_does_not_hide_the_others(
    built_layer: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto accepts every publish, so us-east-2's is refused by a botocore hook, as AWS
    would refuse it (a quota, a missing permission): the other region still publishes."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    found = targets(AwsOptions(["eu-west-1", "us-east-2"], endpoint_url=moto_endpoint))

    def refuse(**kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed\nhere"}},
            "PublishLayerVersion",
        )

    found[1].client("lambda").meta.events.register("before-call.lambda.PublishLayerVersion", refuse)
    outcomes = publish(load_layer(built_layer, "half-layer", s3_buckets=[]), found)
    result = versions_json(outcomes)
    assert result["eu-west-1"]["status"] == "published"
    assert result["us-east-2"] == {
        "account": "123456789012",
        "region": "us-east-2",
        "status": "failed",
        "arn": None,
        "version": None,
        "error": "PublishLayerVersion: AccessDeniedException: not allowed here",
    }


def test_zips_over_fifty_megabytes_must_go_through_s3(built_layer: Path) -> None:
    assert not goes_through_s3(DIRECT_UPLOAD_ZIPPED, requested=False)
    assert goes_through_s3(DIRECT_UPLOAD_ZIPPED + 1, requested=False)
    assert goes_through_s3(1, requested=True)
    buckets = Buckets.parse(["eu-west-1=in-ireland", "lb-{region}"], "p/")
    assert buckets.bucket("eu-west-1") == "in-ireland"
    assert buckets.bucket("us-east-2") == "lb-us-east-2"
    assert buckets.key("ab" * 32) == f"p/{'ab' * 32}.zip"


def test_other_bytes_under_the_zips_key_fail_that_region_only(
    built_layer: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    """Through the command: us-east-2's bucket holds other bytes of the same size under the
    zip's key (so the upload is skipped); Lambda's CodeSha256 gives it away, that region
    fails with its reason and no version left behind, eu-west-1 publishes, the exit is 1."""
    buckets = _buckets(moto_endpoint, "tampered")
    sha_hex = hashlib.sha256(built_layer.read_bytes()).hexdigest()
    client(moto_endpoint, "s3", "us-east-2").put_object(
        Bucket=buckets["us-east-2"],
        Key=f"lambdaboot-layers/{sha_hex}.zip",
        Body=bytes(built_layer.stat().st_size),
    )
    out = tmp_path / "versions.json"
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "tampered",
        "--region",
        "eu-west-1",
        "--region",
        "us-east-2",
        "--s3-bucket",
        "tampered-{region}",
        "--versions-out",
        str(out),
    )
    assert done.returncode == 1, done.stderr
    assert "eu-west-1: published arn:aws:lambda:eu-west-1:" in done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("us-east-2:")]
    assert len(failed) == 1 and failed[0].startswith(
        f"us-east-2: failed: s3://tampered-us-east-2/lambdaboot-layers/{sha_hex}.zip "
        "is not this zip"
    )
    result = json.loads(out.read_text())
    assert result["eu-west-1"]["status"] == "published"
    assert (
        result["us-east-2"]["status"] == "failed"
        and "is not this zip" in result["us-east-2"]["error"]
    )
    versions = _client(moto_endpoint, "us-east-2").list_layer_versions(LayerName="tampered")
    assert versions["LayerVersions"] == []


def test_large_zips_go_up_in_parts_with_progress(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multipart upload (S3's smallest part, 5 MB, to keep the test small), reported as it
    goes, and skipped the second time because the content-addressed key is there."""
    import os

    from layer_build.s3_stage import upload

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    [target] = targets(AwsOptions(["eu-west-1"], endpoint_url=moto_endpoint))
    bucket = _buckets(moto_endpoint, "parts")["eu-west-1"]
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(11 * 2**20))
    seen: list[tuple[int, int]] = []
    part = 5 * 2**20
    assert upload(target, bucket, "k.zip", big, lambda done, size: seen.append((done, size)), part)
    head = client(moto_endpoint, "s3", "eu-west-1").head_object(Bucket=bucket, Key="k.zip")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["ContentLength"] == big.stat().st_size
    assert seen[-1] == (big.stat().st_size, big.stat().st_size) and len(seen) >= 3
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert not upload(target, bucket, "k.zip", big, lambda done, size: None, part)


def test_a_terminal_gets_a_live_line_per_region(built_layer: Path, moto_endpoint: str) -> None:
    """On a terminal stderr shows each region's state, redrawn in place (rich); stdout,
    a pipe here, still gets the plain outcome lines."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    command = [str(Path(sys.executable).with_name("lambdaboot")), "publish", str(built_layer)]
    command += ["--layer-name", "live-lines", "--region", "eu-west-1", "--region", "us-east-2"]
    process = subprocess.Popen(
        [*command, "--endpoint-url", moto_endpoint],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, **CREDENTIALS, "COLUMNS": "200"},
    )
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    stdout = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0
    text = screen.decode(errors="replace")
    assert "\x1b[" in text  # drawn with terminal control sequences
    for region in ("eu-west-1", "us-east-2"):
        assert f"{region}  published arn:aws:lambda:{region}:" in text
        assert f"{region}: published arn:aws:lambda:{region}:" in stdout


def test_a_bucket_that_does_not_exist_is_one_line(built_layer: Path, moto_endpoint: str) -> None:
    done = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--region",
        "eu-west-1",
        "--s3-bucket",
        "nobody-made-this-{region}",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "lambdaboot publish: bucket nobody-made-this-eu-west-1 does not exist: "
        "create it in eu-west-1 or name another with --s3-bucket\n"
    )


def test_the_publish_commands_of_build_and_the_manifest_work_from_any_folder(
    moto_endpoint: str, tmp_path: Path, wheel_cache: Path
) -> None:
    """As a user would: build, go elsewhere, paste the command build printed; then move the
    dist folder (as a CI artifact moves) and run the manifest's own command, its manifest
    named by path, from a third folder. The zip is found beside the manifest each time."""
    import os
    import subprocess
    import sys

    built = lambdaboot("build", "--out", "dist", "--wheel-cache", str(wheel_cache), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [printed] = [
        line.removeprefix("  publish it: ")
        for line in built.stdout.splitlines()
        if line.startswith("  publish it: ")
    ]
    [manifest_path] = (tmp_path / "dist").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    env = {
        **os.environ,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    def paste(command: str, cwd: Path, region: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=120,
            env={**env, "AWS_DEFAULT_REGION": region},
        )  # fmt: skip

    first = paste(printed, Path("/"), "eu-west-3")
    assert first.returncode == 0, first.stderr
    moved = tmp_path / "artifact"
    (tmp_path / "dist").rename(moved)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    own = manifest["publish_command"]
    assert own == f"lambdaboot publish {manifest_path.name}"  # no path of this machine in it
    lost = paste(own, elsewhere, "ca-central-1")  # as recorded: relative to its own folder
    assert lost.returncode == 2 and lost.stderr.count("\n") == 1, lost.stderr
    assert f"in {elsewhere}: run the command in the manifest's folder or give its path" in (
        lost.stderr
    )
    at_home = paste(own, moved, "eu-west-3")  # in the manifest's folder, as it is
    assert at_home.returncode == 0 and "eu-west-3: unchanged" in at_home.stdout, at_home.stderr
    second = paste(
        own.replace(manifest_path.name, str(moved / manifest_path.name)), elsewhere, "ca-central-1"
    )
    assert second.returncode == 0, second.stderr
    code_sha256 = base64.b64encode(bytes.fromhex(manifest["sha256"])).decode()
    for region, done in (("eu-west-3", first), ("ca-central-1", second)):
        lam = _client(moto_endpoint, region)
        [version] = lam.list_layer_versions(LayerName=manifest["name"])["LayerVersions"]
        assert f"{region}: published {version['LayerVersionArn']}" in done.stdout
        got = lam.get_layer_version(LayerName=manifest["name"], VersionNumber=version["Version"])
        assert got["Content"]["CodeSha256"] == code_sha256
        assert got["CompatibleRuntimes"] == manifest["compatible_runtimes"]


def test_a_manifest_whose_zip_is_not_beside_it_or_differs_is_one_line(
    built_layer: Path, tmp_path: Path
) -> None:
    manifest = built_layer.with_suffix(".json")
    alone = tmp_path / manifest.name
    alone.write_text(manifest.read_text())
    done = lambdaboot("publish", str(alone), "--region", "eu-west-1", env=CREDENTIALS)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{tmp_path / built_layer.name}: no such file" in done.stderr
    (tmp_path / built_layer.name).write_bytes(built_layer.read_bytes() + b"\0")
    done = lambdaboot("publish", str(alone), "--region", "eu-west-1", env=CREDENTIALS)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "is not the zip its manifest describes" in done.stderr
