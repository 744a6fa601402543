"""The JSON written beside each zip: what is in it, and how to deploy it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from layer_build.targets import Target
from layer_build.wheels import Vendored, sha256
from layer_build.zipper import unzipped_size


def layer_name(target: Target) -> str:
    return f"lambdaboot-{target.name}".replace(".", "")


def sam_snippet(name: str, zip_name: str, runtimes: list[str], arch: str) -> str:
    runtime_lines = "".join(f"\n        - {r}" for r in runtimes)
    return (
        f"{name.title().replace('-', '')}Layer:\n"
        f"  Type: AWS::Serverless::LayerVersion\n"
        f"  Properties:\n"
        f"    LayerName: {name}\n"
        f"    ContentUri: {zip_name}\n"
        f"    CompatibleRuntimes:{runtime_lines}\n"
        f"    CompatibleArchitectures:\n        - {arch}\n"
        f"    LicenseInfo: Apache-2.0\n"
    )


def publish_command(name: str, zip_name: str, runtimes: list[str], arch: str) -> str:
    return (
        f"aws lambda publish-layer-version --layer-name {name} --zip-file fileb://{zip_name} "
        f"--compatible-runtimes {' '.join(runtimes)} --compatible-architectures {arch} "
        f"--license-info Apache-2.0"
    )


def write_manifest(
    zip_path: Path,
    *,
    kind: str,
    target: Target,
    runtimes: list[str],
    packages: list[Vendored],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write ``<zip stem>.json`` and return it."""
    name = zip_path.stem
    data: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "zip": zip_path.name,
        "sha256": sha256(zip_path),
        "zipped_size": zip_path.stat().st_size,
        "unzipped_size": unzipped_size(zip_path),
        "python": target.python,
        "os": target.os,
        "mode": target.mode,
        "compatible_runtimes": runtimes,
        "compatible_architectures": [target.arch],
        "packages": [asdict(p) for p in sorted(packages, key=lambda p: p.name.lower())],
        **extra,
    }
    if kind == "layer":
        data["sam"] = sam_snippet(name, zip_path.name, runtimes, target.arch)
        data["publish_command"] = publish_command(name, zip_path.name, runtimes, target.arch)
    zip_path.with_suffix(".json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def read_manifest(zip_path: Path) -> dict[str, Any] | None:
    path = zip_path.with_suffix(".json")
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
