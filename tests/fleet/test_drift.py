"""``lambdaboot drift`` against moto's server: before and after a rollout, per qualifier,
per account."""

from __future__ import annotations

import json

from tests.fleet.conftest import REGION_ARGS, Fleet, client, fleet_cli, function_role, tiny_zip

ACCOUNT = "123456789012"


def _drifting(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " behind " in line]


def test_drift_before_and_after_a_rollout(fleet: Fleet) -> None:
    fleet.publish_ours("VERSION = 3\n")
    before = fleet_cli(fleet.endpoint, "drift", fleet.layer, *REGION_ARGS)
    assert before.returncode == 1, before.stderr
    at = f"{ACCOUNT}/eu-west-1"
    assert sorted(_drifting(before.stdout)) == sorted(
        [
            f"{at} {fleet.fn('api')}:$LATEST: version 1, 2 behind 3",
            f"{at} {fleet.fn('billing')}:$LATEST: version 1, 2 behind 3",
            f"{at} {fleet.fn('billing')}:live (version 1): version 1, 2 behind 3",
            f"{at} {fleet.fn('legacy')}:$LATEST: version 1, 2 behind 3",
            f"{at} {fleet.fn('worker')}:$LATEST: version 2, 1 behind 3",
            f"{ACCOUNT}/us-east-2 {fleet.fn('edge')}:$LATEST: version 1, 2 behind 3",
            f"{ACCOUNT}/us-east-2 {fleet.fn('reports')}:$LATEST: version 1, 2 behind 3",
        ]
    )
    assert before.stdout.splitlines()[-1] == (
        f"7 of 7 function qualifiers use an older {fleet.layer}"
    )

    rolled = fleet_cli(
        fleet.endpoint, "rollout", fleet.layer, "--publish", "--alias", "live", *REGION_ARGS
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr

    after = fleet_cli(fleet.endpoint, "drift", fleet.layer, "--json", *REGION_ARGS)
    assert after.returncode == 1  # the two incompatible functions cannot move
    report = json.loads(after.stdout)
    assert report["drifts"] is True
    drifting = {
        (f["region"], f["function"], f["qualifier"]): f["behind"]
        for f in report["findings"]
        if f["drifts"]
    }
    assert drifting == {
        ("eu-west-1", fleet.fn("legacy"), "$LATEST"): 2,
        ("us-east-2", fleet.fn("edge"), "$LATEST"): 2,
    }
    live = [f for f in report["findings"] if f["qualifier"] == "live"]
    assert live == [
        {
            "account": ACCOUNT,
            "region": "eu-west-1",
            "function": fleet.fn("billing"),
            "qualifier": "live",
            "function_version": "2",
            "layer_version": 3,
            "expected": 3,
            "behind": 0,
            "drifts": False,
        }
    ]
    compatible = fleet_cli(
        fleet.endpoint, "drift", fleet.layer, "--match", "*-[abrw]*", *REGION_ARGS
    )
    assert compatible.returncode == 0, compatible.stdout + compatible.stderr
    assert compatible.stdout.splitlines() == [
        f"0 of 5 function qualifiers use an older {fleet.layer}"
    ]


def test_drift_against_an_expected_version(fleet: Fleet) -> None:
    done = fleet_cli(fleet.endpoint, "drift", fleet.layer, "--expect", "1", "--region", "eu-west-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _drifting(done.stdout) == []
    two = fleet_cli(fleet.endpoint, "drift", fleet.layer, "--expect", "2", "--region", "eu-west-1")
    assert two.returncode == 1
    assert f"{ACCOUNT}/eu-west-1 {fleet.fn('worker')}:$LATEST" not in two.stdout
    assert f"{ACCOUNT}/eu-west-1 {fleet.fn('api')}:$LATEST: version 1, 1 behind 2" in two.stdout


def test_drift_and_rollout_in_another_account_through_a_role(moto_endpoint: str) -> None:
    """moto maps credentials from AssumeRole to the role's account: a second account."""
    sts = client(moto_endpoint, "sts", "eu-west-1")
    assumed = sts.assume_role(
        RoleArn="arn:aws:iam::444455556666:role/auditor", RoleSessionName="setup"
    )["Credentials"]
    other = {
        "key": assumed["AccessKeyId"],
        "secret": assumed["SecretAccessKey"],
        "token": assumed["SessionToken"],
    }
    lam = client(moto_endpoint, "lambda", "eu-west-1", **other)
    versions = [
        lam.publish_layer_version(LayerName="shared-rt", Content={"ZipFile": tiny_zip(str(n))})[
            "LayerVersionArn"
        ]
        for n in (1, 2)
    ]
    assert versions[0].split(":")[4] == "444455556666"
    lam.create_function(
        FunctionName="elsewhere",
        Runtime="python3.12",
        Role=function_role(moto_endpoint, **other),
        Handler="app.handler",
        Code={"ZipFile": tiny_zip("x")},
        Layers=[versions[0]],
    )
    done = fleet_cli(
        moto_endpoint,
        "drift",
        "shared-rt",
        "--region",
        "eu-west-1",
        "--role-arn",
        "arn:aws:iam::444455556666:role/auditor",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert _drifting(done.stdout) == [
        "444455556666/eu-west-1 elsewhere:$LATEST: version 1, 1 behind 2"
    ]
    # Without the role, the layer is nowhere to be seen: a mistake, not an empty fleet.
    mine = fleet_cli(moto_endpoint, "drift", "shared-rt", "--region", "eu-west-1")
    assert mine.returncode == 2 and "layer shared-rt: no function uses it" in mine.stderr
    role = ["--region", "eu-west-1", "--role-arn", "arn:aws:iam::444455556666:role/auditor"]
    rolled = fleet_cli(moto_endpoint, "rollout", "shared-rt", *role)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "444455556666/eu-west-1 elsewhere: updated to version 2" in rolled.stdout.splitlines()
    layers = lam.get_function_configuration(FunctionName="elsewhere")["Layers"]
    assert [entry["Arn"] for entry in layers] == [versions[1]]
    after = fleet_cli(moto_endpoint, "drift", "shared-rt", *role)
    assert after.returncode == 0, after.stdout


def test_an_unknown_layer_is_an_error_not_an_empty_fleet(moto_endpoint: str) -> None:
    """A typo in LAYER must not pass a scheduled drift check forever: a layer with no
    version and no function using it is one line, exit 2; an unused layer is an empty fleet."""
    for command in (["drift"], ["rollout", "--dry-run"], ["rollout"]):
        done = fleet_cli(moto_endpoint, *command, "lambdabot-typo", *REGION_ARGS)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr == (
            f"lambdaboot {command[0]}: layer lambdabot-typo: no function uses it and it has no "
            "version in eu-west-1, us-east-2: check the name (and --region, --role-arn)\n"
        )
    versioned = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:lambdaboot:3"
    done = fleet_cli(moto_endpoint, "drift", versioned, *REGION_ARGS)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "give the layer's name or its unversioned ARN" in done.stderr
    client(moto_endpoint, "lambda", "us-east-2").publish_layer_version(
        LayerName="unused-rt", Content={"ZipFile": tiny_zip("1")}
    )
    for layer in ("unused-rt", f"arn:aws:lambda:us-east-2:{ACCOUNT}:layer:unused-rt"):
        unused = fleet_cli(moto_endpoint, "drift", layer, *REGION_ARGS)
        assert unused.returncode == 0, unused.stderr
        assert unused.stdout == f"0 of 0 function qualifiers use an older {layer}\n"
