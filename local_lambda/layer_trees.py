"""Merged ``/opt`` trees kept between runs, keyed by the content of the layer zips.

Every default ``invoke``, ``serve`` or ``bench`` used to extract lambdaboot's layer
(~200 entries, 3.7 MB) into a fresh folder and delete it afterwards. The layers' bytes
decide the tree entirely, so the tree is made once per ordered list of zips (their
sha256) and reused:

- made once: extracted into a temporary folder beside the cache with ``package_rules``
  (the rules every extraction follows), its links checked, made read-only, recorded, then
  renamed into place. A rename is atomic, so of two runs racing, one tree wins and the
  other run removes its own copy and uses the winner's; no run ever sees half a tree.
- never trusted blindly: each use compares the tree with the record written beside it
  (every entry's kind, size, mode, link target, inode and ctime). A file deleted, a link
  planted or a file rewritten, even with its times put back (a change always moves the
  ctime), makes the tree stale: it is set aside and made again.
- pruned: a use holds a shared ``flock`` on the tree for as long as its environment
  lives; when a new tree is made, trees beyond the ``KEEP`` most recently used that no one
  holds are removed.

Zips only (a directory given as a layer has no cheap content key: it is extracted per
run, as before). Where the cache cannot be written, the caller extracts per run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import stat
import time
from pathlib import Path

from . import package_rules

KEEP = 8  # trees kept beyond the ones in use: a few runtime edits, a few layer sets
_FORMAT = "1"  # part of the key: a change in how trees are made never reuses old ones
_ABANDONED_S = 3600  # a temporary folder this old was left by a run that died


def cache_root() -> Path:
    """$LAMBDABOOT_LAYER_CACHE, else ~/.cache/lambdaboot/layers (XDG_CACHE_HOME honoured)."""
    base = os.environ.get("LAMBDABOOT_LAYER_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lambdaboot" / "layers"


class Lease:
    """A tree in use: its ``/opt`` folder, held (shared lock) until ``release``."""

    def __init__(self, opt: Path, lock_fd: int) -> None:
        self.opt = opt
        self._fd: int | None = lock_fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def key(zips: list[Path]) -> str:
    digest = hashlib.sha256(f"trees {_FORMAT}\n".encode())
    for path in zips:
        with open(path, "rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()[:24]


def lease(listings: list[package_rules.Listing], root: Path | None = None) -> Lease:
    """The merged tree of ``listings`` (zips, in attach order), made if missing or stale.
    ``OSError`` when the cache cannot be used (the caller then extracts per run);
    ``PackageError`` when a layer cannot be extracted safely."""
    trees = (root or cache_root()) / "trees"
    trees.mkdir(parents=True, exist_ok=True)
    name = key([listing.path for listing in listings])
    for _attempt in range(5):
        held = _hold(trees / name)
        if held is not None:
            return held
        if _make(trees, name, listings):
            _prune(trees, keep_also=name)
    raise OSError(f"{trees / name}: the layer tree kept changing while it was being used")


def _hold(folder: Path) -> Lease | None:
    """A lease on ``folder``'s tree if it is there and intact; a stale one is set aside."""
    try:
        fd = os.open(folder / "lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_ino != os.stat(folder / "lock").st_ino:
            raise FileNotFoundError  # pruned or replaced while we waited for the lock
        record = json.loads((folder / "record.json").read_text())
        if record != fingerprint(folder / "opt"):
            os.close(fd)
            _set_aside(folder)
            return None
        os.utime(folder / "lock")  # last use, for pruning
    except (FileNotFoundError, NotADirectoryError, ValueError):
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Lease(folder / "opt", fd)


def fingerprint(opt: Path) -> dict[str, list[object]]:
    """Every entry under ``opt`` (itself as ``.``), not following links: what must not
    change between the tree's making and its use."""
    found = {".": _entry(os.fspath(opt))}
    for dirpath, dirnames, filenames in os.walk(opt):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, opt)] = _entry(path)
    return found


def _entry(path: str) -> list[object]:
    st = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    return [st.st_mode, size, target, st.st_ino, st.st_ctime_ns]


def _make(trees: Path, name: str, listings: list[package_rules.Listing]) -> bool:
    """Make the tree in a temporary folder and rename it into place; False when another
    run's tree got there first (ours is removed)."""
    staging = trees / f".tmp-{name}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        opt = staging / "opt"
        opt.mkdir()
        for listing in listings:
            package_rules.extract(listing, opt)
        package_rules.check_links_inside(opt)
        make_read_only(opt)
        (staging / "record.json").write_text(json.dumps(fingerprint(opt)))
        (staging / "lock").touch()
        try:
            staging.rename(trees / name)
        except OSError:  # ENOTEMPTY/EEXIST: a concurrent run's tree is in place
            return False
        return True
    finally:
        if staging.exists():
            remove_tree(staging)


def _set_aside(folder: Path) -> None:
    """Move a stale tree out of the way (atomic); runs still holding it keep their copy,
    and pruning removes it once none does."""
    with contextlib.suppress(FileNotFoundError):
        folder.rename(folder.with_name(f".stale-{folder.name}-{secrets.token_hex(4)}"))


def _prune(trees: Path, keep_also: str) -> None:
    """Remove what no run holds: set-aside trees, abandoned temporary folders, and trees
    beyond the ``KEEP`` most recently used."""
    now = time.time()
    kept: list[tuple[float, Path]] = []
    for entry in trees.iterdir():
        if entry.name.startswith(".tmp-"):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > _ABANDONED_S:
                    remove_tree(entry)
        elif entry.name.startswith(".stale-"):
            _remove_unheld(entry)
        elif entry.name != keep_also:
            with contextlib.suppress(OSError):
                kept.append(((entry / "lock").stat().st_mtime, entry))
    kept.sort(reverse=True)
    for _used, entry in kept[KEEP:]:
        _remove_unheld(entry)


def _remove_unheld(folder: Path) -> None:
    try:
        fd = os.open(folder / "lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        remove_tree(folder)  # no lock: never complete, or half removed
        return
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)  # in use
        return
    try:
        doomed = folder
        if not folder.name.startswith(".stale-"):
            doomed = folder.with_name(f".stale-{folder.name}-{secrets.token_hex(4)}")
            folder.rename(doomed)  # under the lock: a waiting run sees its lock file gone
        remove_tree(doomed)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_read_only(root: Path) -> None:
    """Write bits off (links have none of their own): what Lambda's read-only mounts give."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def remove_tree(path: Path) -> None:
    """``rmtree`` for trees made read-only (their folders given back their write bit)."""
    for sub in [path, *path.rglob("*")]:
        if not sub.is_symlink() and sub.is_dir():
            with contextlib.suppress(OSError):
                os.chmod(sub, 0o755)
    shutil.rmtree(path, ignore_errors=True)
