"""Stream triggers: Kinesis Data Streams and DynamoDB Streams (batches of records).

Shapes follow "Using Lambda with Kinesis Data Streams" and "Using Lambda with DynamoDB
Streams" in AWS's Lambda guide. Kinesis carries the data base64-encoded; DynamoDB
carries items as typed attribute values (``{"S": ...}``, ``{"N": "1"}``), which the
options take as plain JSON and convert, since that is what people have at hand.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from .source import Event, EventSource, Option, Values, arn, now, record_count


def _sequence_number(digits: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


def kinesis(values: Values) -> Event:
    """A batch from a Kinesis stream's event source mapping (one shard)."""
    arrived = round(now().timestamp(), 3)
    data = base64.b64encode(values["data"].encode()).decode()
    records = []
    for _ in range(record_count(values)):
        sequence = _sequence_number(56)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": values["partition_key"],
                    "sequenceNumber": sequence,
                    "data": data,
                    "approximateArrivalTimestamp": arrived,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": arn("iam", values, "role/lambda-role", region=False),
                "awsRegion": values["region"],
                "eventSourceARN": arn("kinesis", values, f"stream/{values['stream']}"),
            }
        )
    return {"Records": records}


def attribute_value(value: Any) -> dict[str, Any]:
    """A JSON value as a DynamoDB attribute value (numbers as ``N`` strings)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [attribute_value(item) for item in value]}
    return {"M": item_of(value)}


def item_of(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"a DynamoDB item must be a JSON object, not {json.dumps(value)}")
    return {name: attribute_value(item) for name, item in value.items()}


# Which images a record carries, by event name and the stream's view type.
_IMAGES = {"INSERT": ("NewImage",), "MODIFY": ("NewImage", "OldImage"), "REMOVE": ("OldImage",)}
_VIEWS = {
    "KEYS_ONLY": (),
    "NEW_IMAGE": ("NewImage",),
    "OLD_IMAGE": ("OldImage",),
    "NEW_AND_OLD_IMAGES": ("NewImage", "OldImage"),
}


def dynamodb(values: Values) -> Event:
    """A batch from a DynamoDB stream's event source mapping."""
    name, view = values["event_name"].upper(), values["view_type"].upper()
    if name not in _IMAGES:
        raise ValueError(f"--event-name {values['event_name']}: use INSERT, MODIFY or REMOVE")
    if view not in _VIEWS:
        raise ValueError(f"--view-type {values['view_type']}: use one of {', '.join(_VIEWS)}")
    at = now()
    label = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    stream = arn("dynamodb", values, f"table/{values['table']}/stream/{label}")
    keys = item_of(values["keys"])
    images = {"NewImage": item_of(values["new_image"]), "OldImage": item_of(values["old_image"])}
    records = []
    for _ in range(record_count(values)):
        change: dict[str, Any] = {"ApproximateCreationDateTime": int(at.timestamp()), "Keys": keys}
        for image in _IMAGES[name]:
            if image in _VIEWS[view]:
                change[image] = {**keys, **images[image]}
        change["SequenceNumber"] = _sequence_number(21)
        change["SizeBytes"] = len(json.dumps(change, separators=(",", ":")))
        change["StreamViewType"] = view
        records.append(
            {
                "eventID": secrets.token_hex(16),
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": values["region"],
                "dynamodb": change,
                "eventSourceARN": stream,
            }
        )
    return {"Records": records}


SOURCES = (
    EventSource(
        "kinesis",
        "Kinesis Data Streams records",
        (
            Option("--data", "each record's data (text; base64-encoded in the event)", '{"n": 1}'),
            Option("--partition-key", "the partition key", "partition-1"),
            Option("--stream", "the stream's name", "my-stream"),
            Option("--count", "how many records", 1, int),
        ),
        kinesis,
    ),
    EventSource(
        "dynamodb",
        "DynamoDB Streams records",
        (
            Option("--table", "the table's name", "my-table"),
            Option("--event-name", "INSERT, MODIFY or REMOVE", "INSERT"),
            Option(
                "--view-type",
                "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES",
                "NEW_AND_OLD_IMAGES",
            ),
            Option("--keys", "the item's key, as plain JSON", {"id": "101"}, "json"),
            Option("--new-image", "the item after the change", {"message": "new item"}, "json"),
            Option("--old-image", "the item before the change", {"message": "old item"}, "json"),
            Option("--count", "how many records", 1, int),
        ),
        dynamodb,
    ),
)
