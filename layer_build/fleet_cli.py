"""``lambdaboot publish|rollout|drift``: the fleet tools' command line.

All three take the same AWS options (``layer_build.aws``). Exit status: 0 when all went
well, 1 when something in the fleet failed or drifts (every outcome is still printed),
2 for bad input or an AWS failure before anything started (one line on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from layer_build.aws import add_aws_arguments, aws_errors, aws_options, targets
from layer_build.errors import BuildError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "publish", help="publish a built layer to regions and accounts (idempotent)"
    )
    p.add_argument(
        "zip",
        type=Path,
        metavar="MANIFEST|ZIP",
        help="a layer's manifest (.json) made by lambdaboot build, or its zip; each is found"
        " beside the other, whatever the working directory",
    )
    p.add_argument("--layer-name", help="default: the manifest's name")
    p.add_argument("--description", default="", help="the layer version's description")
    p.add_argument(
        "--license-info", default="Apache-2.0", help="the layer's license (default Apache-2.0)"
    )
    p.add_argument(
        "--grant-account", action="append", default=[], help="share with this account id"
    )
    p.add_argument("--grant-org", help="share with this organization id")
    p.add_argument("--public", action="store_true", help="share with every AWS account")
    p.add_argument(
        "--s3-bucket",
        action="append",
        default=[],
        metavar="BUCKET|REGION=BUCKET",
        help="upload through S3 (needed over 50 MB): a name with {region}, or one per region",
    )
    p.add_argument("--s3-prefix", default="lambdaboot-layers", help="key prefix in the bucket")
    p.add_argument("--force", action="store_true", help="publish even if the bytes are there")
    p.add_argument(
        "--versions-out", type=Path, help="write each region's outcome and version here (JSON)"
    )
    add_aws_arguments(p)
    p.set_defaults(func=_publish)

    r = subparsers.add_parser(
        "rollout", help="move every function using a layer to a version of it (or none)"
    )
    r.add_argument("layer", nargs="?", metavar="LAYER", help="the layer's name or unversioned ARN")
    r.add_argument(
        "--to",
        default="latest",
        metavar="VERSION|latest|FILE",
        help="the version: a number, latest (default), or a --versions-out file of publish",
    )
    _selection_arguments(r)
    r.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    r.add_argument("--plan-out", type=Path, help="save the plan (implies --dry-run)")
    r.add_argument("--plan", type=Path, help="apply a plan saved with --plan-out")
    r.add_argument("--concurrency", type=int, default=1, metavar="N", help="N updates at once")
    r.add_argument(
        "--publish", action="store_true", help="publish a function version after each update"
    )
    r.add_argument(
        "--alias",
        action="append",
        default=[],
        help="with --publish: move this alias to the new version (repeatable)",
    )
    r.add_argument(
        "--canary",
        type=int,
        default=0,
        metavar="N",
        help="update N functions first and invoke each; go on only if none failed",
    )
    r.add_argument("--canary-event", default="{}", help="the canary's event, as JSON text")
    r.add_argument("--canary-event-file", type=Path, help="the canary's event, from a file")
    r.add_argument(
        "--canary-qualifier", help="invoke this alias or version (default: the new version)"
    )
    r.add_argument(
        "--invoke-endpoint-url", help="where canary invocations go (default --endpoint-url)"
    )
    r.add_argument("--report", type=Path, help="write the run's JSON report here")
    add_aws_arguments(r)
    r.set_defaults(func=_rollout)

    d = subparsers.add_parser(
        "drift", help="list functions on an older version of a layer (exit 1 if any)"
    )
    d.add_argument("layer", metavar="LAYER", help="the layer's name or unversioned ARN")
    d.add_argument(
        "--expect",
        default="latest",
        metavar="VERSION|latest|FILE",
        help="the version functions should use (default: the latest in each region)",
    )
    _selection_arguments(d)
    add_aws_arguments(d)
    d.set_defaults(func=_drift)


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--function", action="append", default=[], help="only this function (repeatable)"
    )
    parser.add_argument(
        "--match", action="append", default=[], metavar="GLOB", help="only names matching GLOB"
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="K=V", help="only functions with this tag"
    )


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input and AWS failures before the work starts: one line, exit status 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            with aws_errors():
                return command(args)
        except BuildError as exc:
            print(f"lambdaboot {args.command}: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"lambdaboot {args.command}: interrupted", file=sys.stderr)
            return 130

    return run


def _selection(args: argparse.Namespace) -> Any:
    from layer_build.fleet import Selection

    tags = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BuildError(f"--tag {item!r}: write KEY=VALUE")
        tags[key] = value
    return Selection(names=args.function, globs=args.match, tags=tags)


def _targets(args: argparse.Namespace, regions: list[str]) -> list[Any]:
    """The targets of the AWS options; without ``--region``, the regions the versions file
    (or saved plan) names come before the AWS configuration's one: they are where the work is."""
    options = aws_options(args)
    if not options.regions and regions:
        options = dataclasses.replace(options, regions=regions)
    return targets(options)


def _check_outputs(*paths: Path | None) -> None:
    """An output file that cannot be written fails before any work, not after it."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            raise BuildError(f"{path}: its folder {path.parent} does not exist")


def _emit(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in lines:
            print(line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@_guarded
def _publish(args: argparse.Namespace) -> int:
    from layer_build.live import LiveLines
    from layer_build.publish import Sharing, load_layer, publish, versions_json, write_versions

    layer = load_layer(
        args.zip,
        args.layer_name,
        s3_buckets=args.s3_bucket,
        s3_prefix=args.s3_prefix,
        description=args.description,
        license_info=args.license_info,
        sharing=Sharing(args.grant_account, args.grant_org, args.public),
        force=args.force,
    )
    _check_outputs(args.versions_out)
    found = targets(aws_options(args))
    accounts = len({t.account for t in found})
    with LiveLines([t.label(accounts) for t in found]) as live:
        outcomes = publish(layer, found, live)
    if args.versions_out:
        write_versions(outcomes, args.versions_out)
    data = versions_json(outcomes)
    _emit(args, data, [f"{label}: {o.line()}" for label, o in zip(data, outcomes, strict=True)])
    return 1 if any(o.status == "failed" for o in outcomes) else 0


@_guarded
def _rollout(args: argparse.Namespace) -> int:
    from layer_build.fleet import VersionSpec
    from layer_build.live import LiveLines
    from layer_build.rollout import (
        ApplyOptions,
        Plan,
        apply,
        make_plan,
        plan_lines,
        report_json,
        result_line,
    )

    if args.plan and (args.layer or args.plan_out):
        raise BuildError("--plan applies a saved plan: give neither LAYER nor --plan-out with it")
    if not args.plan and not args.layer:
        raise BuildError("give the LAYER to roll out (its name or unversioned ARN), or --plan FILE")
    if args.alias and not args.publish:
        raise BuildError("--alias moves aliases to the version --publish makes: add --publish")
    if args.concurrency < 1 or args.canary < 0:
        raise BuildError("--concurrency is at least 1 and --canary at least 0")
    event = args.canary_event_file.read_bytes() if args.canary_event_file else args.canary_event
    event_bytes = event.encode() if isinstance(event, str) else event
    try:
        json.loads(event_bytes)
    except ValueError:
        raise BuildError("the canary event is not JSON") from None
    _check_outputs(args.plan_out, args.report)
    if args.plan:
        try:
            plan = Plan.from_json(json.loads(args.plan.read_text()))
        except (OSError, ValueError) as exc:
            raise BuildError(f"--plan {args.plan}: {exc}") from None
        found = _targets(args, sorted({c.region for c in plan.changes}))
    else:
        to = VersionSpec.parse(args.to)
        found = _targets(args, to.regions)
        plan = make_plan(args.layer, to, found, _selection(args))
    dry = args.dry_run or bool(args.plan_out)
    if args.plan_out:
        args.plan_out.write_text(json.dumps(plan.as_json(), indent=2) + "\n")
    if not args.json:
        for line in plan_lines(plan) or [f"no function uses {plan.layer} here"]:
            print(("plan: " if not dry else "") + line)
    applied = None
    if not dry:
        options = ApplyOptions(
            concurrency=args.concurrency,
            publish=args.publish,
            aliases=args.alias,
            canary=args.canary,
            canary_event=event_bytes,
            canary_qualifier=args.canary_qualifier,
            invoke_endpoint_url=args.invoke_endpoint_url,
        )
        by_key = {(t.account, t.region): t for t in found}
        signal.signal(signal.SIGTERM, _interrupt)  # a cancelled CI job rolls back too
        keys = [
            f"{c.account}/{c.region} {c.function}" for c in plan.changes if c.action == "update"
        ]
        with LiveLines(keys) as live:
            applied = apply(
                plan,
                by_key,
                options,
                lambda c, text: live.set(f"{c.account}/{c.region} {c.function}", text),
            )
    report = report_json(plan, applied)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    elif applied is not None:
        for c in plan.changes:
            print(result_line(c))
        print("rollout complete" if applied else "rollout stopped: changes rolled back")
    return 0 if applied is not False else 1


@_guarded
def _drift(args: argparse.Namespace) -> int:
    from layer_build.drift import find_drift
    from layer_build.fleet import VersionSpec

    expect = VersionSpec.parse(args.expect)
    findings = find_drift(args.layer, expect, _targets(args, expect.regions), _selection(args))
    drifting = [f for f in findings if f.drifts]
    summary = f"{len(drifting)} of {len(findings)} function qualifiers use an older {args.layer}"
    _emit(
        args,
        {
            "layer": args.layer,
            "drifts": bool(drifting),
            "findings": [f.as_json() for f in findings],
        },
        [f.line() for f in drifting] + [summary],
    )
    return 1 if drifting else 0
