"""``lambdaboot rollout`` end to end against moto's server, with canaries served by
``lambdaboot serve`` (moto cannot run function code here)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from layer_build.aws import AwsOptions, Target, targets
from layer_build.fleet import Selection, VersionSpec
from layer_build.rollout import ApplyOptions, Plan, apply, make_plan
from tests.conftest import write_function
from tests.fleet.conftest import (
    CREDENTIALS,
    REGION_ARGS,
    REGIONS,
    Fleet,
    client,
    fleet_cli,
    function_role,
    tiny_zip,
)

WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdaboot-wrapper"


@contextlib.contextmanager
def serving(task_root: Path, name: str, layer: Path) -> Iterator[str]:
    """``lambdaboot serve`` for one function with our layer, as the canary's invoke endpoint."""
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("lambdaboot")),
            "serve",
            str(task_root),
            "--name",
            name,
            "--layer",
            str(layer),
            "--runtime",
            "python3.12",
            "--env",
            WRAPPER,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # Invoke API: http://127.0.0.1:PORT/2015-03-31/...
        assert line.startswith("Invoke API: "), line
        yield line.split()[2].split("/2015-03-31/")[0]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _swapped(fleet: Fleet, region: str, short: str, new_arn: str) -> list[str]:
    """The function's original layer list with our entry replaced in place."""
    return [
        new_arn if arn.split(":")[6] == fleet.layer else arn
        for arn in fleet.layers[(region, short)]
    ]


def _report(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text())
    return {f"{c['region']} {c['function']}": c for c in data["changes"]} | {
        "_outcome": {"outcome": data["outcome"]}
    }


COMPATIBLE = [
    ("eu-west-1", "api"),
    ("eu-west-1", "billing"),
    ("eu-west-1", "worker"),
    ("us-east-2", "reports"),
]


def test_dry_run_prints_the_plan_and_changes_nothing(fleet: Fleet) -> None:
    fleet.publish_ours("VERSION = 3\n")
    done = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--to", "latest", "--dry-run", *REGION_ARGS
    )
    assert done.returncode == 0, done.stderr
    lines = {line.split(":")[0]: line for line in done.stdout.splitlines()}
    account = "123456789012"
    api = lines[f"{account}/eu-west-1 {fleet.fn('api')}"]
    # Other layers kept in their order, ours swapped in place.
    assert api.endswith(
        f"version 1 -> 3   layers: {fleet.prefix}-tracing:1, [{fleet.layer}:1 -> 3], "
        f"{fleet.prefix}-settings:1"
    )
    assert (
        lines[f"{account}/eu-west-1 {fleet.fn('worker')}"]
        .split(": ", 1)[1]
        .startswith("version 2 -> 3")
    )
    assert lines[f"{account}/eu-west-1 {fleet.fn('legacy')}"].endswith(
        "refused: runtime nodejs20.x is not among version 3's compatible runtimes (python3.12)"
    )
    assert lines[f"{account}/us-east-2 {fleet.fn('edge')}"].endswith(
        "refused: architecture arm64 is not among version 3's compatible architectures (x86_64)"
    )
    assert f"{account}/eu-west-1 {fleet.fn('plain')}" not in lines  # does not use the layer
    assert len(lines) == 6
    for (region, short), layers in fleet.layers.items():
        assert fleet.current_layers(region, short) == layers


def test_selection_by_name_glob_and_tag(fleet: Fleet) -> None:
    fleet.publish_ours("VERSION = 3\n")
    by_tag = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--dry-run", "--tag", "team=payments", *REGION_ARGS
    )
    assert by_tag.returncode == 0, by_tag.stderr
    assert [line.split(":")[0].split()[1] for line in by_tag.stdout.splitlines()] == [
        fleet.fn("billing")
    ]
    by_glob = fleet_cli(
        fleet.endpoint,
        "rollout",
        fleet.layer,
        "--dry-run",
        "--match",
        "*-api",
        "--json",
        *REGION_ARGS,
    )
    assert by_glob.returncode == 0, by_glob.stderr
    plan = json.loads(by_glob.stdout)
    assert [c["function"] for c in plan["changes"]] == [fleet.fn("api")]
    assert plan["outcome"] == "planned"
    missing = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--dry-run", "--function", "nope", *REGION_ARGS
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"lambdaboot rollout: --function nope: no such function uses layer {fleet.layer} "
        "in the regions and accounts given"
    )


def test_publish_over_s3_then_roll_out_with_a_canary_publish_and_alias(
    fleet: Fleet, built_layer: Path, function_dir: Path, tmp_path: Path
) -> None:
    for region in REGIONS:
        client(fleet.endpoint, "s3", region).create_bucket(
            Bucket=f"{fleet.prefix}-{region}",
            CreateBucketConfiguration={"LocationConstraint": region},
        )
    versions = tmp_path / "versions.json"
    published = fleet_cli(
        fleet.endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        fleet.layer,
        "--s3-bucket",
        f"{fleet.prefix}-{{region}}",
        "--versions-out",
        str(versions),
        *REGION_ARGS,
    )
    assert published.returncode == 0, published.stderr
    new = {region: entry["arn"] for region, entry in json.loads(versions.read_text()).items()}
    assert all(arn.endswith(f":{fleet.layer}:3") for arn in new.values())

    write_function(
        function_dir,
        {
            "app.py": """
                def handler(event, context):
                    return {"probe": event["probe"], "function": context.function_name}
            """
        },
    )
    report = tmp_path / "report.json"
    with serving(function_dir, fleet.fn("api"), built_layer) as invoke_url:
        done = fleet_cli(
            fleet.endpoint,
            "rollout",
            fleet.layer,
            "--to",
            str(versions),
            "--canary",
            "1",
            "--canary-event",
            '{"probe": 7}',
            # lambdaboot serve has only $LATEST (any other qualifier is a 404, as on AWS).
            "--canary-qualifier",
            "$LATEST",
            "--invoke-endpoint-url",
            invoke_url,
            "--concurrency",
            "2",
            "--publish",
            "--alias",
            "live",
            "--report",
            str(report),
            *REGION_ARGS,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("rollout complete")
    changes = _report(report)
    assert changes["_outcome"] == {"outcome": "applied"}
    assert changes[f"eu-west-1 {fleet.fn('api')}"]["canary"] == "ok"
    for region, short in COMPATIBLE:
        assert changes[f"{region} {fleet.fn(short)}"]["status"] == "updated"
        assert fleet.current_layers(region, short) == _swapped(fleet, region, short, new[region])
    # billing was behind its alias: the alias now points at a version with the new layer.
    billing = changes[f"eu-west-1 {fleet.fn('billing')}"]
    assert billing["aliases"] == {"live": ["1", "2"]}
    assert fleet.alias_version("eu-west-1", "billing", "live") == "2"
    assert fleet.current_layers("eu-west-1", "billing", "live") == [new["eu-west-1"]]
    for region, short in [("eu-west-1", "legacy"), ("us-east-2", "edge")]:
        assert changes[f"{region} {fleet.fn(short)}"]["status"] == "refused"
        assert fleet.current_layers(region, short) == fleet.layers[(region, short)]
    assert fleet.current_layers("eu-west-1", "plain") == fleet.layers[("eu-west-1", "plain")]


def test_a_failing_canary_stops_the_rollout_and_rolls_it_back(
    fleet: Fleet, built_layer: Path, function_dir: Path, tmp_path: Path
) -> None:
    fleet.publish_ours("VERSION = 3\n")
    write_function(
        function_dir,
        {
            "app.py": """
                def handler(event, context):
                    raise RuntimeError("canary says no")
            """
        },
    )
    report = tmp_path / "report.json"
    with serving(function_dir, fleet.fn("api"), built_layer) as invoke_url:
        done = fleet_cli(
            fleet.endpoint,
            "rollout",
            fleet.layer,
            "--canary",
            "1",
            "--invoke-endpoint-url",
            invoke_url,
            "--report",
            str(report),
            *REGION_ARGS,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rollout stopped: changes rolled back" in done.stdout
    changes = _report(report)
    assert changes["_outcome"] == {"outcome": "rolled back"}
    api = changes[f"eu-west-1 {fleet.fn('api')}"]
    assert api["status"] == "rolled back"
    assert api["canary"] == "Unhandled: RuntimeError: canary says no"
    for region, short in COMPATIBLE[1:]:
        assert changes[f"{region} {fleet.fn(short)}"]["status"] == "not started"
    for (region, short), layers in fleet.layers.items():  # exactly as before, every one
        assert fleet.current_layers(region, short) == layers


def test_a_function_deleted_between_plan_and_apply_stops_and_rolls_back(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.publish_ours("VERSION = 3\n")
    plan = tmp_path / "plan.json"
    planned = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--plan-out", str(plan), *REGION_ARGS
    )
    assert planned.returncode == 0, planned.stderr
    # Applied in the plan's order: api, billing, then worker (deleted now), then reports.
    fleet.lam("eu-west-1").delete_function(FunctionName=fleet.fn("worker"))
    report = tmp_path / "report.json"
    done = fleet_cli(
        fleet.endpoint,
        "rollout",
        "--plan",
        str(plan),
        "--publish",
        "--alias",
        "live",
        "--report",
        str(report),
        *REGION_ARGS,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    changes = _report(report)
    worker = changes[f"eu-west-1 {fleet.fn('worker')}"]
    assert (worker["status"], worker["detail"]) == ("failed", "deleted since the plan")
    for short in ("api", "billing"):
        assert changes[f"eu-west-1 {fleet.fn(short)}"]["status"] == "rolled back"
        assert fleet.current_layers("eu-west-1", short) == fleet.layers[("eu-west-1", short)]
    # The alias this run moved is back on the version it pointed at.
    assert changes[f"eu-west-1 {fleet.fn('billing')}"]["aliases"] == {"live": ["1", "2"]}
    assert fleet.alias_version("eu-west-1", "billing", "live") == "1"
    assert changes[f"us-east-2 {fleet.fn('reports')}"]["status"] == "not started"
    assert fleet.current_layers("us-east-2", "reports") == fleet.layers[("us-east-2", "reports")]
    lines = done.stdout.splitlines()
    assert f"123456789012/eu-west-1 {fleet.fn('worker')}: failed; deleted since the plan" in lines
    assert (
        f"123456789012/eu-west-1 {fleet.fn('api')}: rolled back to its previous layers; "
        "published version 1 (it stays)" in lines
    )
    assert (
        f"123456789012/eu-west-1 {fleet.fn('billing')}: rolled back to its previous layers; "
        "published version 2 (it stays); alias live back on 1"
    ) in lines


def test_a_function_changed_since_the_plan_is_not_overwritten(fleet: Fleet, tmp_path: Path) -> None:
    fleet.publish_ours("VERSION = 3\n")
    plan = tmp_path / "plan.json"
    planned = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--plan-out", str(plan), *REGION_ARGS
    )
    assert planned.returncode == 0, planned.stderr
    someone_else = [fleet.ours["eu-west-1"][1]]
    fleet.lam("eu-west-1").update_function_configuration(
        FunctionName=fleet.fn("billing"), Layers=someone_else
    )
    report = tmp_path / "report.json"
    done = fleet_cli(
        fleet.endpoint, "rollout", "--plan", str(plan), "--report", str(report), *REGION_ARGS
    )
    assert done.returncode == 1
    changes = _report(report)
    billing = changes[f"eu-west-1 {fleet.fn('billing')}"]
    assert billing["status"] == "failed"
    assert billing["detail"] == "changed since the plan (not overwritten): plan again"
    assert fleet.current_layers("eu-west-1", "billing") == someone_else
    assert changes[f"eu-west-1 {fleet.fn('api')}"]["status"] == "rolled back"
    assert fleet.current_layers("eu-west-1", "api") == fleet.layers[("eu-west-1", "api")]


def test_bad_rollout_input_is_one_line(fleet: Fleet, tmp_path: Path) -> None:
    garbage = tmp_path / "plan.json"
    garbage.write_text('{"nothing": 1}')
    cases = [
        (["rollout", "--plan", str(garbage), "--region", "eu-west-1"], "--plan"),
        (["rollout", fleet.layer, "--alias", "live", "--region", "eu-west-1"], "add --publish"),
        (["rollout", "--region", "eu-west-1"], "give the LAYER"),
        (["rollout", fleet.layer, "--to", "nine", "--region", "eu-west-1"], "--to/--expect 'nine'"),
        (["rollout", fleet.layer, "--canary-event", "{", "--region", "eu-west-1"], "not JSON"),
    ]
    for args, words in cases:
        done = fleet_cli(fleet.endpoint, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr


def _planned_in_process(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Target], Plan]:
    """Version 3 published, and the plan to it, made in this process so that botocore hooks
    can be put on the very clients ``apply`` will use."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    fleet.publish_ours("VERSION = 3\n")
    found = targets(AwsOptions(list(REGIONS), endpoint_url=fleet.endpoint))
    return found, make_plan(fleet.layer, VersionSpec.parse("latest"), found, Selection())


def test_the_third_update_refused_mid_rollout_rolls_back_the_first_two(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto accepts every update, so a botocore hook refuses the third one as Lambda does
    while another update is in progress; another hook reports each update InProgress once,
    so the run really waits on LastUpdateStatus."""
    from botocore.exceptions import ClientError

    found, plan = _planned_in_process(fleet, monkeypatch)
    calls = {"updates": 0, "in_progress": 0}

    def refuse_third(**kwargs: object) -> None:
        calls["updates"] += 1
        if calls["updates"] == 3:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ResourceConflictException",
                        "Message": "An update is in progress",
                    }
                },
                "UpdateFunctionConfiguration",
            )
        calls["in_progress"] = 1

    def in_progress_once(parsed: dict[str, object], **kwargs: object) -> None:
        if calls["in_progress"]:
            calls["in_progress"] = 0
            parsed["LastUpdateStatus"] = "InProgress"

    for target in found:
        events = target.client("lambda").meta.events
        events.register("before-call.lambda.UpdateFunctionConfiguration", refuse_third)
        events.register("after-call.lambda.GetFunctionConfiguration", in_progress_once)
    seen: list[tuple[str, str]] = []
    ok = apply(
        plan,
        {(t.account, t.region): t for t in found},
        ApplyOptions(update_timeout_s=60),
        lambda change, text: seen.append((change.function, text)),
    )
    assert ok is False
    status = {(c.region, c.function): (c.status, c.detail) for c in plan.changes}
    assert status[("eu-west-1", fleet.fn("worker"))] == (
        "failed",
        "UpdateFunctionConfiguration: ResourceConflictException: An update is in progress",
    )
    for short in ("api", "billing"):
        assert status[("eu-west-1", fleet.fn(short))] == ("rolled back", "")
        assert fleet.current_layers("eu-west-1", short) == fleet.layers[("eu-west-1", short)]
        assert (fleet.fn(short), "waiting (InProgress)") in seen
    assert status[("us-east-2", fleet.fn("reports"))][0] == "not started"
    for (region, short), layers in fleet.layers.items():
        assert fleet.current_layers(region, short) == layers


def test_an_interrupted_rollout_puts_back_what_it_changed(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM from a cancelled CI job, turned into the same) during the second
    update: the first function is rolled back, the others are left as they were."""
    found, plan = _planned_in_process(fleet, monkeypatch)
    updates = []

    def interrupt_second(**kwargs: object) -> None:
        updates.append(1)
        if len(updates) == 2:
            raise KeyboardInterrupt

    for target in found:
        target.client("lambda").meta.events.register(
            "before-call.lambda.UpdateFunctionConfiguration", interrupt_second
        )
    assert apply(plan, {(t.account, t.region): t for t in found}, ApplyOptions()) is False
    status = {c.function: c.status for c in plan.changes}
    assert status[fleet.fn("api")] == "rolled back"
    assert status[fleet.fn("reports")] == "not started"
    for (region, short), layers in fleet.layers.items():
        assert fleet.current_layers(region, short) == layers


def test_a_numbered_version_is_planned_as_given(fleet: Fleet) -> None:
    done = fleet_cli(fleet.endpoint, "rollout", fleet.layer, "--to", "2", "--dry-run", *REGION_ARGS)
    assert done.returncode == 0, done.stderr
    at = "123456789012/eu-west-1"
    lines = done.stdout.splitlines()
    assert f"{at} {fleet.fn('worker')}: already on version 2" in lines
    assert any(line.startswith(f"{at} {fleet.fn('api')}: version 1 -> 2 ") for line in lines)
    absent = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--to", "9", "--dry-run", "--region", "eu-west-1"
    )
    assert f"{at} {fleet.fn('api')}: refused: {fleet.layer} has no version 9 here" in absent.stdout


def test_a_versions_file_names_the_regions_when_no_region_is_given(
    fleet: Fleet, built_layer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs' sequence as written: publish --region A --region B --versions-out FILE,
    then rollout/drift --to/--expect FILE without --region act on A and B."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    versions = tmp_path / "versions.json"
    published = fleet_cli(
        fleet.endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        fleet.layer,
        "--versions-out",
        str(versions),
        *REGION_ARGS,
    )
    assert published.returncode == 0, published.stderr
    no_config = {"AWS_CONFIG_FILE": "/nonexistent"}
    plan = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--to", str(versions), "--dry-run", env=no_config
    )
    assert plan.returncode == 0, plan.stderr
    regions = {line.split()[0].split("/")[1] for line in plan.stdout.splitlines()}
    assert regions == set(REGIONS)
    drift = fleet_cli(
        fleet.endpoint, "drift", fleet.layer, "--expect", str(versions), env=no_config
    )
    assert drift.returncode == 1, drift.stderr
    assert f"123456789012/us-east-2 {fleet.fn('reports')}:$LATEST: version 1, 2 behind 3" in (
        drift.stdout
    )


def test_a_canary_goes_through_the_alias_where_the_function_has_it(fleet: Fleet) -> None:
    """moto cannot run code here (no Docker), so its invocations fail: a failing canary.
    Its recorder shows where each canary went: billing through its alias live, api (which
    has no such alias) through the version just published; both are rolled back."""
    import httpx

    fleet.publish_ours("VERSION = 3\n")
    recorder = f"{fleet.endpoint}/moto-api/recorder"
    httpx.post(f"{recorder}/reset-recording").raise_for_status()
    httpx.post(f"{recorder}/start-recording").raise_for_status()
    done = fleet_cli(
        fleet.endpoint,
        "rollout",
        fleet.layer,
        "--match",
        "*-api",
        "--match",
        "*-billing",
        "--canary",
        "2",
        "--canary-qualifier",
        "live",
        "--publish",
        "--alias",
        "live",
        "--region",
        "eu-west-1",
    )
    httpx.post(f"{recorder}/stop-recording").raise_for_status()
    assert done.returncode == 1, done.stdout + done.stderr
    recording = httpx.get(f"{recorder}/download-recording").text
    invoked = sorted(
        json.loads(line)["url"].split("/functions/")[1]
        for line in recording.splitlines()
        if line.strip() and "/invocations" in line
    )
    assert invoked == [
        f"{fleet.fn('api')}/invocations?Qualifier=1",
        f"{fleet.fn('billing')}/invocations?Qualifier=live",
    ]
    for short in ("api", "billing"):
        assert fleet.current_layers("eu-west-1", short) == fleet.layers[("eu-west-1", short)]
    assert fleet.alias_version("eu-west-1", "billing", "live") == "1"


def test_a_versions_file_of_two_accounts_gives_each_account_its_own_number(
    moto_endpoint: str, built_layer: Path, tmp_path: Path
) -> None:
    """Published through two roles into eu-west-1, the layer is version 1 in one account and
    2 in the other (which had a version already): the function in the second account is
    planned to its account's 2, never to the other account's 1."""
    sts = client(moto_endpoint, "sts", "eu-west-1")
    roles = ["arn:aws:iam::111122223333:role/deployer", "arn:aws:iam::999988887777:role/deployer"]
    assumed = sts.assume_role(RoleArn=roles[0], RoleSessionName="setup")["Credentials"]
    mine = {
        "key": assumed["AccessKeyId"],
        "secret": assumed["SecretAccessKey"],
        "token": assumed["SessionToken"],
    }
    lam = client(moto_endpoint, "lambda", "eu-west-1", **mine)
    old = lam.publish_layer_version(LayerName="multi-rt", Content={"ZipFile": tiny_zip("0")})
    lam.create_function(
        FunctionName="two-accounts",
        Runtime="python3.12",
        Role=function_role(moto_endpoint, **mine),
        Handler="app.handler",
        Code={"ZipFile": tiny_zip("x")},
        Layers=[old["LayerVersionArn"]],
    )
    versions = tmp_path / "versions.json"
    role_args = [arg for role in roles for arg in ("--role-arn", role)]
    published = fleet_cli(
        moto_endpoint,
        "publish",
        str(built_layer),
        "--layer-name",
        "multi-rt",
        "--region",
        "eu-west-1",
        "--versions-out",
        str(versions),
        *role_args,
    )
    assert published.returncode == 0, published.stderr
    numbers = {key: entry["version"] for key, entry in json.loads(versions.read_text()).items()}
    assert numbers == {"111122223333/eu-west-1": 2, "999988887777/eu-west-1": 1}
    plan = fleet_cli(
        moto_endpoint, "rollout", "multi-rt", "--to", str(versions), "--dry-run", *role_args
    )
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("111122223333/eu-west-1 two-accounts: version 1 -> 2 "), (
        plan.stdout
    )


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_n_runs_exactly_n_updates_at_once(
    moto_endpoint: str, concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--concurrency N`` over six functions: a botocore hook counts the
    UpdateFunctionConfiguration calls in flight and holds each at a barrier of N, so the
    rollout passes only if N updates really are in flight together (fewer would break the
    barrier), and the count shows it never has more. No timing: the barrier's timeout only
    bounds a failing run."""
    import threading

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    region = REGIONS[0]
    prefix = f"conc{concurrency}"
    lam = client(moto_endpoint, "lambda", region)
    layer = f"{prefix}-lambdaboot"
    old, new = (
        lam.publish_layer_version(
            LayerName=layer,
            Content={"ZipFile": tiny_zip(f"VERSION = {n}\n")},
            CompatibleRuntimes=["python3.12"],
        )["LayerVersionArn"]
        for n in (1, 2)
    )
    names = [f"{prefix}-fn{i}" for i in range(6)]
    for name in names:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=function_role(moto_endpoint),
            Handler="app.handler",
            Code={"ZipFile": tiny_zip("def handler(event, context):\n    return event\n")},
            Layers=[old],
        )
    found = targets(AwsOptions([region], endpoint_url=moto_endpoint))
    plan = make_plan(layer, VersionSpec.parse("latest"), found, Selection(globs=[f"{prefix}-*"]))
    assert sorted(c.function for c in plan.changes if c.action == "update") == names

    lock = threading.Lock()
    counts = {"in_flight": 0, "most": 0, "calls": 0}
    barrier = threading.Barrier(concurrency)

    def before(**kwargs: object) -> None:
        with lock:
            counts["calls"] += 1
            counts["in_flight"] += 1
            counts["most"] = max(counts["most"], counts["in_flight"])
        barrier.wait(timeout=60)  # every one of the N has to be in flight to pass

    def after(**kwargs: object) -> None:
        with lock:
            counts["in_flight"] -= 1

    for target in found:
        events = target.client("lambda").meta.events
        events.register("before-call.lambda.UpdateFunctionConfiguration", before)
        events.register("after-call.lambda.UpdateFunctionConfiguration", after)
    ok = apply(
        plan, {(t.account, t.region): t for t in found}, ApplyOptions(concurrency=concurrency)
    )
    assert ok, [(c.function, c.status, c.detail) for c in plan.changes]
    assert counts == {"in_flight": 0, "most": concurrency, "calls": len(names)}
    for name in names:
        config = lam.get_function_configuration(FunctionName=name)
        assert [entry["Arn"] for entry in config["Layers"]] == [new]
