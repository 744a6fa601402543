"""AWS's rules for deployment packages and layers, and extracting them safely.

Lambda refuses a function whose code and layers break its quotas (at most 5 layers, 250 MB
unzipped for the function and all its layers together, 50 MB zipped for a direct upload),
and an archive is only ever unpacked inside its own folder. Two tools need exactly the
same rules: ``lambdaboot check`` (before deploying) and the local Lambda (when it builds
``/opt`` and ``/var/task``); if they disagreed, ``check`` would say "ok" to what the local
Lambda refuses. The rules live here, in ``local_lambda``, because ``local_lambda`` must not
import ``layer_build`` or ``runtime_core`` while ``layer_build`` may import ``local_lambda``:
this module is the one place both can reach. It uses only the standard library.

Every entry of a package (a zip, or a directory given as a layer) is read into a
:class:`Listing` first and validated as a whole before anything is written:

- names: no absolute names, no ``..``, no empty names, no two entries with one name;
- kinds: regular files, directories and symbolic links only (devices, FIFOs and sockets
  are refused);
- links: a link's target, resolved through the package's other links as the kernel would
  resolve it, must stay inside the package (so a chain of links that climbs to the root
  and then one level further is caught), and no entry may sit under a link (a file
  written "through" a link lands wherever the link points).

:func:`extract` then writes with directory file descriptors and ``O_NOFOLLOW``, so even a
package that slipped past the checks cannot write outside its destination, and
:func:`overlay_problems` applies the same link rules to layers merged in order.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
MAX_LAYERS = 5
UNZIPPED_TOTAL = 250 * MB  # function + all its layers, unzipped
DIRECT_UPLOAD_ZIPPED = 50 * MB  # larger zips must be uploaded through S3
_MAX_LINK_HOPS = 40  # Linux's limit on links followed while resolving one path (ELOOP)


class PackageError(ValueError):
    """A package or layer Lambda would refuse, or that cannot be unpacked safely (one line)."""


def mb(size: int) -> str:
    return f"{size / MB:.1f} MB"


@dataclass
class Entry:
    """One entry of a package, by its normalised name (``a/b``, no leading or trailing ``/``)."""

    name: str
    kind: str  # "file" | "dir" | "link"
    size: int = 0
    mode: int = 0o644  # permission bits only
    target: str = ""  # a link's target
    source: Path | None = None  # where a directory package's file is read from
    member: zipfile.ZipInfo | None = None  # where a zip's file is read from


@dataclass
class Listing:
    """A package's entries, validated; ``unzipped`` is what Lambda counts against 250 MB."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    zipped: int = 0  # the zip's own size (0 for a directory)
    is_zip: bool = False

    @property
    def unzipped(self) -> int:
        return sum(e.size for e in self.entries if e.kind == "file")


def read(path: Path) -> Listing:
    """The validated listing of ``path``, a zip or a directory; PackageError if unsafe."""
    path = Path(path)
    if path.is_dir():
        listing = _read_dir(path)
    elif zipfile.is_zipfile(path):
        listing = _read_zip(path)
    else:
        raise PackageError(f"{path} is neither a zip file nor a directory")
    _validate(listing)
    return listing


def _read_zip(path: Path) -> Listing:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackageError(f"{path}: not a readable zip ({exc})") from None
    listing = Listing(path, zipped=path.stat().st_size, is_zip=True)
    with archive:
        for info in archive.infolist():
            name = _normalise(info.filename, path)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            kind = _kind(mode, info.filename.endswith("/"), f"{path}: entry {info.filename!r}")
            entry = Entry(name, kind, mode=stat.S_IMODE(mode) & 0o777, member=info)
            if kind == "file":
                entry.size = info.file_size
            elif kind == "link":
                if info.file_size > 4096:
                    raise PackageError(f"{path}: link {name} has a {info.file_size}-byte target")
                entry.target = archive.read(info).decode("utf-8", "surrogateescape")
            listing.entries.append(entry)
    return listing


def _read_dir(root: Path) -> Listing:
    listing = Listing(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            kind = _kind(st.st_mode, False, f"{root}: {rel}")
            entry = Entry(rel, kind, mode=stat.S_IMODE(st.st_mode) & 0o777, source=path)
            if kind == "file":
                entry.size = st.st_size
            elif kind == "link":
                entry.target = os.readlink(path)
            listing.entries.append(entry)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
    return listing


def _normalise(name: str, origin: Path) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith(("/", "\\")) or ".." in parts or not parts or ":" in parts[0]:
        raise PackageError(f"{origin}: unsafe entry {name!r} (absolute or with '..'); rebuild it")
    return "/".join(parts)


def _kind(mode: int, slash: bool, what: str) -> str:
    """file, dir or link from a Unix mode (0: no Unix mode, e.g. a zip made on Windows)."""
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "link"
    if kind == stat.S_IFDIR or (kind == 0 and slash):
        return "dir"
    if kind in (stat.S_IFREG, 0):
        return "file"
    names = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device"}
    names |= {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}
    raise PackageError(
        f"{what} is a {names.get(kind, 'special file')}: a package may hold only files,"
        " directories and symbolic links"
    )


def _validate(listing: Listing) -> None:
    tree: dict[str, Entry] = {}
    for entry in listing.entries:
        if entry.name in tree:
            raise PackageError(f"{listing.path}: {entry.name!r} appears twice; rebuild the zip")
        tree[entry.name] = entry
    for entry in listing.entries:
        problem = _entry_problem(entry, tree, {})
        if problem:
            raise PackageError(f"{listing.path}: {problem}")


def _entry_problem(entry: Entry, tree: dict[str, Entry], below: dict[str, Entry]) -> str:
    """What is wrong with ``entry`` in ``tree`` (``below``: earlier layers under it), or ''."""
    parts = entry.name.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        found = tree.get(parent) or below.get(parent)
        if found is not None and found.kind == "link":
            return f"{entry.name} is under the link {parent} (nothing is written through a link)"
    if entry.kind == "link":
        where = _resolve(parts[:-1], entry.target, tree, below)
        if where is None:
            return f"link {entry.name} -> {entry.target} points outside the layer"
    return ""


def _resolve(
    start: list[str], target: str, tree: dict[str, Entry], below: dict[str, Entry]
) -> list[str] | None:
    """Where ``target`` (a link's text, relative to directory ``start``) leads inside the
    package, following the package's own links; None if it leaves the package."""
    hops = 0
    pending = [target]
    stack = list(start)
    while pending:
        text = pending.pop()
        if text.startswith("/"):
            return None
        parts = [p for p in text.split("/") if p not in ("", ".")]
        for index, part in enumerate(parts):
            if part == "..":
                if not stack:
                    return None
                stack.pop()
                continue
            stack.append(part)
            key = "/".join(stack)
            found = tree.get(key) or below.get(key)
            if found is not None and found.kind == "link":
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    return None  # a loop: the kernel gives up (ELOOP), so do we
                stack.pop()
                rest = "/".join(parts[index + 1 :])
                if rest:
                    pending.append(rest)
                pending.append(found.target)
                break
    return stack


def overlay_problems(layers: list[Listing]) -> list[str]:
    """Problems of ``layers`` merged into one ``/opt`` in order (a later entry wins): an
    entry under an earlier layer's link, or a link that now leads outside."""
    merged: dict[str, Entry] = {}
    problems = []
    for layer in layers:
        own = {e.name: e for e in layer.entries}
        for entry in layer.entries:
            problem = _entry_problem(entry, own, merged)
            if problem:
                problems.append(f"{layer.path.name}: {problem}")
        merged.update(own)
    for entry in merged.values():  # a later layer can change what an earlier link reaches
        start = entry.name.split("/")[:-1]
        if entry.kind == "link" and _resolve(start, entry.target, merged, {}) is None:
            problems.append(f"/opt/{entry.name} -> {entry.target} points outside /opt")
    return list(dict.fromkeys(problems))


def quota_problems(function_size: int, layer_sizes: list[int]) -> list[str]:
    """Lambda's quotas for a function and its layers (their unzipped sizes in bytes)."""
    problems = []
    if len(layer_sizes) > MAX_LAYERS:
        problems.append(
            f"{len(layer_sizes)} layers: Lambda allows at most {MAX_LAYERS} per function"
        )
    total = function_size + sum(layer_sizes)
    if total > UNZIPPED_TOTAL:
        problems.append(
            f"unzipped size {mb(total)} is over Lambda's {mb(UNZIPPED_TOTAL)} for a function"
            " and its layers: trim dependencies or use a container image"
        )
    return problems


def upload_problems(listing: Listing) -> list[str]:
    """A zip over the direct-upload quota can only be deployed from S3."""
    if listing.zipped > DIRECT_UPLOAD_ZIPPED:
        return [
            f"{listing.path.name} is {mb(listing.zipped)} zipped, over the"
            f" {mb(DIRECT_UPLOAD_ZIPPED)} of a direct upload: upload it to S3 and deploy from there"
        ]
    return []


def extract(listing: Listing, dest: Path) -> None:
    """Write ``listing``'s entries into the directory ``dest`` (a later package laid over an
    earlier one replaces its files). Never writes through a link: every directory is
    opened with ``O_NOFOLLOW`` relative to its parent's descriptor."""
    root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    archive = zipfile.ZipFile(listing.path) if listing.is_zip else None
    try:
        for entry in listing.entries:
            *parents, leaf = entry.name.split("/")
            fd = _open_parents(root, parents, listing.path, entry.name)
            try:
                _write(fd, leaf, entry, archive)
            finally:
                if fd != root:
                    os.close(fd)
    finally:
        os.close(root)
        if archive is not None:
            archive.close()


def check_links_inside(dest: Path) -> None:
    """After extracting: every link under ``dest``, resolved by the kernel, stays inside it
    (the listings were checked already; this checks the result, whatever produced it)."""
    real = os.path.realpath(dest)
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                reached = os.path.realpath(path)
                if os.path.commonpath([real, reached]) != real:
                    shown = os.path.relpath(path, dest)
                    raise PackageError(
                        f"link {shown} -> {os.readlink(path)} points outside the layer"
                    )


def _open_parents(root: int, parents: list[str], origin: Path, name: str) -> int:
    fd = root
    for index, part in enumerate(parents):
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        try:
            child = os.open(part, flags, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, flags, dir_fd=fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                if fd != root:
                    os.close(fd)
                link = "/".join(parents[: index + 1])
                raise PackageError(
                    f"{origin}: {name} is under the link {link} (nothing is written through a link)"
                ) from None
            os.unlink(part, dir_fd=fd)  # an earlier layer's file where this one has a folder
            os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, flags, dir_fd=fd)
        if fd != root:
            os.close(fd)
        fd = child
    return fd


def _write(fd: int, leaf: str, entry: Entry, archive: zipfile.ZipFile | None) -> None:
    try:
        existing = os.stat(leaf, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if stat.S_ISDIR(existing):
            if entry.kind == "dir":
                return
            shutil.rmtree(leaf, dir_fd=fd)
        else:
            os.unlink(leaf, dir_fd=fd)  # a later layer's entry wins
    if entry.kind == "dir":
        os.mkdir(leaf, 0o755, dir_fd=fd)
    elif entry.kind == "link":
        os.symlink(entry.target, leaf, dir_fd=fd)
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        out = os.open(leaf, flags, entry.mode or 0o644, dir_fd=fd)
        with open(out, "wb") as sink:
            if archive is not None:
                assert entry.member is not None
                with archive.open(entry.member) as src:
                    shutil.copyfileobj(src, sink)
            else:
                assert entry.source is not None
                with open(entry.source, "rb") as src:
                    shutil.copyfileobj(src, sink)
            os.fchmod(sink.fileno(), entry.mode or 0o644)


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root``, links not followed (Lambda's unzipped size)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
