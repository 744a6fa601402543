"""Wheels for the target, never the build machine: resolved by pip, kept in a local cache.

``pip download --only-binary=:all: --platform ... --python-version ... --abi ...`` picks
wheels for another platform without running anything of theirs. The cache is a flat
directory of wheels (their names carry their tags): a build first tries it alone
(``--no-index``), and asks the index only for what it lacks.
"""

from __future__ import annotations

import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from layer_build.errors import BuildError
from layer_build.targets import Target
from layer_build.tree import safe_relative

RUNTIME_LOCK = Path(__file__).with_name("runtime.lock")
_NO_MATCH = re.compile(
    r"(?:No matching distribution found for|satisfies the requirement) ([^\s(]+)"
)


@dataclass(frozen=True)
class Vendored:
    """One package put into an artifact, as the manifest lists it."""

    name: str
    version: str
    wheel: str
    sha256: str
    license: str


def default_cache() -> Path:
    base = os.environ.get("LAMBDABOOT_WHEEL_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lambdaboot" / "wheels"


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def download(requirements: Path, target: Target, cache: Path, *, with_deps: bool) -> list[Path]:
    """The wheels ``requirements`` resolve to for ``target``, through ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    platform_args: list[str] = [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python,
        "--abi",
        target.cp_tag,
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for tag in target.wheel_platforms:
        platform_args += ["--platform", tag]
    platform_args += ["--platform", "any"]
    if not with_deps:
        platform_args.append("--no-deps")
    with tempfile.TemporaryDirectory(prefix="lambdaboot-wheels-") as tmp:
        base = [
            "-r",
            os.fspath(requirements),
            "-d",
            tmp,
            "--find-links",
            os.fspath(cache),
            *platform_args,
        ]
        done = _pip(["--no-index", *base])
        if done.returncode != 0:
            for leftover in Path(tmp).iterdir():
                leftover.unlink()
            done = _pip(base)
        if done.returncode != 0:
            raise BuildError(_explain(done.stderr, target))
        wheels = sorted(Path(tmp).glob("*.whl"))
        kept = []
        for wheel in wheels:
            cached = cache / wheel.name
            if not cached.exists():
                shutil.copyfile(wheel, cached)
            kept.append(cached)
        return kept


def _explain(stderr: str, target: Target) -> str:
    found = _NO_MATCH.search(stderr)
    platform = (
        f"CPython {target.python} on {target.os} {target.arch} "
        f"(glibc {'.'.join(map(str, target.max_glibc))})"
    )
    if found:
        return (
            f"no wheel of {found.group(1)} fits {platform}: "
            f"pick a version of {found.group(1)} that publishes "
            f"a manylinux wheel for {target.cp_tag} and this architecture, "
            "or build that wheel yourself "
            f"and put it in the wheel cache"
        )
    if "hash" in stderr.lower():
        return (
            f"a downloaded wheel does not match the hash in the lock file ({platform}):\n"
            f"{stderr.strip()}"
        )
    return f"pip could not resolve the requirements for {platform}:\n{stderr.strip()}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install(wheel: Path, dest: Path) -> Vendored:
    """Unpack ``wheel`` into ``dest`` as pip would (purelib/platlib at the top), refusing
    unsafe names."""
    metadata_text = ""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            rel = safe_relative(info.filename, f"entry of {wheel.name}")
            parts = rel.parts
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: never run in Lambda
                rel = rel.relative_to(*parts[:2])
            if parts[0].endswith(".dist-info") and parts[-1] == "METADATA":
                metadata_text = archive.read(info).decode("utf-8", "replace")
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(info))
    meta = email.parser.Parser().parsestr(metadata_text, headersonly=True)
    return Vendored(
        name=meta.get("Name", wheel.name.split("-")[0]),
        version=meta.get("Version", wheel.name.split("-")[1]),
        wheel=wheel.name,
        sha256=sha256(wheel),
        license=_license(meta),
    )


def installed(dist_info: Path) -> Vendored:
    """A package that came in already unpacked (an ``--include`` of a ``pip install --target``
    tree): listed so the manifest still names its version and licence; no wheel, no hash."""
    text = (dist_info / "METADATA").read_text("utf-8", "replace")
    meta = email.parser.Parser().parsestr(text, headersonly=True)
    name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
    return Vendored(
        name=meta.get("Name", name),
        version=meta.get("Version", version),
        wheel="",
        sha256="",
        license=_license(meta),
    )


def _license(meta: email.message.Message) -> str:
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    text = meta.get("License")
    if text and len(text) < 80 and "\n" not in text:
        return str(text)
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier", [])
        if c.startswith("License ::")
    ]
    return ", ".join(classifiers) or "unknown (see the package's license files)"
