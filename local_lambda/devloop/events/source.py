"""What a sample event source is: its name, its options, and the function that builds it.

Each trigger module (``http``, ``messaging``, ``streams``, ``storage``, ``eventbridge``)
lists its sources as ``EventSource`` values; the ``lambdaboot event`` command and
``invoke --event-source`` turn their options into command-line flags, so a source's
options are declared once, next to the code that uses them. The helpers below are the
formats AWS writes times, ids and ARNs in, shared by every trigger.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]
# What a builder is called with: each option's value, keyed by ``Option.dest``.
Values = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    """One field people change in a sample event, offered as ``--flag``.

    ``kind`` is ``str``, ``int``, ``"json"`` (parsed JSON text), ``"pairs"`` (repeatable
    ``NAME=VALUE``, kept in order as tuples), ``"list"`` (repeatable text) or ``"flag"``
    (a switch)."""

    flag: str
    help: str
    default: Any = None
    kind: Any = str

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class EventSource:
    """A trigger whose sample event ``lambdaboot event NAME`` prints."""

    name: str
    summary: str
    options: tuple[Option, ...]
    build: Callable[[Values], Event]


# Every source takes these: where the event comes from.
COMMON_OPTIONS = (
    Option("--region", "the AWS Region in ARNs and records", "us-east-1"),
    Option("--account-id", "the AWS account id in ARNs", "123456789012"),
)


def now() -> datetime:
    """Events carry the time they were made, as real ones do."""
    return datetime.now(UTC)


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def iso_ms(at: datetime) -> str:
    """``2024-05-01T12:00:00.123Z``: S3, SNS."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def iso_seconds(at: datetime) -> str:
    """``2024-05-01T12:00:00Z``: EventBridge."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def clf_time(at: datetime) -> str:
    """``01/May/2024:12:00:00 +0000``: API Gateway's and Function URLs' request time."""
    return at.strftime("%d/%b/%Y:%H:%M:%S +0000")


def new_uuid() -> str:
    return str(uuid.uuid4())


def hex_id(length: int) -> str:
    """Random hex of ``length`` characters (ids AWS writes as hex, e.g. request ids)."""
    return secrets.token_hex((length + 1) // 2)[:length]


def alnum_id(length: int) -> str:
    """A lower-case alphanumeric id such as an API id (``a1b2c3d4e5``)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def arn(service: str, values: Values, resource: str, region: bool = True) -> str:
    """An ARN in the ``aws`` partition for the event's account (and Region unless global)."""
    where = values["region"] if region else ""
    return f"arn:aws:{service}:{where}:{values['account_id']}:{resource}"


def record_count(values: Values) -> int:
    """``--count``: how many records a batch holds (Lambda's largest batch is 10,000)."""
    count: int = values["count"]
    if not 1 <= count <= 10_000:
        raise ValueError(f"--count {count}: give a number of records from 1 to 10000")
    return count
