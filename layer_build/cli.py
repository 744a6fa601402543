"""``lambdaboot build|check``: the layer and package tools' command line (the fleet tools,
``publish``, ``rollout`` and ``drift``, register from ``fleet_cli``)."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from layer_build.errors import BuildError
from layer_build.targets import (
    ARCHES,
    DEFAULT_PYTHON,
    MANAGED_OS,
    MODES,
    OSES,
    PYTHONS,
    Target,
    parse_glibc,
)
from layer_build.wheels import RUNTIME_LOCK, default_cache


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = subparsers.add_parser(
        "build", help="build the runtime layer or a function package (zip + manifest)"
    )
    b.add_argument("--arch", action="append", choices=ARCHES, help="repeatable; default x86_64")
    b.add_argument(
        "--python", action="append", choices=PYTHONS, help=f"repeatable; default {DEFAULT_PYTHON}"
    )
    b.add_argument(
        "--os",
        action="append",
        choices=OSES,
        help="repeatable; default: the managed runtime's OS for the Python (al2023 for 3.12+)",
    )
    b.add_argument(
        "--mode",
        choices=MODES,
        default="managed",
        help="managed: exec wrapper for python3.x runtimes; provided: embeds --python-dist",
    )
    b.add_argument(
        "--python-dist", type=Path, help="python-build-standalone install_only tarball or directory"
    )
    b.add_argument("--glibc", help="admit native code needing this newer glibc (e.g. 2.35)")
    b.add_argument(
        "--function", type=Path, help="build this function directory instead of the layer"
    )
    b.add_argument(
        "-r", "--requirements", type=Path, help="the function's requirements (with --function)"
    )
    b.add_argument(
        "--extension", action="append", type=Path, default=[], help="file to extensions/"
    )
    b.add_argument(
        "--include", action="append", default=[], metavar="SRC:DEST", help="extra file or directory"
    )
    b.add_argument(
        "--binary", action="append", type=Path, default=[], help="native executable to bin/"
    )
    b.add_argument(
        "--lib-path",
        action="append",
        type=Path,
        default=[],
        help="where --binary's own shared libraries are",
    )
    b.add_argument(
        "--out",
        type=Path,
        default=Path("dist"),
        help="folder for the zips and manifests (default dist)",
    )
    b.add_argument("--wheel-cache", type=Path, default=None, help=f"default {default_cache()}")
    b.add_argument("--lock", type=Path, default=RUNTIME_LOCK, help="the runtime's hashed lock file")
    b.add_argument(
        "--compile-python", type=Path, help="interpreter of the target version to compile with"
    )
    b.set_defaults(func=_build)

    c = subparsers.add_parser(
        "check", help="check a function zip and its layers against Lambda's limits"
    )
    c.add_argument("function", type=Path, help="the function's zip")
    c.add_argument("layers", type=Path, nargs="*", help="its layers' zips, in attach order")
    c.add_argument("--runtime", help="the function's runtime, e.g. provided.al2023 or python3.12")
    c.add_argument("--arch", choices=ARCHES, help="the function's architecture")
    c.set_defaults(func=_check)

    from layer_build.fleet_cli import register as register_fleet

    register_fleet(subparsers)


def _fail(command: str, exc: BuildError) -> int:
    print(f"lambdaboot {command}: {exc}", file=sys.stderr)
    return 2


def targets(args: argparse.Namespace) -> list[Target]:
    glibc = parse_glibc(args.glibc) if args.glibc else None
    mode = "provided" if args.function else args.mode
    found = []
    for arch, python in itertools.product(args.arch or ["x86_64"], args.python or [DEFAULT_PYTHON]):
        for os_name in args.os or [MANAGED_OS[python]]:
            found.append(Target(arch=arch, python=python, os=os_name, mode=mode, glibc=glibc))
    return found


def _build(args: argparse.Namespace) -> int:
    from layer_build.build import Options, build
    from layer_build.manifest import publish_line

    try:
        options = Options(
            out=args.out,
            python_dist=args.python_dist,
            compile_python=args.compile_python,
            extensions=args.extension,
            includes=args.include,
            binaries=args.binary,
            lib_paths=args.lib_path,
            lock=args.lock,
            function=args.function,
            requirements=args.requirements,
        )
        if args.wheel_cache:
            options.cache = args.wheel_cache
        if args.requirements and not args.function:
            raise BuildError(
                "-r goes with --function: the layer's own dependencies come from --lock"
            )
        for target in targets(args):
            result = build(target, options)
            for warning in result.warnings:
                print(f"lambdaboot build: warning: {warning}", file=sys.stderr)
            m = result.manifest
            print(
                f"{result.zip}  {m['zipped_size']} bytes zipped, "
                f"{m['unzipped_size']} unzipped, sha256 {m['sha256']}"
            )
            if m["kind"] == "layer":  # the manifest's command, with a path that works anywhere
                print(f"  publish it: {publish_line(result.zip.with_suffix('.json'))}")
    except BuildError as exc:
        return _fail("build", exc)
    return 0


def _check(args: argparse.Namespace) -> int:
    from layer_build.check import check

    try:
        report = check(args.function, args.layers, runtime=args.runtime, arch=args.arch)
    except BuildError as exc:
        return _fail("check", exc)
    for note in report.notes:
        print(note)
    for problem in report.problems:
        print(f"problem: {problem}")
    print("ok" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1
