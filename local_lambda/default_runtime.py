"""What ``invoke``, ``serve`` and ``bench`` run without ``--runtime``: the function as Lambda
would run it with lambdaboot's layer, i.e. the ``python3.X`` managed runtime (``X`` as
``lambdaboot build`` targets by default) with the layer in managed mode, the exec wrapper
set, ``/var/task`` read-only.

The layer is the one ``lambdaboot build`` makes (what a user deploys), built once per
content of the runtime's sources (bootstrap, exec wrapper, ``runtime_core``, lock file)
and kept in a cache folder, so the default costs a build only after those change; its
extracted tree is kept beside it (``layer_trees``), so a run does not unpack it either.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import tempfile
from pathlib import Path

from layer_build.targets import DEFAULT_PYTHON as PYTHON
from local_lambda import assets
from local_lambda.layer_trees import cache_root
from local_lambda.layers import LayerError, find_python

RUNTIME = f"python{PYTHON}"
WRAPPER = "/opt/lambdaboot-wrapper"
_RUNTIME_CORE = Path(__file__).resolve().parent.parent / "runtime_core"
_LOCK = Path(__file__).resolve().parent.parent / "layer_build" / "runtime.lock"


def arch() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def sources_hash(version: str = PYTHON) -> str:
    """A digest of everything the layer is built from, and of its target."""
    digest = hashlib.sha256(f"{version} {arch()}\n".encode())
    files = {p.name: p for p in (assets.BOOTSTRAP, assets.EXEC_WRAPPER, _LOCK)}
    for path in _RUNTIME_CORE.rglob("*"):
        if path.is_file() and path.suffix != ".pyc":
            files["runtime_core/" + path.relative_to(_RUNTIME_CORE).as_posix()] = path
    for name in sorted(files):  # by name, so a checkout and a wheel of one source agree
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def layer(version: str = PYTHON) -> Path:
    """The zip of lambdaboot's managed layer for ``python{version}``, built if not cached.
    ``LayerError`` (one line, saying what to do) when it cannot be built here."""
    find_python(version)  # first: the most likely thing missing, said plainly
    folder = cache_root() / f"managed-py{version}-{arch()}-{sources_hash(version)}"
    built = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    if built:
        return built[0]
    try:
        from layer_build.build import Options, build
        from layer_build.errors import BuildError
        from layer_build.targets import MANAGED_OS, Target
    except ImportError as exc:
        raise LayerError(
            f"building lambdaboot's {RUNTIME} layer needs the build extra ({exc}):"
            " pip install 'lambdaboot[build]', or pass --in-place"
        ) from None
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        target = Target(arch=arch(), python=version, os=MANAGED_OS[version])
        build(target, Options(out=staging))
        try:
            staging.rename(folder)  # atomic: a concurrent build of the same sources may win
        except OSError:
            if not folder.is_dir():
                raise
    except BuildError as exc:
        raise LayerError(
            f"building lambdaboot's {RUNTIME} layer: {exc}; or pass --in-place"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(folder.glob("*.zip"))[0]
