"""Message triggers: SQS (a batch of received messages) and SNS (one notification).

Shapes follow "Using Lambda with Amazon SQS" and "Invoking Lambda functions with Amazon
SNS notifications" in AWS's Lambda guide. ``md5OfBody`` is the body's real MD5, as SQS
computes it; a queue whose name ends in ``.fifo`` gets the FIFO attributes
(``MessageGroupId``, ``MessageDeduplicationId``, ``SequenceNumber``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from .source import (
    Event,
    EventSource,
    Option,
    Values,
    arn,
    epoch_ms,
    iso_ms,
    new_uuid,
    now,
    record_count,
)

SENDER_ID = "AIDAIENQZJOLO23YVJ4VO"  # the shape of an IAM user's unique id


def sqs(values: Values) -> Event:
    """A batch from an SQS event source mapping; every record carries the same body."""
    queue, body, at = values["queue"], values["body"], now()
    fifo = queue.endswith(".fifo")
    records = []
    for index in range(record_count(values)):
        sent = epoch_ms(at) - 10
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": SENDER_ID,
            "ApproximateFirstReceiveTimestamp": str(sent + 2),
        }
        if fifo:
            attributes |= {
                "SequenceNumber": str(18849496460467696128 + index),
                "MessageGroupId": values["group_id"],
                "MessageDeduplicationId": hashlib.sha256(f"{body}{index}".encode()).hexdigest(),
            }
        records.append(
            {
                "messageId": new_uuid(),
                "receiptHandle": base64.b64encode(secrets.token_bytes(96)).decode(),
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn("sqs", values, queue),
                "awsRegion": values["region"],
            }
        )
    return {"Records": records}


def sns(values: Values) -> Event:
    """An SNS notification delivered to a subscribed function."""
    region = values["region"]
    topic = arn("sns", values, values["topic"])
    subscription = f"{topic}:{new_uuid()}"
    endpoint = f"https://sns.{region}.amazonaws.com"
    notification = {
        "SignatureVersion": "1",
        "Timestamp": iso_ms(now()),
        "Signature": base64.b64encode(secrets.token_bytes(256)).decode(),
        "SigningCertUrl": f"{endpoint}/SimpleNotificationService-{secrets.token_hex(16)}.pem",
        "MessageId": new_uuid(),
        "Message": values["message"],
        "MessageAttributes": {},
        "Type": "Notification",
        "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription}",
        "TopicArn": topic,
        "Subject": values["subject"],
    }
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "EventSource": "aws:sns",
                "Sns": notification,
            }
        ]
    }


SOURCES = (
    EventSource(
        "sqs",
        "SQS messages received by an event source mapping",
        (
            Option("--body", "the message body", '{"message": "hello from SQS"}'),
            Option("--queue", "the queue's name (ending in .fifo: a FIFO queue)", "my-queue"),
            Option("--group-id", "a FIFO queue's message group id", "group-1"),
            Option("--count", "how many records", 1, int),
        ),
        sqs,
    ),
    EventSource(
        "sns",
        "SNS notification to a subscribed function",
        (
            Option("--message", "the message", '{"message": "hello from SNS"}'),
            Option("--subject", "the subject", "example subject"),
            Option("--topic", "the topic's name", "my-topic"),
        ),
        sns,
    ),
)
