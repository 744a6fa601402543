"""EventBridge events: a custom or AWS service event, and a scheduled rule's event.

Shape from "Amazon EventBridge events" (the event envelope); a schedule rule sends
``source: aws.events``, ``detail-type: Scheduled Event``, the rule's ARN in
``resources`` and an empty ``detail``.
"""

from __future__ import annotations

from .source import Event, EventSource, Option, Values, arn, iso_seconds, new_uuid, now


def envelope(
    values: Values, source: str, detail_type: str, resources: list[str], detail: object
) -> Event:
    return {
        "version": "0",
        "id": new_uuid(),
        "detail-type": detail_type,
        "source": source,
        "account": values["account_id"],
        "time": iso_seconds(now()),
        "region": values["region"],
        "resources": resources,
        "detail": detail,
    }


def eventbridge(values: Values) -> Event:
    if not isinstance(values["detail"], dict):
        raise ValueError('--detail must be a JSON object, e.g. --detail \'{"orderId": "1"}\'')
    return envelope(
        values, values["source"], values["detail_type"], list(values["resource"]), values["detail"]
    )


def schedule(values: Values) -> Event:
    rule = arn("events", values, f"rule/{values['rule']}")
    return envelope(values, "aws.events", "Scheduled Event", [rule], {})


SOURCES = (
    EventSource(
        "eventbridge",
        "EventBridge event delivered by a rule",
        (
            Option("--source", "the event's source", "com.example.orders"),
            Option("--detail-type", "the event's detail-type", "Order Placed"),
            Option("--detail", "the event's detail, a JSON object", {"orderId": "1234"}, "json"),
            Option("--resource", "an ARN in resources (repeatable)", kind="list"),
        ),
        eventbridge,
    ),
    EventSource(
        "schedule",
        "scheduled event from an EventBridge (CloudWatch Events) schedule rule",
        (Option("--rule", "the rule's name", "my-schedule"),),
        schedule,
    ),
)
