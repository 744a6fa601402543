"""Crafted zips: nothing is ever written outside the extraction folder, and ``lambdaboot
check`` refuses exactly what the local Lambda refuses (one set of rules, package_rules)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from local_lambda import package_rules
from local_lambda.layers import LayerError, prepare

LAMBDABOOT = str(Path(sys.executable).parent / "lambdaboot")
FILE, DIR, LINK = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755, stat.S_IFLNK | 0o777


def crafted(path: Path, entries: list[tuple[str, int, bytes]]) -> Path:
    """A zip holding exactly ``entries`` (name, Unix mode with its type bits, content)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, mode, data in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix: the mode in external_attr is meant
            info.external_attr = mode << 16
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile warns of duplicate names: the point here
                zf.writestr(info, data)
    return path


# name of the case -> (entries, what the one-line refusal says)
HOSTILE: dict[str, tuple[list[tuple[str, int, bytes]], str]] = {
    "dotdot": ([("../escape.txt", FILE, b"x")], "unsafe entry '../escape.txt'"),
    "dotdot inside": ([("a/../../escape.txt", FILE, b"x")], "unsafe entry"),
    "absolute": ([("/tmp/evil.txt", FILE, b"x")], "unsafe entry '/tmp/evil.txt'"),
    "absolute link": ([("lib", LINK, b"/etc")], "link lib -> /etc points outside the layer"),
    "link climbing out": (
        [("lib/libc.so", LINK, b"../../etc/passwd")],
        "link lib/libc.so -> ../../etc/passwd points outside the layer",
    ),
    # The chain of the issue: the first link climbs back to the root (allowed on its own),
    # the second goes down through it and up once more; then a file is written through it.
    "chained links": (
        [
            ("a/b/up", LINK, b"../.."),
            ("esc", LINK, b"a/b/up/.."),
            ("esc/evil.txt", FILE, b"x"),
        ],
        "link esc -> a/b/up/.. points outside the layer",
    ),
    "link then a file under it": (
        [("sub/", DIR, b""), ("lib", LINK, b"sub"), ("lib/x.so", FILE, b"x")],
        "lib/x.so is under the link lib",
    ),
    "link loop": ([("a", LINK, b"b"), ("b", LINK, b"a")], "link a -> b points outside"),
    "fifo": ([("pipe", stat.S_IFIFO | 0o644, b"")], "'pipe' is a FIFO"),
    "character device": (
        [("null", stat.S_IFCHR | 0o666, b"")],
        "'null' is a character device",
    ),
    "block device": ([("disk", stat.S_IFBLK | 0o666, b"")], "is a block device"),
    "socket": ([("sock", stat.S_IFSOCK | 0o666, b"")], "is a socket"),
    "duplicate": ([("a.txt", FILE, b"1"), ("a.txt", FILE, b"2")], "'a.txt' appears twice"),
    "duplicate after normalising": (
        [("d/a.txt", FILE, b"1"), ("./d//a.txt", FILE, b"2")],
        "'d/a.txt' appears twice",
    ),
}


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A destination folder and, beside it, a folder nothing may touch."""
    dest, outside = tmp_path / "box" / "dest", tmp_path / "box"
    dest.mkdir(parents=True)
    return dest, outside


def _outside_untouched(outside: Path, dest: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["dest"]
    assert not Path("/tmp/evil.txt").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zips_are_refused_by_the_local_lambda_and_by_check(
    tmp_path: Path, sandbox: tuple[Path, Path], case: str
) -> None:
    entries, message = HOSTILE[case]
    layer = crafted(tmp_path / "layer.zip", entries)
    dest, outside = sandbox
    function = tmp_path / "fn"
    function.mkdir()
    (function / "app.py").write_text("def handler(e, c):\n    return 1\n")

    with pytest.raises(LayerError) as refused:
        prepare(function, [layer], "python3.12", mode="directories")
    assert message in str(refused.value)
    with pytest.raises(package_rules.PackageError) as raised:
        package_rules.extract(package_rules.read(layer), dest)
    assert message in str(raised.value)
    _outside_untouched(outside, dest)

    checked = subprocess.run(
        [LAMBDABOOT, "check", str(function_zip(tmp_path)), str(layer)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"problem: {layer}: " in checked.stdout and message in checked.stdout
    assert "Traceback" not in checked.stderr


def function_zip(tmp_path: Path) -> Path:
    path = tmp_path / "function.zip"
    if not path.exists():
        crafted(path, [("app.py", FILE, b"def handler(e, c):\n    return 1\n")])
    return path


def test_extract_never_writes_through_a_link_even_when_the_listing_was_not_checked(
    sandbox: tuple[Path, Path], tmp_path: Path
) -> None:
    """The writer's own guard (O_NOFOLLOW on every folder), behind the listing's checks."""
    dest, outside = sandbox
    layer = crafted(tmp_path / "l.zip", [("up", LINK, b".."), ("up/evil.txt", FILE, b"x")])
    unchecked = package_rules._read_zip(layer)  # the entries, not validated
    with pytest.raises(package_rules.PackageError, match="under the link up"):
        package_rules.extract(unchecked, dest)
    _outside_untouched(outside, dest)


def test_a_later_layer_cannot_write_under_or_redirect_an_earlier_layers_link(
    tmp_path: Path,
) -> None:
    function = tmp_path / "fn"
    function.mkdir()
    first = crafted(tmp_path / "first.zip", [("d/", DIR, b""), ("esc", LINK, b"d/..")])
    second = crafted(tmp_path / "second.zip", [("d", LINK, b".")])  # esc now leaves /opt
    with pytest.raises(LayerError, match=re.escape("/opt/esc -> d/.. points outside /opt")):
        prepare(function, [first, second], "python3.12", mode="directories")
    third = crafted(tmp_path / "third.zip", [("esc/x.txt", FILE, b"x")])
    with pytest.raises(LayerError, match=re.escape("esc/x.txt is under the link esc")):
        prepare(function, [first, third], "python3.12", mode="directories")
    checked = subprocess.run(
        [LAMBDABOOT, "check", str(function_zip(tmp_path)), str(first), str(second)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 1 and "/opt/esc -> d/.. points outside /opt" in checked.stdout


def test_safe_links_and_layering_still_work(tmp_path: Path) -> None:
    function = tmp_path / "fn"
    function.mkdir()
    first = crafted(
        tmp_path / "first.zip",
        [
            ("lib/libx.so.1", FILE, b"one"),
            ("lib/libx.so", LINK, b"libx.so.1"),
            ("python/mod.py", FILE, b"a = 1\n"),
            ("bin/tool", stat.S_IFREG | 0o755, b"#!/bin/sh\n"),
        ],
    )
    second = crafted(tmp_path / "second.zip", [("python/mod.py", FILE, b"a = 2\n")])
    fs = prepare(function, [first, second], "python3.12", mode="directories")
    assert fs.opt_host is not None
    assert (fs.opt_host / "lib" / "libx.so").read_bytes() == b"one"
    assert (fs.opt_host / "python" / "mod.py").read_text() == "a = 2\n"
    assert os.access(fs.opt_host / "bin" / "tool", os.X_OK)


def test_a_function_over_250_mb_unzipped_is_refused_as_lambda_does(tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("data.bin")
        info.external_attr = FILE << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            chunk = bytes(1024 * 1024)
            for _ in range(251):
                out.write(chunk)
    with pytest.raises(LayerError, match=re.escape("over Lambda's 250.0 MB")):
        prepare(big, [], None)
    invoked = subprocess.run(
        [LAMBDABOOT, "invoke", str(big), "--runtime", "python3.12", "--event", "{}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert invoked.returncode == 2 and "over Lambda's 250.0 MB" in invoked.stderr
    assert "Traceback" not in invoked.stderr
    checked = subprocess.run(
        [LAMBDABOOT, "check", str(big)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 1 and "over Lambda's 250.0 MB" in checked.stdout
