"""The JSON written beside each zip: what is in it, and how to deploy it."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any

from layer_build.targets import Target
from layer_build.wheels import Vendored, sha256
from layer_build.zipper import unzipped_size


def layer_name(target: Target, additions: list[str] | None = None) -> str:
    """The layer's name (and its zip's): the target's, plus what was added to the runtime
    (``--binary``, ``--extension``, ``--include``), so such a layer never overwrites the
    plain runtime layer of the same target, in ``dist/`` or among published versions."""
    name = f"lambdaboot-{target.name}".replace(".", "")
    slugs = sorted({re.sub(r"[^a-z0-9]+", "-", a.lower()).strip("-") for a in additions or []})
    suffix = "-".join(s for s in slugs if s)
    if len(suffix) > 48:  # Lambda allows 140 characters; keep names readable
        suffix = "custom-" + hashlib.sha256(suffix.encode()).hexdigest()[:8]
    return f"{name}-plus-{suffix}" if suffix else name


def sam_snippet(name: str, zip_name: str, runtimes: list[str], arch: str) -> str:
    """A SAM resource for the layer (its logical id alphanumeric, as CloudFormation requires)."""
    runtime_lines = "".join(f"\n        - {r}" for r in runtimes)
    logical_id = re.sub(r"[^A-Za-z0-9]", "", name.title())
    return (
        f"{logical_id}Layer:\n"
        f"  Type: AWS::Serverless::LayerVersion\n"
        f"  Properties:\n"
        f"    LayerName: {name}\n"
        f"    ContentUri: {zip_name}\n"
        f"    CompatibleRuntimes:{runtime_lines}\n"
        f"    CompatibleArchitectures:\n        - {arch}\n"
        f"    LicenseInfo: Apache-2.0\n"
    )


def publish_command(name: str, zip_name: str, runtimes: list[str], arch: str) -> str:
    """The AWS CLI command that publishes the layer, run from the zip's folder (the zip is
    named relative to it, so that the manifest stays byte-identical wherever it is built)."""
    return (
        f"aws lambda publish-layer-version --layer-name {name}"
        f" --zip-file fileb://{shlex.quote(zip_name)} "
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
