"""``lambdaboot build``: the runtime layer, or a function package, for one target.

Both follow the same steps in a fresh staging directory: copy the inputs in safely,
vendor wheels for the target, trim, compile every ``.py`` (unchecked-hash, target
version), strip native code, zip reproducibly, check the quotas, write the manifest.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layer_build import binaries, embed, trim
from layer_build.bytecode import compile_tree
from layer_build.errors import BuildError
from layer_build.interpreters import find_python, runs
from layer_build.limits import DIRECT_UPLOAD_ZIPPED, UNZIPPED_TOTAL, mb
from layer_build.manifest import layer_name, write_manifest
from layer_build.targets import ELF_MACHINE, Target
from layer_build.tree import copy_file, copy_tree, safe_relative, tree_size
from layer_build.wheels import RUNTIME_LOCK, Vendored, default_cache, download, install, installed
from layer_build.zipper import write_zip
from local_lambda import assets

REPO = Path(__file__).resolve().parent.parent
WRAPPER_NAME = "lambdaboot-wrapper"
_FUNCTION_SKIP = {"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass
class Options:
    """Everything a build reads besides the target (the CLI's flags)."""

    out: Path = Path("dist")
    cache: Path = field(default_factory=default_cache)
    python_dist: Path | None = None
    compile_python: Path | None = None
    extensions: list[Path] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)  # SRC:DEST
    binaries: list[Path] = field(default_factory=list)
    lib_paths: list[Path] = field(default_factory=list)
    lock: Path = RUNTIME_LOCK
    function: Path | None = None
    requirements: Path | None = None


@dataclass
class Result:
    zip: Path
    manifest: dict[str, Any]
    warnings: list[str]


def build(target: Target, options: Options) -> Result:
    """Build one zip for ``target``: the function package if ``options.function``, else the
    layer."""
    with tempfile.TemporaryDirectory(prefix="lambdaboot-build-") as tmp:
        stage = Path(tmp) / "stage"
        stage.mkdir()
        if options.function is not None:
            return _build_function(target, options, stage)
        return _build_layer(target, options, stage)


def _compiler(target: Target, options: Options) -> Path:
    return find_python(target.python, options.compile_python)


def _vendor(
    requirements: Path, target: Target, options: Options, dest: Path, *, with_deps: bool
) -> list[Vendored]:
    dest.mkdir(parents=True, exist_ok=True)
    wheels = download(requirements, target, options.cache, with_deps=with_deps)
    return [install(wheel, dest) for wheel in wheels]


def _extras(target: Target, options: Options, stage: Path) -> tuple[dict[str, Any], list[Path]]:
    """``--extension``, ``--include`` and ``--binary``: the same for layers and functions.
    Also returns the directories included (relative to the package root)."""
    dirs: list[Path] = []
    for ext in options.extensions:
        if not ext.is_file():
            raise BuildError(f"--extension {ext} is not a file")
        copy_file(ext, stage / "extensions" / ext.name)
    for spec in options.includes:
        src_text, sep, dest_text = spec.partition(":")
        if not sep or not dest_text:
            raise BuildError(
                f"--include {spec!r}: write it as SRC:DEST (DEST relative to the package root)"
            )
        src, dest = Path(src_text), stage / safe_relative(dest_text, "--include destination")
        if src.is_dir():
            copy_tree(src, dest)
            trim.drop_bytecode(dest)  # e.g. a pip --target made by another Python
            dirs.append(dest.relative_to(stage))
        elif src.is_file():
            copy_file(src, dest)
        else:
            raise BuildError(f"--include {spec!r}: {src} does not exist")
    copied: dict[str, list[str]] = {}
    for binary in options.binaries:
        copied[binary.name] = binaries.add_binary(binary, stage, target, options.lib_paths)
    return {"binaries": copied}, dirs


def _additions(options: Options) -> list[str]:
    """What ``--binary``, ``--extension`` and ``--include`` add, by name (for the layer's name)."""
    dests = [spec.partition(":")[2].rstrip("/").rsplit("/", 1)[-1] for spec in options.includes]
    return [*(b.name for b in options.binaries), *(e.name for e in options.extensions), *dests]


def _included_packages(stage: Path, dirs: list[Path]) -> list[Vendored]:
    """Packages installed in included directories, so the manifest lists their licences too."""
    found = {
        p for d in dirs for p in (stage / d).rglob("*.dist-info") if (p / "METADATA").is_file()
    }
    return [installed(p) for p in sorted(found)]


def _finish(
    target: Target,
    options: Options,
    stage: Path,
    name: str,
    kind: str,
    runtimes: list[str],
    packages: list[Vendored],
    extra: dict[str, Any],
) -> Result:
    warnings: list[str] = []
    unstripped = trim.strip_native(stage, ELF_MACHINE[target.arch])
    if unstripped and trim.strip_tool(ELF_MACHINE[target.arch]) is None:
        package = trim.CROSS_PACKAGE.get(ELF_MACHINE[target.arch], "binutils")
        warnings.append(
            f"{len(unstripped)} native files left unstripped: no strip for {target.arch} on this"
            f" machine (on Debian/Ubuntu: apt-get install {package})"
        )
    size = tree_size(stage)
    if size > UNZIPPED_TOTAL:
        raise BuildError(
            f"{name} is {mb(size)} unzipped, over Lambda's {mb(UNZIPPED_TOTAL)} limit for a "
            f"function and all its layers: drop dependencies or split them out"
        )
    out = options.out / f"{name}.zip"
    write_zip(stage, out)
    zipped = out.stat().st_size
    if zipped > DIRECT_UPLOAD_ZIPPED:
        warnings.append(
            f"{out.name} is {mb(zipped)} zipped, over the {mb(DIRECT_UPLOAD_ZIPPED)} direct upload "
            f"limit: upload it to S3 and publish from there"
        )
    extra = {**extra, "unstripped": unstripped, "warnings": warnings}
    manifest = write_manifest(
        out, kind=kind, target=target, runtimes=runtimes, packages=packages, extra=extra
    )
    return Result(out, manifest, warnings)


def _build_layer(target: Target, options: Options, stage: Path) -> Result:
    if target.mode == "provided" and options.python_dist is None:
        raise BuildError(
            "--mode provided needs --python-dist: a python-build-standalone install_only "
            "tarball (or a directory of that layout) for the target"
        )
    copy_file(assets.BOOTSTRAP, stage / "bootstrap")
    if target.mode == "managed":
        copy_file(assets.EXEC_WRAPPER, stage / WRAPPER_NAME)
    home = stage / "lambdaboot"
    copy_tree(
        REPO / "runtime_core", home / "runtime_core", skip=lambda rel: rel.name == "__pycache__"
    )
    (home / "PYTHON_VERSION").write_text(target.python + "\n")
    if not options.lock.is_file():
        raise BuildError(f"lock file {options.lock} is missing: run `python -m layer_build.lock`")
    packages = _vendor(options.lock, target, options, home, with_deps=False)
    trim.trim(home)
    extra, included = _extras(target, options, stage)
    packages += _included_packages(stage, included)
    compiler = None
    if options.python_dist is not None and target.mode == "provided":
        python3 = embed.embed(options.python_dist, stage, target)
        trim.trim(stage / "python-runtime")
        # The embedded interpreter compiles its own library, unless it cannot run here (arm64).
        if options.compile_python is None and runs(python3):
            compiler = python3
        embed.compile_stdlib(compiler or _compiler(target, options), stage, target)
    compile_tree(compiler or _compiler(target, options), home, "/opt/lambdaboot")
    for rel in included:  # e.g. --include build/python:python, imported from /opt/python
        compile_tree(compiler or _compiler(target, options), stage / rel, f"/opt/{rel}")
    return _finish(
        target,
        options,
        stage,
        layer_name(target, _additions(options)),
        "layer",
        target.compatible_runtimes,
        packages,
        extra,
    )


def _build_function(target: Target, options: Options, stage: Path) -> Result:
    assert options.function is not None
    source = options.function
    if not source.is_dir():
        raise BuildError(f"--function {source} is not a directory")
    packages: list[Vendored] = []
    if options.requirements is not None:
        if not options.requirements.is_file():
            raise BuildError(f"-r {options.requirements} does not exist")
        deps = stage / ".deps"
        packages = _vendor(options.requirements, target, options, deps, with_deps=True)
        trim.trim(deps)
        copy_tree(deps, stage)
        shutil.rmtree(deps)
    copy_tree(source, stage, skip=lambda rel: rel.name in _FUNCTION_SKIP or rel.suffix == ".pyc")
    extra, included = _extras(target, options, stage)
    packages += _included_packages(stage, included)
    compile_tree(_compiler(target, options), stage, "/var/task")
    name = f"{source.resolve().name}-py{target.python}-{target.arch}".replace(".", "")
    runtimes = [f"python{target.python}", f"provided.{target.os}"]
    extra["function"] = source.resolve().name
    return _finish(target, options, stage, name, "function", runtimes, packages, extra)
