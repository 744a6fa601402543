"""AWS sessions for the fleet tools: which accounts and regions a command acts on.

``publish``, ``rollout`` and ``drift`` take the same options (``--region`` repeatable,
``--profile``, ``--role-arn`` repeatable, ``--endpoint-url``, ``--json``) and turn them
into ``Target`` objects, one per account and region, each with its clients. Every AWS
failure a user can fix (no credentials, an endpoint that does not answer, a region that
does not exist, a refused call) becomes one ``AwsError`` line instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from layer_build.errors import BuildError

# Lambda's partitions: a region is valid when botocore knows Lambda there.
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


class AwsError(BuildError):
    """An AWS failure, already described in one line."""


@dataclass(frozen=True)
class AwsOptions:
    """The shared command-line options, as given."""

    regions: list[str] = field(default_factory=list)
    profile: str | None = None
    role_arns: list[str] = field(default_factory=list)
    endpoint_url: str | None = None


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every fleet command takes; ``aws_options`` reads them back."""
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        help="repeatable; default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region",
    )
    parser.add_argument("--profile", help="a profile of your AWS configuration")
    parser.add_argument(
        "--role-arn",
        action="append",
        default=[],
        help="assume this role through STS (repeatable: one account each)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="another AWS endpoint (moto, LocalStack, a VPC endpoint)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def aws_options(args: argparse.Namespace) -> AwsOptions:
    return AwsOptions(
        regions=list(dict.fromkeys(args.region)),
        profile=args.profile,
        role_arns=list(dict.fromkeys(args.role_arn)),
        endpoint_url=args.endpoint_url,
    )


@dataclass
class Target:
    """One account in one region: where a command reads and changes things."""

    account: str
    region: str
    session: Any  # boto3.Session
    endpoint_url: str | None
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        """A client of ``service`` here (made once; clients are thread-safe, sessions are not)."""
        url = endpoint_url or self.endpoint_url
        with self._lock:
            key = (service, url)
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=self.region, endpoint_url=url, config=_config()
                )
            return self._clients[key]

    def label(self, accounts: int) -> str:
        return label(self.account, self.region, accounts)


def label(account: str, region: str, accounts: int) -> str:
    """How output names a place: the region, with the account when there are several."""
    return region if accounts == 1 else f"{account}/{region}"


def _config() -> Any:
    from botocore.config import Config  # type: ignore[import-untyped]

    # Few retries: an unreachable endpoint should fail in seconds, with one line.
    return Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10)


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise AwsError("this command needs boto3: pip install 'lambdaboot[build]'") from None
    return boto3


def targets(options: AwsOptions) -> list[Target]:
    """Every (account, region) the options name, accounts in the order of ``--role-arn``."""
    boto3 = _boto3()
    url = options.endpoint_url
    if url and not url.startswith(("http://", "https://")):
        raise AwsError(f"--endpoint-url {url!r}: give a URL, such as http://127.0.0.1:5000")
    for role_arn in options.role_arns:
        if not role_arn.startswith("arn:") or ":role/" not in role_arn:
            raise AwsError(
                f"--role-arn {role_arn!r}: give a role's ARN, arn:aws:iam::ACCOUNT:role/NAME"
            )
    with aws_errors():
        base = boto3.Session(profile_name=options.profile)
        # AWS_REGION first, as the AWS SDKs read it (botocore itself reads only the others).
        default = os.environ.get("AWS_REGION") or base.region_name
        regions = options.regions or ([default] if default else [])
        if not regions:
            raise AwsError(
                "no region: give --region, set AWS_REGION, or set a region in your AWS profile"
            )
        known = _known_regions(base)
        for region in regions:
            if region not in known:
                raise AwsError(
                    f"unknown region {region!r}: "
                    "give a Lambda region such as eu-west-1 or us-east-1"
                )
        sessions = [base] if not options.role_arns else []
        for role_arn in options.role_arns:
            sessions.append(_assume(boto3, base, role_arn, regions[0], options.endpoint_url))
        found = []
        for session in sessions:
            sts = session.client(
                "sts", region_name=regions[0], endpoint_url=options.endpoint_url, config=_config()
            )
            account = str(sts.get_caller_identity()["Account"])
            for region in regions:
                found.append(Target(account, region, session, options.endpoint_url))
        return found


def _known_regions(session: Any) -> set[str]:
    known: set[str] = set()
    for partition in _PARTITIONS:
        known.update(session.get_available_regions("lambda", partition_name=partition))
    return known


def _assume(boto3: Any, base: Any, role_arn: str, region: str, endpoint_url: str | None) -> Any:
    sts = base.client("sts", region_name=region, endpoint_url=endpoint_url, config=_config())
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="lambdaboot")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def describe(exc: BaseException) -> str:
    """One line for an AWS failure: what went wrong and, where it helps, what to do."""
    from botocore import exceptions as bx  # type: ignore[import-untyped]

    if isinstance(exc, AwsError):
        return str(exc)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (or give --profile), "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bx.ProfileNotFound):
        return f"{exc}: check --profile or AWS_PROFILE against ~/.aws/config"
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        return (
            f"cannot reach the AWS endpoint {url}: check --endpoint-url, the region and the network"
        )
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "")
        code = error.get("Code", "Error")
        message = " ".join(str(error.get("Message", "")).split())
        return f"{operation}: {code}: {message}" if operation else f"{code}: {message}"
    if isinstance(exc, bx.BotoCoreError):
        return " ".join(str(exc).split())
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Turn botocore's exceptions inside the block into one-line ``AwsError``s."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise AwsError(describe(exc)) from None


def is_not_found(exc: BaseException) -> bool:
    """A ClientError saying the resource does not exist."""
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "ResourceNotFoundException",
        "NoSuchBucket",
        "NoSuchKey",
        "404",
        "NotFound",
    )
