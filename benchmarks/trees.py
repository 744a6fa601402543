"""Another version of the code to measure against, named so that a fresh clone can remake it.

A before/after figure is only reproducible if its "before" can be made again: ``git:REV``
(e.g. ``git:311b823^``) is the tree of that commit, exported with ``git archive`` into a
temporary folder removed at exit; anything else is a folder holding another checkout.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.environments import REPO

PREFIX = "git:"


class TreeError(ValueError):
    """A tree that cannot be had: the message says what to give instead."""


def export_tree(spec: str) -> Path:
    """The folder of ``spec``: a ``git:REV`` exported from this repository, or a folder."""
    if not spec.startswith(PREFIX):
        return Path(spec).resolve()
    rev = spec[len(PREFIX) :]
    folder = Path(tempfile.mkdtemp(prefix="lambdaboot-tree-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", rev],
            capture_output=True,
            check=True,
            timeout=120,
        )
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        reason = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(error)]
        raise TreeError(
            f"{spec}: cannot export commit {rev!r} from this repository ({reason[0]});"
            " give a commit of its history (a full, not shallow, clone) or a checkout's folder"
        ) from None
    return folder
