"""Merged /opt trees kept between runs (``local_lambda.layer_trees``): made once per content of
the layer zips, reused without extracting again, rebuilt when tampered with, safe when two
runs race, pruned when stale."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from local_lambda import layer_trees
from local_lambda.layers import prepare
from tests.conftest import REPO, write_function
from tests.local_lambda.test_extensions_kit import make_layer


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("LAMBDABOOT_LAYER_CACHE", str(root))
    return root


@pytest.fixture
def function(tmp_path: Path) -> Path:
    return write_function(tmp_path / "fn", {"app.py": "def handler(e, c):\n    return e\n"})


def _layer(tmp_path: Path, text: str) -> Path:
    return make_layer(
        tmp_path / f"layer-{text}.zip", {"python/mod.py": f"V = {text!r}\n", "data/x.txt": text}
    )


def _writable(path: Path) -> None:
    path.chmod(0o755)


def test_the_second_run_reuses_the_tree_without_extracting(
    cache: Path, function: Path, tmp_path: Path
) -> None:
    layer = _layer(tmp_path, "one")
    first = prepare(function, [layer], "python3.12", mode="directories")
    assert first.opt_host is not None and first.opt_host.is_relative_to(cache / "trees")
    module = first.opt_host / "python" / "mod.py"
    before = os.stat(module)
    assert not before.st_mode & 0o222  # read-only, as Lambda's /opt
    second = prepare(function, [layer], "python3.12", mode="directories")
    assert second.opt_host == first.opt_host
    after = os.stat(module)  # the same file, untouched: not extracted again
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    assert module.read_text() == "V = 'one'\n"


def test_a_changed_zip_gets_a_new_tree(cache: Path, function: Path, tmp_path: Path) -> None:
    layer = _layer(tmp_path, "one")
    old = prepare(function, [layer], "python3.12", mode="directories").opt_host
    make_layer(layer, {"python/mod.py": "V = 'two'\n", "data/x.txt": "two"})  # same path
    new = prepare(function, [layer], "python3.12", mode="directories").opt_host
    assert new is not None and old is not None and new != old
    assert (new / "python" / "mod.py").read_text() == "V = 'two'\n"


@pytest.mark.parametrize("tamper", ["delete a file", "plant a link", "rewrite a file"])
def test_a_tampered_tree_is_rebuilt_not_trusted(
    cache: Path, function: Path, tmp_path: Path, tamper: str
) -> None:
    layer = _layer(tmp_path, "one")
    opt = prepare(function, [layer], "python3.12", mode="directories").opt_host
    assert opt is not None
    data = opt / "data"
    _writable(data)
    if tamper == "delete a file":
        (data / "x.txt").unlink()
    elif tamper == "plant a link":
        (data / "escape").symlink_to("/")
    else:  # same size, times put back: only the ctime tells
        st = os.stat(data / "x.txt")
        (data / "x.txt").chmod(0o644)
        (data / "x.txt").write_text("eno")
        os.utime(data / "x.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    data.chmod(0o555)
    again = prepare(function, [layer], "python3.12", mode="directories").opt_host
    assert again == opt  # rebuilt in the same place, the tampered one set aside
    assert sorted(p.name for p in (again / "data").iterdir()) == ["x.txt"]
    assert (again / "data" / "x.txt").read_text() == "one"


def test_two_runs_racing_both_get_a_whole_tree(cache: Path, tmp_path: Path) -> None:
    """Two processes released at once on an empty cache: each ends with the complete tree
    (one of them made it; the other's copy lost the rename and was removed)."""
    files = {f"python/pkg/m{n}.py": f"N = {n}\n" * 200 for n in range(300)}
    layer = make_layer(tmp_path / "big.zip", files)
    script = textwrap.dedent(
        f"""
        import sys, time, zipfile
        from pathlib import Path
        from local_lambda import layer_trees, package_rules
        listing = package_rules.read(Path({str(layer)!r}))
        while time.time() < float(sys.argv[1]):
            pass
        lease = layer_trees.lease([listing])
        with zipfile.ZipFile({str(layer)!r}) as archive:
            ok = all((lease.opt / i.filename).read_bytes() == archive.read(i)
                     for i in archive.infolist())
        print(lease.opt, ok)
        """
    )
    start = f"{time.time() + 2:.3f}"
    env = {**os.environ, "LAMBDABOOT_LAYER_CACHE": str(cache)}
    command = [sys.executable, "-c", script, start]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs[0] == outputs[1] and outputs[0][1] == "True", outputs
    assert [p.name for p in (cache / "trees").iterdir()] == [Path(outputs[0][0]).parent.name]


def test_stale_trees_are_pruned_unless_in_use(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local_lambda import package_rules

    monkeypatch.setattr(layer_trees, "KEEP", 1)
    listings = [package_rules.read(_layer(tmp_path, str(n))) for n in range(4)]
    held = layer_trees.lease([listings[0]])  # still in use (an environment lives on it)
    os.utime(cache / "trees" / layer_trees.key([listings[0].path]) / "lock", (0, 0))  # oldest
    for n, listing in enumerate(listings[1:], 1):
        layer_trees.lease([listing]).release()
        os.utime(cache / "trees" / layer_trees.key([listing.path]) / "lock", (n, n))
    kept = sorted(p.name for p in (cache / "trees").iterdir())
    names = [layer_trees.key([listing.path]) for listing in listings]
    # the newest (just made), the one before it (KEEP = 1), and the held one; 1 is pruned
    assert kept == sorted([names[0], names[2], names[3]])
    assert (held.opt / "data" / "x.txt").read_text() == "0"
    held.release()
