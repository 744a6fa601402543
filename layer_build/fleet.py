"""What ``rollout`` and ``drift`` both read: the functions that use a layer, and its versions.

Layer versions are immutable and each function pins one, so "the fleet" of a layer is the
set of functions whose layer list holds any version of it. A layer is named by its name
(matched in every account it is used from) or by its unversioned ARN.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layer_build.aws import AwsError, Target, is_not_found


@dataclass(frozen=True)
class LayerRef:
    """A layer version ARN, split: ``arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION``."""

    base: str  # the unversioned ARN
    region: str
    account: str
    name: str
    version: int

    @property
    def arn(self) -> str:
        return f"{self.base}:{self.version}"

    def at(self, version: int) -> LayerRef:
        return LayerRef(self.base, self.region, self.account, self.name, version)


def parse_layer_arn(arn: str) -> LayerRef | None:
    parts = arn.split(":")
    if len(parts) != 8 or parts[2] != "lambda" or parts[5] != "layer" or not parts[7].isdigit():
        return None
    return LayerRef(":".join(parts[:7]), parts[3], parts[4], parts[6], int(parts[7]))


def names_layer(layer: str, ref: LayerRef) -> bool:
    """Does the command's LAYER (a name or an unversioned ARN) name this layer?"""
    return ref.base == layer if layer.startswith("arn:") else ref.name == layer


def find_ours(layer: str, arns: list[str]) -> LayerRef | None:
    """The entry of a layer list that is a version of LAYER (None: the function does not use it)."""
    refs = [r for r in map(parse_layer_arn, arns) if r and names_layer(layer, r)]
    return refs[0] if refs else None


@dataclass
class Selection:
    """Which functions a command looks at: all, or by explicit name, name glob and tags."""

    names: list[str] = field(default_factory=list)
    globs: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def admits_name(self, name: str) -> bool:
        if self.names and name not in self.names:
            return False
        return not self.globs or any(fnmatch.fnmatchcase(name, g) for g in self.globs)


def check_layer(layer: str) -> None:
    """LAYER is a name or an *unversioned* ARN: a versioned one would match no function."""
    if layer.startswith("arn:"):
        if parse_layer_arn(f"{layer}:1") is None:
            raise AwsError(
                f"{layer!r}: give the layer's name or its unversioned ARN, "
                "arn:aws:lambda:REGION:ACCOUNT:layer:NAME"
            )
    elif not re.fullmatch(r"[A-Za-z0-9_-]{1,140}", layer):
        raise AwsError(f"{layer!r}: a layer name is 1 to 140 letters, digits, '-' and '_'")


def check_found(
    layer: str, targets: list[Target], selection: Selection, found: list[FleetFunction]
) -> None:
    """Nothing found must mean an empty fleet, never a typo passing a CI check forever:
    a function named with ``--function`` and found nowhere is an error, and so is a layer
    that no function uses and that has no version in any account and region visited."""
    missing = sorted(set(selection.names) - {f.name for f in found})
    if missing:
        raise AwsError(
            f"--function {', '.join(missing)}: no such function uses layer {layer} "
            "in the regions and accounts given"
        )
    if found or not targets or any(_has_versions(t, layer) for t in targets):
        return
    where = ", ".join(t.label(len({t.account for t in targets})) for t in targets)
    raise AwsError(
        f"layer {layer}: no function uses it and it has no version in {where}: "
        "check the name (and --region, --role-arn)"
    )


def _has_versions(target: Target, layer: str) -> bool:
    ref = parse_layer_arn(f"{layer}:1") if layer.startswith("arn:") else None
    if ref is not None and ref.account != target.account:
        return True  # another account's layer cannot be listed from here: assume it exists
    if ref is not None and ref.region != target.region:
        return False
    client = target.client("lambda")
    try:
        answer = client.list_layer_versions(LayerName=ref.name if ref else layer, MaxItems=1)
    except Exception as exc:
        if is_not_found(exc):
            return False
        raise
    return bool(answer.get("LayerVersions"))


def layer_arns(config: dict[str, Any]) -> list[str]:
    """A function configuration's layer list, as ARNs in their order."""
    return [entry["Arn"] for entry in config.get("Layers") or []]


@dataclass
class FleetFunction:
    """A function's ``$LATEST`` as read: what a rollout plans from and drift reports on."""

    target: Target
    name: str
    arn: str
    runtime: str | None
    architectures: list[str]
    layers: list[str]
    revision_id: str | None
    ours: LayerRef  # the version of the layer it uses


def functions_using(target: Target, layer: str, selection: Selection) -> list[FleetFunction]:
    """The selected functions of ``target`` whose layers include ``layer``, sorted by name."""
    client = target.client("lambda")
    found = []
    for page in client.get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            name = config["FunctionName"]
            if not selection.admits_name(name):
                continue
            layers = layer_arns(config)
            ours = find_ours(layer, layers)
            if ours is None:
                continue
            if selection.tags:
                tags = client.list_tags(Resource=config["FunctionArn"]).get("Tags", {})
                if any(tags.get(k) != v for k, v in selection.tags.items()):
                    continue
            found.append(
                FleetFunction(
                    target=target,
                    name=name,
                    arn=config["FunctionArn"],
                    runtime=config.get("Runtime"),
                    architectures=config.get("Architectures") or ["x86_64"],
                    layers=layers,
                    revision_id=config.get("RevisionId"),
                    ours=ours,
                )
            )
    return sorted(found, key=lambda f: f.name)


def layer_versions(target: Target, ref: LayerRef, spec: VersionSpec) -> dict[int, dict[str, Any]]:
    """The versions of ``ref``'s layer that ``spec`` may pick, as ``get_layer_version`` gives them.

    A named version is read alone (GetLayerVersion by ARN, which another account's shared
    layer allows); ``latest`` lists the layer's versions, which only its own account can."""
    client = target.client("lambda")
    wanted = spec.wanted(ref)
    if wanted is not None:
        try:
            info = client.get_layer_version(LayerName=ref.base, VersionNumber=wanted)
        except Exception as exc:
            if is_not_found(exc):
                return {}
            raise
        return {wanted: info}
    name = ref.name if ref.account == target.account else ref.base
    versions: dict[int, dict[str, Any]] = {}
    for page in client.get_paginator("list_layer_versions").paginate(LayerName=name):
        for entry in page["LayerVersions"]:
            versions[int(entry["Version"])] = entry
    return versions


@dataclass(frozen=True)
class VersionSpec:
    """``--to``/``--expect``: ``latest``, a number, or a versions file written by ``publish``.

    A versions file names a version per account and region (numbers differ in each), so a
    layer's version is looked up by the layer's own account and region: with several
    accounts, one account's number never stands for another's."""

    text: str
    by_place: dict[tuple[str | None, str], int] | None = None  # (account, region) -> version

    @classmethod
    def parse(cls, text: str) -> VersionSpec:
        if text == "latest" or text.isdigit():
            return cls(text)
        path = Path(text)
        if not path.is_file():
            raise AwsError(
                f"--to/--expect {text!r}: give 'latest', a version number, or a versions file "
                "written by `lambdaboot publish --versions-out`"
            )
        try:
            data = json.loads(path.read_text())
            by_place = {
                (entry.get("account"), entry.get("region", key)): int(entry["version"])
                for key, entry in data.items()
                if entry.get("version") is not None
            }
        except (ValueError, AttributeError, KeyError, TypeError):
            raise AwsError(f"{path}: not a versions file written by `lambdaboot publish`") from None
        if not by_place:
            raise AwsError(f"{path} names no published version (did every region fail?)")
        return cls(text, by_place)

    @property
    def regions(self) -> list[str]:
        """The regions a versions file names (none for ``latest`` or a number)."""
        return sorted({region for _, region in self.by_place or {}})

    def wanted(self, ref: LayerRef) -> int | None:
        """The version named for ``ref``'s layer; None for ``latest`` (or a place the file
        lacks)."""
        if self.by_place is not None:
            return self.by_place.get(
                (ref.account, ref.region), self.by_place.get((None, ref.region))
            )
        return None if self.text == "latest" else int(self.text)

    def resolve(self, ref: LayerRef, versions: dict[int, dict[str, Any]]) -> int | None:
        """The version this means for ``ref``'s layer, or None when there is none."""
        wanted = self.wanted(ref)
        if wanted is None and self.text == "latest":
            wanted = max(versions) if versions else None
        return wanted if wanted in versions else None
