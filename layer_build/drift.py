"""``lambdaboot drift``: which functions run an older version of a layer than they should.

After a new layer version is published, every function keeps the version it pins until
its configuration changes; drift is the check that none was forgotten. It looks at each
function's ``$LATEST`` and at every alias (what traffic, provisioned concurrency and
SnapStart actually use), per account and region, against the latest version there or an
expected one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from layer_build.aws import Target
from layer_build.fleet import (
    Selection,
    VersionSpec,
    check_found,
    check_layer,
    find_ours,
    functions_using,
    layer_arns,
    layer_versions,
)


@dataclass
class Finding:
    account: str
    region: str
    function: str
    qualifier: str  # $LATEST, or an alias's name
    function_version: str  # $LATEST or the alias's published version
    layer_version: int | None  # None: this qualifier does not use the layer
    expected: int | None
    behind: int  # how many versions behind (0: current)

    @property
    def drifts(self) -> bool:
        return self.behind > 0

    def line(self) -> str:
        where = f"{self.account}/{self.region} {self.function}:{self.qualifier}"
        if self.qualifier != "$LATEST":
            where += f" (version {self.function_version})"
        if self.layer_version is None:
            return f"{where}: does not use the layer"
        if self.expected is None:
            return f"{where}: version {self.layer_version} (no expected version here)"
        if self.drifts:
            return f"{where}: version {self.layer_version}, {self.behind} behind {self.expected}"
        return f"{where}: version {self.layer_version}, current"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "drifts": self.drifts}


def find_drift(
    layer: str, expect: VersionSpec, targets: list[Target], selection: Selection
) -> list[Finding]:
    """Every qualifier of every function that uses the layer, with how far behind it is."""
    check_layer(layer)
    findings: list[Finding] = []
    all_found = []
    for target in targets:
        functions = functions_using(target, layer, selection)
        all_found += functions
        expected_by_layer: dict[str, int | None] = {}
        client = target.client("lambda")
        for fn in functions:
            if fn.ours.base not in expected_by_layer:
                expected_by_layer[fn.ours.base] = expect.resolve(
                    fn.ours, layer_versions(target, fn.ours, expect)
                )
            expected = expected_by_layer[fn.ours.base]

            where = (target.account, target.region, fn.name)
            findings.append(_finding(where, "$LATEST", "$LATEST", fn.ours.version, expected))
            for page in client.get_paginator("list_aliases").paginate(FunctionName=fn.name):
                for alias in page["Aliases"]:
                    version = str(alias["FunctionVersion"])
                    config = client.get_function_configuration(
                        FunctionName=fn.name, Qualifier=version
                    )
                    used = find_ours(layer, layer_arns(config))
                    findings.append(
                        _finding(
                            where, alias["Name"], version, used.version if used else None, expected
                        )
                    )
    check_found(layer, targets, selection, all_found)
    return findings


def _finding(
    where: tuple[str, str, str],
    qualifier: str,
    version: str,
    used: int | None,
    expected: int | None,
) -> Finding:
    behind = max(0, expected - used) if expected is not None and used is not None else 0
    return Finding(*where, qualifier, version, used, expected, behind)
