"""``lambdaboot check FUNCTION [LAYER ...]``: what Lambda would refuse, before deploying.

It reads the zips as Lambda would combine them (the function at ``/var/task``, the layers
into one ``/opt`` in order, a later layer winning a path several provide) and reports
sizes against the quotas, the layer count, the winners of shared paths, the entry point,
and architecture or Python-version disagreements. The quotas and the rules on unsafe
entries are ``local_lambda.package_rules``'s, the ones the local Lambda enforces, so
``check`` passes exactly what the local Lambda accepts.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from layer_build import elf
from layer_build.errors import BuildError
from layer_build.limits import UNZIPPED_TOTAL, mb
from local_lambda import package_rules

_PY_TAG = re.compile(r"(?:cpython-|\.cpython-)(3)(\d+)")
_SHOWN_OVERLAPS = 20


@dataclass
class ZipFacts:
    """What one zip says about itself."""

    path: Path
    size: int = 0
    files: dict[str, bool] = field(default_factory=dict)  # name -> executable
    arches: set[str] = field(default_factory=set)
    pythons: set[str] = field(default_factory=set)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_zip(path: Path) -> ZipFacts:
    facts = ZipFacts(path)
    if not Path(path).is_file():
        raise BuildError(f"{path}: no such file")
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(f"{path}: not a readable zip ({exc})") from None
    with archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISLNK(mode):
                continue
            facts.size += info.file_size
            facts.files[info.filename] = bool(mode & stat.S_IXUSR)
            name = info.filename
            if name.endswith("PYTHON_VERSION") and name.count("/") <= 1:
                facts.pythons.add(archive.read(info).decode().strip())
            for match in _PY_TAG.finditer(name.rsplit("/", 1)[-1]):
                facts.pythons.add(f"{match.group(1)}.{match.group(2)}")
            if (
                name.endswith(".so")
                or ".so." in name
                or name.startswith("bin/")
                or name == "bootstrap"
            ):
                with archive.open(info) as f:
                    number = elf.machine_of_header(f.read(20))
                if number is not None:
                    facts.arches.add(elf.machine_name(number))
    return facts


def check(
    function: Path, layers: list[Path], runtime: str | None = None, arch: str | None = None
) -> Report:
    report = Report()
    fn = read_zip(function)
    opt = [read_zip(layer) for layer in layers]
    total = fn.size + sum(layer.size for layer in opt)
    line = (
        f"unzipped size: {mb(total)} of {mb(UNZIPPED_TOTAL)} (function {mb(fn.size)}"
        + "".join(f", {layer.path.name} {mb(layer.size)}" for layer in opt)
        + ")"
    )
    report.notes.append(line)
    report.problems += package_rules.quota_problems(fn.size, [layer.size for layer in opt])
    _check_entries(function, layers, report)

    owner: dict[str, ZipFacts] = {}
    overlaps: list[str] = []
    for layer in opt:
        for name in layer.files:
            if name in owner:
                overlaps.append(f"/opt/{name}: {layer.path.name} wins over {owner[name].path.name}")
            owner[name] = layer
    if overlaps:
        report.notes.append(
            f"{len(overlaps)} paths provided by several layers (the later layer wins):"
        )
        report.notes += ["  " + o for o in overlaps[:_SHOWN_OVERLAPS]]
        if len(overlaps) > _SHOWN_OVERLAPS:
            report.notes.append(f"  ... and {len(overlaps) - _SHOWN_OVERLAPS} more")

    _check_bootstrap(fn, owner, runtime, report)
    _check_agreement(fn, opt, runtime, arch, report)
    return report


def _check_entries(function: Path, layers: list[Path], report: Report) -> None:
    """Unsafe entries, links and direct-upload sizes, by the local Lambda's own rules."""
    valid = []
    for index, path in enumerate([function, *layers]):
        try:
            listing = package_rules.read(path)
        except package_rules.PackageError as exc:
            report.problems.append(str(exc))
            continue
        report.problems += package_rules.upload_problems(listing)
        if index:
            valid.append(listing)
    report.problems += package_rules.overlay_problems(valid)


def _check_bootstrap(
    fn: ZipFacts, owner: dict[str, ZipFacts], runtime: str | None, report: Report
) -> None:
    if "bootstrap" in fn.files:
        where, executable = "/var/task/bootstrap", fn.files["bootstrap"]
    elif "bootstrap" in owner:
        where, executable = "/opt/bootstrap", owner["bootstrap"].files["bootstrap"]
    else:
        if runtime is None or runtime.startswith("provided"):
            report.problems.append(
                "no bootstrap at the root of the function or of any layer: "
                "a provided runtime fails with "
                "Runtime.InvalidEntrypoint (add lambdaboot's layer, or use a python3.x runtime)"
            )
        return
    if not executable:
        report.problems.append(
            f"{where} is not executable (mode without +x): rebuild the zip keeping mode 0755, "
            "or Lambda fails with 'permission denied'"
        )
    else:
        report.notes.append(f"entry point: {where}")


def _check_agreement(
    fn: ZipFacts, opt: list[ZipFacts], runtime: str | None, arch: str | None, report: Report
) -> None:
    zips = [fn, *opt]
    arches = {a for z in zips for a in z.arches}
    wanted_arch = {arch} if arch else set()
    if len(arches | wanted_arch) > 1:
        detail = ", ".join(f"{z.path.name}: {'/'.join(sorted(z.arches))}" for z in zips if z.arches)
        report.problems.append(
            f"architecture mismatch ({detail}{'; function: ' + arch if arch else ''}): "
            "every native file must match the function's architecture"
        )
    pythons = {p for z in zips for p in z.pythons}
    wanted = {runtime.removeprefix("python")} if runtime and runtime.startswith("python") else set()
    if len(pythons | wanted) > 1:
        detail = ", ".join(
            f"{z.path.name}: {'/'.join(sorted(z.pythons))}" for z in zips if z.pythons
        )
        if wanted:
            detail += f"; runtime: {runtime}"
        report.problems.append(
            f"Python version mismatch ({detail}): "
            "bytecode and extension modules only load in the version they were built for"
        )
