"""``lambdaboot publish``: a built layer to every region and account given, in parallel.

The runtimes and architectures come from the manifest beside the zip, so what is
published says what was built. Publishing is idempotent: when the layer's latest version
in a region already holds these bytes (its ``CodeSha256``, base64 of the zip's sha256),
nothing is published and that version is reported as unchanged; reproducible builds make
this exact. Zips over the direct-upload limit (and any zip, on request) go through a
bucket in each region. Every region's outcome is reported, failures included, so one bad
region never hides the others. Sharing is per call: an account, an organization, or
everyone (``--public``, never implied).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layer_build.aws import AwsError, Target, aws_errors, describe, label
from layer_build.errors import BuildError
from layer_build.limits import DIRECT_UPLOAD_ZIPPED, mb
from layer_build.live import LiveLines
from layer_build.manifest import locate
from layer_build.s3_stage import Buckets, check_bucket, goes_through_s3, upload


@dataclass
class Sharing:
    accounts: list[str] = field(default_factory=list)
    organization: str | None = None
    public: bool = False


@dataclass
class Layer:
    """What is published: the zip, its manifest, and how it travels."""

    zip_path: Path
    name: str
    manifest: dict[str, Any]
    sha256_hex: str
    description: str = ""
    license_info: str = "Apache-2.0"
    sharing: Sharing = field(default_factory=Sharing)
    buckets: Buckets | None = None  # set: through S3
    force: bool = False

    @property
    def code_sha256(self) -> str:
        """What Lambda reports as ``CodeSha256``: the sha256 digest in base64, not hex."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


@dataclass
class Outcome:
    """One account and region: published, unchanged or failed (with AWS's error in one line)."""

    account: str
    region: str
    status: str
    arn: str | None = None
    version: int | None = None
    error: str | None = None
    s3_uri: str | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "account": self.account,
            "region": self.region,
            "status": self.status,
            "arn": self.arn,
            "version": self.version,
        }
        if self.error:
            entry["error"] = self.error
        if self.s3_uri:
            entry["s3"] = self.s3_uri
        return entry

    def line(self) -> str:
        if self.status == "failed":
            return f"failed: {self.error}"
        return f"{self.status} {self.arn}"


def load_layer(
    path: Path,
    name: str | None,
    *,
    s3_buckets: list[str],
    s3_prefix: str = "",
    **options: Any,
) -> Layer:
    """Read and check the zip and its manifest (``path`` either of them: the zip is found
    beside its manifest); decide the upload path (bad input: BuildError)."""
    zip_path, manifest = locate(path)
    if not zip_path.is_file():
        raise BuildError(f"{zip_path}: no such file; build it first with `lambdaboot build`")
    if manifest is None:
        raise BuildError(
            f"{zip_path.with_suffix('.json')} is missing: publish a zip made by `lambdaboot build`"
        )
    if manifest.get("kind") != "layer":
        raise BuildError(f"{zip_path.name} is a {manifest.get('kind')} package, not a layer")
    layer_name = name or manifest["name"].replace(".", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,140}", layer_name):
        raise BuildError(
            f"--layer-name {layer_name!r}: Lambda takes 1 to 140 letters, digits, '-' and '_'"
        )
    digest = hashlib.sha256()
    with zip_path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if manifest.get("sha256") not in (None, digest.hexdigest()):
        raise BuildError(
            f"{zip_path.name} is not the zip its manifest describes (sha256 differs):"
            " build again, or put the zip and its .json side by side as built"
        )
    size = zip_path.stat().st_size
    buckets = None
    if goes_through_s3(size, requested=bool(s3_buckets)):
        if not s3_buckets:
            raise BuildError(
                f"{zip_path.name} is {mb(size)}, over Lambda's {mb(DIRECT_UPLOAD_ZIPPED)} direct "
                "upload: "
                "give --s3-bucket BUCKET (with {region}) or REGION=BUCKET for each region"
            )
        buckets = Buckets.parse(s3_buckets, s3_prefix)
    return Layer(
        zip_path=zip_path,
        name=layer_name,
        manifest=manifest,
        sha256_hex=digest.hexdigest(),
        buckets=buckets,
        **options,
    )


def publish(layer: Layer, targets: list[Target], live: LiveLines | None = None) -> list[Outcome]:
    """Publish to every target at once; one outcome per target, in the targets' order.

    With S3, every bucket is checked first: a bucket in the wrong region refuses the whole
    run before any upload (raises ``AwsError``)."""
    accounts = len({t.account for t in targets})
    say = live.set if live else (lambda key, text: None)
    if layer.buckets is not None:
        named = [(target, layer.buckets.bucket(target.region)) for target in targets]
        for target, bucket in named:
            say(target.label(accounts), f"checking bucket {bucket}")
            with aws_errors():
                check_bucket(target, bucket)
    content = None if layer.buckets else layer.zip_path.read_bytes()

    def one(target: Target) -> Outcome:
        key = target.label(accounts)
        try:
            outcome = _publish_one(layer, target, content, lambda text: say(key, text))
        except Exception as exc:  # each region's failure is its own outcome
            outcome = Outcome(target.account, target.region, "failed", error=describe(exc))
        say(key, outcome.line())
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        return list(pool.map(one, targets))


def _publish_one(layer: Layer, target: Target, content: bytes | None, say: Any) -> Outcome:
    client = target.client("lambda")
    say("reading the latest version")
    latest = _latest(client, layer.name)
    if latest and not layer.force and latest["Content"]["CodeSha256"] == layer.code_sha256:
        return Outcome(
            target.account, target.region, "unchanged", latest["LayerVersionArn"], latest["Version"]
        )
    s3_uri = None
    if layer.buckets is not None:
        bucket = layer.buckets.bucket(target.region)
        key = layer.buckets.key(layer.sha256_hex)
        s3_uri = f"s3://{bucket}/{key}"

        def progress(done: int, size: int) -> None:
            say(f"uploading {s3_uri} {done * 100 // max(size, 1)}%")

        if not upload(target, bucket, key, layer.zip_path, progress):
            say(f"{s3_uri} already there")
        code: dict[str, Any] = {"S3Bucket": bucket, "S3Key": key}
    else:
        code = {"ZipFile": content}
    say("publishing")
    manifest = layer.manifest
    answer = client.publish_layer_version(
        LayerName=layer.name,
        Description=(layer.description or f"lambdaboot runtime ({manifest['name']})")[:256],
        Content=code,
        CompatibleRuntimes=manifest["compatible_runtimes"],
        CompatibleArchitectures=manifest["compatible_architectures"],
        LicenseInfo=layer.license_info,
    )
    version = int(answer["Version"])
    if answer["Content"]["CodeSha256"] != layer.code_sha256:
        # The bucket held other bytes under this zip's key: never leave that version behind.
        client.delete_layer_version(LayerName=layer.name, VersionNumber=version)
        raise AwsError(
            f"{s3_uri} is not this zip (Lambda read CodeSha256 {answer['Content']['CodeSha256']},"
            f" the zip's is {layer.code_sha256}): delete the object and publish again"
        )
    _share(client, layer.name, version, layer.sharing)
    return Outcome(
        target.account, target.region, "published", answer["LayerVersionArn"], version, None, s3_uri
    )


def _latest(client: Any, name: str) -> dict[str, Any] | None:
    """The layer's newest version with its ``Content`` (None if the layer has no version)."""
    newest = 0
    for page in client.get_paginator("list_layer_versions").paginate(LayerName=name):
        for entry in page["LayerVersions"]:
            newest = max(newest, int(entry["Version"]))
    if not newest:
        return None
    found: dict[str, Any] = client.get_layer_version(LayerName=name, VersionNumber=newest)
    return found


def _share(client: Any, layer: str, version: int, sharing: Sharing) -> None:
    grants: list[dict[str, str]] = [
        {"Principal": account, "StatementId": f"account-{account}"} for account in sharing.accounts
    ]
    if sharing.organization:
        grants.append(
            {
                "Principal": "*",
                "OrganizationId": sharing.organization,
                "StatementId": f"org-{sharing.organization}",
            }
        )
    if sharing.public:
        grants.append({"Principal": "*", "StatementId": "public"})
    for grant in grants:
        client.add_layer_version_permission(
            LayerName=layer, VersionNumber=version, Action="lambda:GetLayerVersion", **grant
        )


def versions_json(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """``--versions-out``: label (the region, ``ACCOUNT/REGION`` with several accounts) ->
    outcome."""
    accounts = len({o.account for o in outcomes})
    return {label(o.account, o.region, accounts): o.as_json() for o in outcomes}


def write_versions(outcomes: list[Outcome], out: Path) -> None:
    out.write_text(json.dumps(versions_json(outcomes), indent=2, sort_keys=True) + "\n")
