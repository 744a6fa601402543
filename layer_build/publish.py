"""``lambdaboot publish``: a built layer to one or more regions, shared only when asked.

The runtimes and architectures come from the manifest beside the zip, so what is
published says what was built. Sharing is per call: an account, an organization, or
everyone (``--public``, never implied).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_build.errors import BuildError
from layer_build.limits import DIRECT_UPLOAD_ZIPPED, mb
from layer_build.manifest import read_manifest


@dataclass
class Sharing:
    accounts: list[str]
    organization: str | None = None
    public: bool = False


def _client(region: str, endpoint_url: str | None) -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise BuildError("publishing needs boto3: pip install 'lambdaboot[build]'") from None
    return boto3.client("lambda", region_name=region, endpoint_url=endpoint_url)


def publish(
    zip_path: Path,
    name: str | None,
    regions: list[str],
    sharing: Sharing,
    *,
    description: str = "",
    license_info: str = "Apache-2.0",
    endpoint_url: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Publish to each region; return region -> {"arn", "version"}."""
    manifest = read_manifest(zip_path)
    if manifest is None:
        raise BuildError(
            f"{zip_path.with_suffix('.json')} is missing: publish a zip made by `lambdaboot build`"
        )
    if manifest.get("kind") != "layer":
        raise BuildError(f"{zip_path.name} is a {manifest.get('kind')} package, not a layer")
    if zip_path.stat().st_size > DIRECT_UPLOAD_ZIPPED:
        raise BuildError(
            f"{zip_path.name} is {mb(zip_path.stat().st_size)}, over the direct upload limit of "
            f"{mb(DIRECT_UPLOAD_ZIPPED)}: upload it to S3 and publish with --content S3Bucket/S3Key"
        )
    if not regions:
        raise BuildError("give at least one --region")
    layer = name or manifest["name"].replace(".", "")
    content = zip_path.read_bytes()
    published: dict[str, dict[str, Any]] = {}
    for region in regions:
        client = _client(region, endpoint_url)
        answer = client.publish_layer_version(
            LayerName=layer,
            Description=(description or f"lambdaboot runtime ({manifest['name']})")[:256],
            Content={"ZipFile": content},
            CompatibleRuntimes=manifest["compatible_runtimes"],
            CompatibleArchitectures=manifest["compatible_architectures"],
            LicenseInfo=license_info,
        )
        version = int(answer["Version"])
        _share(client, layer, version, sharing)
        published[region] = {"arn": answer["LayerVersionArn"], "version": version}
    return published


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


def write_versions(published: dict[str, dict[str, Any]], out: Path) -> None:
    out.write_text(json.dumps(published, indent=2, sort_keys=True) + "\n")
