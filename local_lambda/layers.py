"""Layers, ``/opt`` and ``/var/task``: the read-only file system a function runs on.

Lambda merges a function's layers into ``/opt`` in the order they are attached (a later
layer's file wins) and mounts the function at ``/var/task``, both read-only. The local
Lambda does the same in one of two modes, chosen once per function:

- ``namespace`` (root with ``unshare -m``, or any user where the kernel allows user
  namespaces, with ``unshare -Urm``: the process is root only inside its own namespace):
  each process of the environment (runtime and
  extensions) starts in a private mount namespace where the merged layers are bind-mounted
  read-only at the real ``/opt`` and the function at the real ``/var/task``. Nothing
  outside the environment sees them. ``/var/task`` is created (empty) as a mount point if
  the machine has none.
- ``directories`` (anywhere else): the merged layers and the function are plain temporary
  directories with their write bits removed, and the environment is told their paths
  (``LAMBDA_TASK_ROOT``, ``PATH``, ``LD_LIBRARY_PATH``). Root ignores write bits, so this
  mode does not stop root from writing: that is why root gets the namespace. Paths under
  ``/opt`` do not exist there, so an ``AWS_LAMBDA_EXEC_WRAPPER=/opt/...`` is refused with
  a message saying why.

Without layers and without a ``runtime`` the function runs where it is (``host`` mode), as
before layers existed. Packages are read, checked against Lambda's quotas and extracted
by ``package_rules`` (the rules ``lambdaboot check`` applies too): nothing is ever written
outside its folder.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import threading
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import layer_trees, package_rules, protocol, pythons
from .layer_trees import make_read_only, remove_tree
from .package_rules import MAX_LAYERS

__all__ = ["MAX_LAYERS", "Filesystem", "LayerError", "prepare"]
OPT = "/opt"
TASK = "/var/task"
_REPO = Path(__file__).resolve().parent.parent

# The process is started behind a gate: a shell that waits for one line on stdin, then
# execs the command (same pid, same process group, same cgroup). Joining the memory
# cgroup costs 5-15 ms here, so it happens while the gate is closed. In namespace mode
# the same shell first makes the read-only bind mounts (unshare -m: private propagation).
_GATE = 'read -r _ && exec "$@" </dev/null'
_MOUNTS = (
    'mount --bind -o ro "$1" /opt && mount --bind -o ro "$2" /var/task'
    " && cd /var/task && shift 2 && "
)


#: A layer or function package that cannot be used (bad zip, unsafe entry, over a quota).
LayerError = package_rules.PackageError


@dataclass
class Filesystem:
    """Where ``/opt`` and the task root are, on the host and as the environment sees them."""

    mode: str  # "namespace" | "directories" | "host"
    task_host: Path
    opt_host: Path | None  # the merged layers (None in host mode)
    workdir: Path | None = None

    @property
    def task_root(self) -> str:
        """The task root as the environment sees it (LAMBDA_TASK_ROOT)."""
        return TASK if self.mode == "namespace" else os.fspath(self.task_host)

    @property
    def opt(self) -> str:
        if self.mode == "namespace":
            return OPT
        return os.fspath(self.opt_host) if self.opt_host is not None else OPT

    def host_path(self, seen: str) -> Path:
        """The host path of a path as the environment sees it (/opt/x, /var/task/x, relative)."""
        if self.mode == "namespace":
            if seen == OPT or seen.startswith(OPT + "/"):
                assert self.opt_host is not None
                return self.opt_host / seen[len(OPT) + 1 :]
            if seen == TASK or seen.startswith(TASK + "/"):
                return self.task_host / seen[len(TASK) + 1 :]
        return self.task_host / seen  # an absolute ``seen`` stays as it is

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` behind the gate (and the mounts, in namespace mode)."""
        if self.mode == "namespace":
            assert self.opt_host is not None
            script = _MOUNTS + _GATE
            return [
                *unshare_command(), "/bin/sh", "-c", script, "lambdaboot-gate",
                os.fspath(self.opt_host), os.fspath(self.task_host), *command,
            ]  # fmt: skip
        return ["/bin/sh", "-c", _GATE, "lambdaboot-gate", *command]

    @property
    def cwd(self) -> Path:
        """Where the process starts (namespace mode changes to /var/task after mounting)."""
        return self.task_host

    def extensions(self) -> list[Path]:
        """The external extensions to start: executable regular files in /opt/extensions,
        by name, unless /opt/disable-extensions-jwigqn8j exists."""
        if self.opt_host is None:
            return []
        if (self.opt_host / protocol.DISABLE_EXTENSIONS_FILE).exists():
            return []
        folder = self.opt_host / "extensions"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK))


def prepare(
    task_root: Path, layers: list[Path], runtime: str | None, mode: str = "auto"
) -> Filesystem:
    """Merge ``layers`` and place the function, in ``mode`` ('auto', 'namespace',
    'directories'). Without layers and runtime, the function runs in place ('host')."""
    if not layers and runtime is None and not zipfile.is_zipfile(task_root):
        if Path(task_root).is_dir():
            _check_quotas(package_rules.tree_size(Path(task_root)), [])
        return Filesystem("host", Path(task_root), None)
    if mode == "auto":
        mode = "namespace" if namespace_works() else "directories"
    elif mode not in ("namespace", "directories"):
        raise ValueError(f"filesystem mode must be auto, namespace or directories, not {mode!r}")
    listings = [package_rules.read(Path(layer)) for layer in layers]
    function: package_rules.Listing | None = None
    if zipfile.is_zipfile(task_root):
        function = package_rules.read(Path(task_root))
        function_size = function.unzipped
    elif Path(task_root).is_dir():
        function_size = package_rules.tree_size(Path(task_root))
    else:
        raise LayerError(f"the function {task_root} is neither a directory nor a zip file")
    _check_quotas(function_size, listings)
    problems = package_rules.overlay_problems(listings)
    if problems:
        raise LayerError(problems[0])
    workdir = Path(tempfile.mkdtemp(prefix="lambdaboot-fs-"))
    fs = Filesystem(mode, Path(task_root), workdir / "opt", workdir)
    weakref.finalize(fs, remove_tree, workdir)
    try:
        lease = _cached_opt(listings)
        if lease is not None:
            fs.opt_host = lease.opt  # read-only already, and checked
            weakref.finalize(fs, lease.release)
        else:
            fs.opt_host.mkdir()  # type: ignore[union-attr]
            for listing in listings:
                package_rules.extract(listing, fs.opt_host)  # type: ignore[arg-type]
            package_rules.check_links_inside(fs.opt_host)  # type: ignore[arg-type]
        if function is not None:
            fs.task_host = workdir / "task"
            fs.task_host.mkdir()
            package_rules.extract(function, fs.task_host)
            package_rules.check_links_inside(fs.task_host)
        if mode == "directories":
            if lease is None:
                make_read_only(fs.opt_host)  # type: ignore[arg-type]
            if fs.task_host.is_relative_to(workdir):
                make_read_only(fs.task_host)
        else:
            os.makedirs(TASK, exist_ok=True)  # the mount point
    except BaseException:
        remove_tree(workdir)
        raise
    return fs


def _cached_opt(listings: list[package_rules.Listing]) -> layer_trees.Lease | None:
    """The merged tree from the cache when every layer is a zip (the tree is then made
    once per content, ``layer_trees``); None to extract per run: directory layers, no
    layers, or a cache this user cannot write (a read-only home)."""
    if not listings or not all(listing.is_zip for listing in listings):
        return None
    try:
        return layer_trees.lease(listings)
    except OSError:
        return None


def describe(fs: Filesystem) -> str:
    """One line for the log: where /opt and the task root come from."""
    if fs.mode == "namespace":
        return f"read-only bind mounts: /opt <- {fs.opt_host}, /var/task <- {fs.task_host}"
    return f"read-only directories: /opt = {fs.opt_host}, task root = {fs.task_host}"


_unshare: list[str] | None = None
_namespace_lock = threading.Lock()  # environments of a pool start side by side


def namespace_works() -> bool:
    """Can this machine give a process a private mount namespace with bind mounts? (cached)"""
    return bool(unshare_command())


def unshare_command() -> list[str]:
    """How to start a process in a private mount namespace here (cached): ``unshare -m`` for
    root; for anyone else ``unshare -Urm``, a user namespace of their own in which they may
    mount (where the kernel allows unprivileged user namespaces and /opt and /var/task
    exist as mount points); [] when neither works."""
    global _unshare
    with _namespace_lock:
        if _unshare is None:
            _unshare = []
            if shutil.which("unshare") and os.path.isdir(OPT):
                root = os.geteuid() == 0
                command = ["unshare", "-m"] if root else ["unshare", "-Urm"]
                if root or os.path.isdir(TASK):
                    _unshare = command if _probe(command) else []
        return _unshare


def _probe(command: list[str]) -> bool:
    with tempfile.TemporaryDirectory(prefix="lambdaboot-probe-") as empty:
        script = 'mount --bind -o ro "$1" /opt'
        try:
            done = subprocess.run(
                [*command, "/bin/sh", "-c", script, "probe", empty], capture_output=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0


def _check_quotas(function_size: int, layers: list[package_rules.Listing]) -> None:
    problems = package_rules.quota_problems(function_size, [x.unzipped for x in layers])
    if problems:
        raise LayerError(problems[0])


def find_python(version: str) -> Path:
    """The interpreter a ``python3.X`` managed runtime runs on here: the repository's venv
    for that version when there is one (it has the runtime's dependencies installed:
    ``.venv`` for 3.11, ``.venv-3.X`` otherwise), else one on PATH or from pyenv."""
    venv = _REPO / (".venv" if version == "3.11" else f".venv-{version}") / "bin" / "python"
    with contextlib.suppress(OSError):  # e.g. a venv another user cannot reach
        if venv.exists() and os.access(venv, os.X_OK):
            return venv
    found = pythons.find(version)
    if found is not None:
        return found
    raise LayerError(
        f"no Python {version} found to run the python{version} runtime: install it (e.g."
        f" `pyenv install {version}`, or your system's python{version} package) and put"
        f" python{version} on PATH"
    )


@functools.cache
def _check_client(python: Path, version: str) -> None:
    """The managed runtime's start needs AWS's runtime client in that interpreter."""
    probe = subprocess.run(
        [os.fspath(python), "-c", "import awslambdaric"], capture_output=True, timeout=60
    )
    if probe.returncode != 0:
        raise LayerError(
            f"{python} has no awslambdaric, which the python{version} runtime starts:"
            f" {python} -m pip install awslambdaric==4.2.2 (or set AWS_LAMBDA_EXEC_WRAPPER"
            " to lambdaboot's wrapper, which does not need it)"
        )


def runtime_command(
    runtime: str | None, command: list[str], handler: str, fs: Filesystem, env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The command that starts the runtime, and the variables the runtime kind adds.

    ``provided.*``: ``command`` if given, else the function's ``bootstrap``, else
    ``/opt/bootstrap`` (Lambda's order). ``python3.X``: the managed runtime's start, emulated
    as ``python3.X -m awslambdaric HANDLER``, behind ``AWS_LAMBDA_EXEC_WRAPPER`` when set.
    """
    if runtime is None:
        return command, {}
    if runtime.startswith("provided"):
        if command:
            return command, {}
        for seen in (fs.task_root + "/bootstrap", fs.opt + "/bootstrap"):
            if fs.host_path(seen).is_file():
                return [seen], {}
        raise LayerError(
            f"Couldn't find valid bootstrap(s): [{fs.task_root}/bootstrap {fs.opt}/bootstrap]"
        )
    if not runtime.startswith("python3."):
        raise LayerError(
            f"unknown runtime {runtime!r}: use provided.al2023, provided.al2 or python3.11-3.13"
        )
    version = runtime[len("python") :]
    python = find_python(version)
    wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
    if not wrapper:
        _check_client(python, version)
    elif fs.mode == "directories" and (wrapper == OPT or wrapper.startswith(OPT + "/")):
        raise LayerError(
            f"AWS_LAMBDA_EXEC_WRAPPER={wrapper} needs the layers at /opt, which this machine"
            " cannot mount for a non-root user (no user namespaces: unshare -Urm fails); run as"
            " root, or allow unprivileged user namespaces"
            " (sysctl kernel.unprivileged_userns_clone=1)"
        )
    managed = [os.fspath(python), "-m", "awslambdaric", handler]
    extra = {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "PYTHONPATH": f"{fs.opt}/python/lib/python{version}/site-packages:{fs.opt}/python",
    }
    return ([wrapper, *managed] if wrapper else managed), extra
