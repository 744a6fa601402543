"""The JSON written beside each zip: what is in it, and how to deploy it."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any

from layer_build.errors import BuildError
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


def publish_command(manifest_name: str) -> str:
    """The command that publishes the layer: ``lambdaboot publish`` given this manifest.

    It names the manifest by its file name only, so the manifest stays byte-identical
    wherever it is built; ``publish`` finds the zip beside the manifest (never in the
    working directory) and takes runtimes and architectures from it, so the command works
    from any folder once the manifest's name is replaced by its path (``build`` prints it
    so, with the absolute path). The AWS CLI's ``fileb://ZIP`` could not do that: it is
    read relative to the working directory."""
    return f"lambdaboot publish {shlex.quote(manifest_name)}"


def publish_line(manifest_path: Path) -> str:
    """``publish_command`` with the manifest's absolute path: ready to paste anywhere."""
    return f"lambdaboot publish {shlex.quote(str(manifest_path.resolve()))}"


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
        data["publish_command"] = publish_command(zip_path.with_suffix(".json").name)
    zip_path.with_suffix(".json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def read_manifest(zip_path: Path) -> dict[str, Any] | None:
    path = zip_path.with_suffix(".json")
    if not path.exists():
        return None
    return _load(path)


def locate(path: Path) -> tuple[Path, dict[str, Any] | None]:
    """The zip and its manifest, given either: a manifest names its zip by file name,
    found in the manifest's own folder (not the working directory), so a dist folder
    can be moved or downloaded elsewhere and published from wherever one stands."""
    if path.suffix != ".json":
        return path, read_manifest(path)
    if not path.is_file():
        if path.parent == Path("."):  # a manifest's own publish_command, run from elsewhere
            raise BuildError(
                f"no manifest {path} in {Path.cwd()}: run the command in the manifest's"
                " folder or give its path (`lambdaboot build` prints it with the absolute"
                " path), or build it first with `lambdaboot build`"
            )
        raise BuildError(f"{path}: no such manifest; build it first with `lambdaboot build`")
    manifest = _load(path)
    name = manifest.get("zip")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise BuildError(f"{path}: its zip is not a file name; rebuild with `lambdaboot build`")
    return path.parent / name, manifest


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(f"{path}: not a manifest made by `lambdaboot build` ({exc})") from None
    if not isinstance(loaded, dict):
        raise BuildError(f"{path}: not a manifest made by `lambdaboot build`")
    return loaded
