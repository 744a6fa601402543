"""S3 event notifications (``ObjectCreated:*``, ``ObjectRemoved:*`` and the rest).

Shape from "Event message structure" in the S3 user guide: the key is URL-encoded as S3
sends it (a space becomes ``+``), removals carry no size or ETag, and ``sequencer`` is a
hex value that grows with each event for a key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse

from .source import Event, EventSource, Option, Values, iso_ms, new_uuid, now

_PREFIXES = (
    "ObjectCreated:",
    "ObjectRemoved:",
    "ObjectRestore:",
    "ObjectTagging:",
    "ObjectAcl:",
    "LifecycleExpiration:",
    "LifecycleTransition:",
    "IntelligentTiering",
    "ReducedRedundancyLostObject",
    "Replication:",
)


def s3(values: Values) -> Event:
    """One S3 notification record for the object ``--bucket``/``--key``."""
    name, bucket, key = values["event_name"], values["bucket"], values["key"]
    if not name.startswith(_PREFIXES):
        raise ValueError(
            f"--event-name {name}: give an S3 event type such as ObjectCreated:Put"
            " or ObjectRemoved:Delete"
        )
    obj: dict[str, object] = {"key": urllib.parse.quote_plus(key, safe="/")}
    if not name.startswith("ObjectRemoved:"):
        obj["size"] = values["size"]
        obj["eTag"] = hashlib.md5(f"{bucket}/{key}".encode()).hexdigest()
    obj["sequencer"] = f"{int(now().timestamp() * 1e6):X}"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": values["region"],
                "eventTime": iso_ms(now()),
                "eventName": name,
                "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
                "requestParameters": {"sourceIPAddress": "192.0.2.1"},
                "responseElements": {
                    "x-amz-request-id": secrets.token_hex(8).upper(),
                    "x-amz-id-2": base64.b64encode(secrets.token_bytes(56)).decode(),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": new_uuid(),
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


SOURCES = (
    EventSource(
        "s3",
        "S3 event notification",
        (
            Option("--bucket", "the bucket's name", "my-bucket"),
            Option(
                "--key", "the object's key (as stored; URL-encoded in the event)", "data/file.json"
            ),
            Option("--size", "the object's size in bytes", 1024, int),
            Option(
                "--event-name", "the event type, e.g. ObjectRemoved:Delete", "ObjectCreated:Put"
            ),
        ),
        s3,
    ),
)
