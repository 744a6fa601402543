"""Sample events: each one is what Powertools (AWS's own parsers) accepts for its trigger.

Every source is validated by Powertools' Parser model (pydantic) for that trigger, and
every property of its event-source data class is read, nested records included, so a
field missing or of the wrong shape shows up as it would in a user's handler.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pytest
from aws_lambda_powertools.utilities import data_classes as dc
from aws_lambda_powertools.utilities.data_classes.common import DictWrapper
from aws_lambda_powertools.utilities.parser import models

from local_lambda.devloop.events import SOURCES, sample_event
from local_lambda.devloop.events.cli import event_from_words
from tests.conftest import lambdaboot

# Each source with the Parser model and the data class Powertools has for its trigger.
POWERTOOLS: dict[str, tuple[type[Any], type[DictWrapper]]] = {
    "apigw-rest": (models.APIGatewayProxyEventModel, dc.APIGatewayProxyEvent),
    "apigw-http": (models.APIGatewayProxyEventV2Model, dc.APIGatewayProxyEventV2),
    "function-url": (models.LambdaFunctionUrlModel, dc.LambdaFunctionUrlEvent),
    "alb": (models.AlbModel, dc.ALBEvent),
    "sqs": (models.SqsModel, dc.SQSEvent),
    "sns": (models.SnsModel, dc.SNSEvent),
    "s3": (models.S3Model, dc.S3Event),
    "eventbridge": (models.EventBridgeModel, dc.EventBridgeEvent),
    "schedule": (models.EventBridgeModel, dc.EventBridgeEvent),
    "dynamodb": (models.DynamoDBStreamModel, dc.DynamoDBStreamEvent),
    "kinesis": (models.KinesisDataStreamModel, dc.KinesisStreamEvent),
}

# Options that change each source's shape the most, so those variants are checked too.
VARIANTS: list[tuple[str, str]] = [
    ("apigw-rest", "--method POST --path /users/42 --resource /users/{id} --body '{\"a\": 1}'"),
    ("apigw-rest", "--path /a/b/c --resource /{proxy+} --query q=1 --query q=2 --header X-A=1"),
    ("apigw-rest", "--method PUT --body '{\"b\": 64}' --base64"),
    ("apigw-http", "--route 'GET /items/{id}' --path /items/7 --header 'Cookie=a=1; b=2'"),
    ("apigw-http", "--method POST --body '[1, 2]' --query x=1 --query x=2"),
    ("function-url", '--method POST --body \'{"k": "v"}\' --base64'),
    ("alb", "--method POST --path /lambda --query q=1 --body '{}'"),
    ("sqs", "--queue orders.fifo --count 3"),
    ("sns", "--message hello --subject greetings --topic alerts"),
    ("s3", "--event-name ObjectRemoved:Delete --key 'folder/my file.txt'"),
    ("s3", "--event-name ObjectCreated:CompleteMultipartUpload --size 5"),
    ("dynamodb", '--event-name MODIFY --count 2 --keys \'{"pk": "a", "sk": 2}\''),
    ("dynamodb", "--event-name REMOVE --view-type KEYS_ONLY"),
    ("kinesis", "--count 4 --data '{\"n\": 2}'"),
    (
        "eventbridge",
        (
            "--source aws.ec2 --detail-type 'EC2 State' --resource arn:aws:ec2:x "
            '--detail \'{"state": "on"}\''
        ),
    ),
    ("schedule", "--rule nightly --region eu-west-1"),
]


def test_every_trigger_in_the_issue_has_a_source() -> None:
    assert set(SOURCES) == set(POWERTOOLS)


# Properties that do not apply to a sample on purpose, as (data class, property):
# - an SQS record's ``decoded_nested_*`` read its body as an S3 or SNS event; only a
#   queue fed by S3 or SNS has such bodies (checked by test_sqs_body_can_carry_...);
# - S3 sends no size or ETag for removals (the Parser model agrees); Powertools' data
#   class reads both unconditionally.
SQS_NESTED = {("SQSRecord", "decoded_nested_s3_event"), ("SQSRecord", "decoded_nested_sns_event")}
S3_REMOVED = {("S3Object", "size"), ("S3Object", "etag")}


def _read_everything(value: Any, skip: set[tuple[str, str]], depth: int = 0) -> int:
    """Read every property of a data class and of what they return; the number read."""
    assert depth < 12, "data classes nest deeper than any real event"
    if isinstance(value, DictWrapper):
        count = 0
        for klass in type(value).__mro__:
            for name, attr in vars(klass).items():
                if (type(value).__name__, name) in skip:
                    continue
                if isinstance(attr, property | functools.cached_property):
                    count += 1 + _read_everything(getattr(value, name), skip, depth + 1)
        return count
    if isinstance(value, (list, tuple)) or hasattr(value, "__next__"):
        return sum(_read_everything(item, skip, depth + 1) for item in value)
    return 0


def _check(name: str, event: dict[str, Any]) -> None:
    model, data_class = POWERTOOLS[name]
    json.dumps(event)  # an event is JSON
    model.model_validate(event)
    skip = SQS_NESTED if name == "sqs" else set()
    if name == "s3" and event["Records"][0]["eventName"].startswith("ObjectRemoved:"):
        skip = S3_REMOVED
    assert _read_everything(data_class(event), skip) > 5


@pytest.mark.parametrize("name", sorted(POWERTOOLS))
def test_default_event_is_valid_for_powertools(name: str) -> None:
    _check(name, sample_event(name))


@pytest.mark.parametrize(("name", "words"), VARIANTS, ids=[v[1][:40] for v in VARIANTS])
def test_event_with_options_is_valid_for_powertools(name: str, words: str) -> None:
    _check(name, json.loads(event_from_words(f"{name} {words}")))


def test_http_options_land_where_handlers_read_them() -> None:
    body = '{"a": 1}'
    words = (
        "apigw-rest --method POST --path /users/42 --resource /users/{id} "
        f"--body '{body}' --query q=1 --query q=2"
    )
    rest = dc.APIGatewayProxyEvent(json.loads(event_from_words(words)))
    assert (rest.http_method, rest.path, rest.json_body) == ("POST", "/users/42", {"a": 1})
    assert rest.path_parameters == {"id": "42"}
    assert rest.multi_value_query_string_parameters == {"q": ["1", "2"]}
    assert rest.request_context.stage == "Prod"
    assert rest.request_context.path == "/Prod/users/42"

    http = dc.APIGatewayProxyEventV2(
        json.loads(
            event_from_words(
                "apigw-http --route 'GET /items/{id}' --path /items/7 --query x=1 --query x=2 "
                "--header 'cookie=a=1; b=2'"
            )
        )
    )
    assert http.path_parameters == {"id": "7"}
    assert http.raw_query_string == "x=1&x=2"
    assert http.query_string_parameters == {"x": "1,2"}
    assert http.cookies == ["a=1", "b=2"]
    assert "cookie" not in http.headers

    url = dc.LambdaFunctionUrlEvent(json.loads(event_from_words("function-url --body hi --base64")))
    assert url.is_base64_encoded and url.decoded_body == "hi"
    assert url.request_context.domain_name.endswith(".lambda-url.us-east-1.on.aws")

    alb = dc.ALBEvent(sample_event("alb", method="delete", path="/x"))
    assert (alb.http_method, alb.path, alb.body) == ("DELETE", "/x", "")


def test_record_options_land_where_handlers_read_them() -> None:
    s3 = dc.S3Event(sample_event("s3", bucket="photos", key="2024/my cat.jpg", size=77))
    assert (s3.bucket_name, s3.object_key) == ("photos", "2024/my cat.jpg")
    assert s3.record.s3.get_object.size == 77
    assert s3.raw_event["Records"][0]["s3"]["object"]["key"] == "2024/my+cat.jpg"

    sqs = dc.SQSEvent(sample_event("sqs", body="work", queue="jobs", count=3))
    records = list(sqs.records)
    assert [r.body for r in records] == ["work"] * 3
    assert len({r.message_id for r in records}) == 3
    assert records[0].md5_of_body == hashlib.md5(b"work").hexdigest()
    assert records[0].event_source_arn == "arn:aws:sqs:us-east-1:123456789012:jobs"

    kinesis = dc.KinesisStreamEvent(sample_event("kinesis", data="payload", count=2))
    assert [r.kinesis.data_as_text() for r in kinesis.records] == ["payload", "payload"]

    ddb = dc.DynamoDBStreamEvent(
        sample_event(
            "dynamodb",
            event_name="MODIFY",
            keys={"pk": "a"},
            new_image={"n": 2},
            old_image={"n": 1},
        )
    )
    record = next(iter(ddb.records))
    assert record.dynamodb is not None
    assert record.dynamodb.keys == {"pk": "a"}
    assert record.dynamodb.new_image == {"pk": "a", "n": 2}
    assert record.dynamodb.old_image == {"pk": "a", "n": 1}

    sns = dc.SNSEvent(sample_event("sns", message="m", subject="s", topic="t"))
    assert (sns.sns_message, sns.record.sns.subject) == ("m", "s")
    assert sns.record.sns.topic_arn == "arn:aws:sns:us-east-1:123456789012:t"

    rule = dc.EventBridgeEvent(sample_event("schedule", rule="nightly", region="eu-west-1"))
    assert (rule.source, rule.detail_type, rule.detail) == ("aws.events", "Scheduled Event", {})
    assert rule.resources == ["arn:aws:events:eu-west-1:123456789012:rule/nightly"]


def test_sqs_body_can_carry_an_s3_or_sns_event() -> None:
    """A queue subscribed to S3 notifications or to an SNS topic (raw delivery off)."""
    s3_body = json.dumps(sample_event("s3", key="in/x.csv"))
    sns_body = json.dumps(sample_event("sns", message="m")["Records"][0]["Sns"])
    for body in (s3_body, sns_body):
        event = sample_event("sqs", body=body)
        models.SqsModel.model_validate(event)
        record = next(iter(dc.SQSEvent(event).records))
        nested = (
            record.decoded_nested_s3_event if body is s3_body else record.decoded_nested_sns_event
        )
        assert _read_everything(nested, set()) > 5
    assert (
        next(
            iter(dc.SQSEvent(sample_event("sqs", body=s3_body)).records)
        ).decoded_nested_s3_event.object_key
        == "in/x.csv"
    )


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        ("nope", "unknown event source 'nope'"),
        ("sqs --count 0", "--count 0"),
        ("sqs --bogus 1", "unrecognized arguments: --bogus"),
        ("apigw-rest --method FETCH", "--method FETCH"),
        ("apigw-rest --path /a --resource /b/{id}", "does not match /b/{id}"),
        ("s3 --event-name Bogus", "--event-name Bogus"),
        ("dynamodb --keys 5", "must be a JSON object"),
        ("eventbridge --detail '[1]'", "--detail must be a JSON object"),
        ("eventbridge --detail '{'", "is not JSON"),
    ],
)
def test_bad_options_are_named_in_one_line(words: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        event_from_words(words)
    assert complaint in str(caught.value)
    assert "\n" not in str(caught.value)


def test_lambdaboot_event_prints_the_event() -> None:
    done = lambdaboot("event", "s3", "--bucket", "b", "--key", "k.txt")
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert dc.S3Event(event).object_key == "k.txt"


def test_lambdaboot_event_bad_input_is_one_line() -> None:
    done = lambdaboot("event", "sqs", "--count", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "lambdaboot event sqs: --count 0: give a number of records from 1 to 10000"
    ]
    unknown = lambdaboot("event", "s3", "--bucket", "b", "--nope", "x")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "lambdaboot event s3: unrecognized arguments: --nope x (see 'lambdaboot event s3 --help')"
    ]


def _all_flags(options: Iterable[Any]) -> list[str]:
    return [option.flag for option in options]


def test_every_source_has_help_for_every_option() -> None:
    for name in SOURCES:
        done = lambdaboot("event", name, "--help")
        assert done.returncode == 0
        for flag in _all_flags(SOURCES[name].options):
            assert flag in done.stdout
