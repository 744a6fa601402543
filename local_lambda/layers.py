"""Layers, ``/opt`` and ``/var/task``: the read-only file system a function runs on.

Lambda merges a function's layers into ``/opt`` in the order they are attached (a later
layer's file wins) and mounts the function at ``/var/task``, both read-only. The local
Lambda does the same in one of two modes, chosen once per function:

- ``namespace`` (root, ``unshare -m`` works): each process of the environment (runtime and
  extensions) starts in a private mount namespace where the merged layers are bind-mounted
  read-only at the real ``/opt`` and the function at the real ``/var/task``. Nothing
  outside the environment sees them. ``/var/task`` is created (empty) as a mount point if
  the machine has none.
- ``directories`` (anywhere else): the merged layers and the function are plain temporary
  directories with their write bits removed, and the environment is told their paths
  (``LAMBDA_TASK_ROOT``, ``PATH``, ``LD_LIBRARY_PATH``). Root ignores write bits, so this
  mode does not stop root from writing: that is why root gets the namespace.

Without layers and without a ``runtime`` the function runs where it is (``host`` mode), as
before layers existed. Layer zips are extracted safely: no absolute names, no ``..``,
no links that point outside the layer.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import protocol

MAX_LAYERS = 5
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


class LayerError(ValueError):
    """A layer or function package that cannot be used (bad zip, unsafe entry, too many)."""


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
                "unshare", "-m", "/bin/sh", "-c", script, "lambdaboot-gate",
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
        return Filesystem("host", Path(task_root), None)
    if len(layers) > MAX_LAYERS:
        raise LayerError(f"{len(layers)} layers given: a function can use at most {MAX_LAYERS}")
    if mode == "auto":
        mode = "namespace" if namespace_works() else "directories"
    elif mode not in ("namespace", "directories"):
        raise ValueError(f"filesystem mode must be auto, namespace or directories, not {mode!r}")
    workdir = Path(tempfile.mkdtemp(prefix="lambdaboot-fs-"))
    fs = Filesystem(mode, Path(task_root), workdir / "opt", workdir)
    weakref.finalize(fs, _remove_tree, workdir)
    try:
        fs.opt_host.mkdir()  # type: ignore[union-attr]
        for layer in layers:
            _add(Path(layer), fs.opt_host)  # type: ignore[arg-type]
        if zipfile.is_zipfile(task_root):
            fs.task_host = workdir / "task"
            fs.task_host.mkdir()
            _add(Path(task_root), fs.task_host)
        elif not Path(task_root).is_dir():
            raise LayerError(f"the function {task_root} is neither a directory nor a zip file")
        if mode == "directories":
            _make_read_only(fs.opt_host)  # type: ignore[arg-type]
            if fs.task_host.is_relative_to(workdir):
                _make_read_only(fs.task_host)
        else:
            os.makedirs(TASK, exist_ok=True)  # the mount point
    except BaseException:
        _remove_tree(workdir)
        raise
    return fs


def describe(fs: Filesystem) -> str:
    """One line for the log: where /opt and the task root come from."""
    if fs.mode == "namespace":
        return f"read-only bind mounts: /opt <- {fs.opt_host}, /var/task <- {fs.task_host}"
    return f"read-only directories: /opt = {fs.opt_host}, task root = {fs.task_host}"


_namespace_ok: bool | None = None


def namespace_works() -> bool:
    """Can this machine give a process a private mount namespace with bind mounts? (cached)"""
    global _namespace_ok
    if _namespace_ok is None:
        _namespace_ok = False
        if os.geteuid() == 0 and shutil.which("unshare") and os.path.isdir(OPT):
            try:
                probe = subprocess.run(
                    ["unshare", "-m", "/bin/sh", "-c", "mount --bind -o ro / /opt"],
                    capture_output=True,
                    timeout=10,
                )
                _namespace_ok = probe.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                pass
    return _namespace_ok


def _add(source: Path, dest: Path) -> None:
    """Lay ``source`` (a zip or a directory) over ``dest``: its files replace dest's."""
    if source.is_dir():
        _copy_dir(source, dest)
    elif zipfile.is_zipfile(source):
        _extract(source, dest)
    else:
        raise LayerError(f"layer {source} is neither a zip file nor a directory")


def _safe_name(name: str, origin: Path) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts:
        raise LayerError(f"{origin}: unsafe entry {name!r} (absolute or with '..'); rebuild it")
    return "/".join(parts)


def _extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = _safe_name(info.filename, archive)
            target = dest / name
            mode = (info.external_attr >> 16) & 0xFFFF
            _clear(target)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode()
                _check_link(name, link, archive)
                target.symlink_to(link)
                continue
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            target.chmod((mode & 0o777) or 0o644)


def _copy_dir(source: Path, dest: Path) -> None:
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        for name in [*dirs, *files]:
            path = Path(root, name)
            relname = os.fspath(rel / name)
            target = dest / relname
            if path.is_symlink():
                link = os.readlink(path)
                _check_link(relname, link, source)
                _clear(target)
                target.symlink_to(link)
                if name in dirs:
                    dirs.remove(name)  # not followed
            elif path.is_dir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    _clear(target)
                target.mkdir(exist_ok=True)
            else:
                _clear(target)
                shutil.copy2(path, target)


def _check_link(name: str, link: str, origin: Path) -> None:
    """A link must stay inside its layer (a relative target that does not climb out)."""
    depth = len(Path(name).parts) - 1
    for part in Path(link).parts:
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            break
    if link.startswith("/") or depth < 0:
        raise LayerError(f"{origin}: link {name} -> {link} points outside the layer")


def _clear(target: Path) -> None:
    """Make room for a later layer's entry: remove a file or link there (a later layer wins)."""
    if target.is_symlink() or target.is_file():
        target.unlink()


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def _remove_tree(path: Path) -> None:
    for sub in [path, *path.rglob("*")]:
        if not sub.is_symlink() and sub.is_dir():
            os.chmod(sub, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def find_python(version: str) -> Path:
    """The interpreter a ``python3.X`` managed runtime runs on here: the repository's venv
    for that version when there is one (it has the runtime's dependencies installed:
    ``.venv`` for 3.11, ``.venv-3.X`` otherwise), else ``tools/find-python 3.X``."""
    venv = _REPO / (".venv" if version == "3.11" else f".venv-{version}") / "bin" / "python"
    if venv.exists():
        return venv
    found = subprocess.run(
        [os.fspath(_REPO / "tools" / "find-python"), version], capture_output=True, text=True
    )
    if found.returncode != 0:
        raise LayerError(found.stderr.strip() or f"no Python {version} found")
    return Path(found.stdout.strip())


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
    managed = [os.fspath(python), "-m", "awslambdaric", handler]
    extra = {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "PYTHONPATH": f"{fs.opt}/python/lib/python{version}/site-packages:{fs.opt}/python",
    }
    wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
    return ([wrapper, *managed] if wrapper else managed), extra
