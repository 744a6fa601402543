"""Sample events for Lambda's common triggers, shaped as AWS documents them.

``sample_event("s3", bucket="b", key="k")`` returns the event as a dict;
``lambdaboot event SOURCE [options]`` prints it and ``lambdaboot invoke --event-source``
sends it (``local_lambda/devloop/events/cli.py``). Each trigger module declares its sources'
options next to the builder that uses them (``source.EventSource``).
"""

from __future__ import annotations

from typing import Any

from . import eventbridge, http, messaging, storage, streams
from .source import COMMON_OPTIONS, Event, EventSource, Option

SOURCES: dict[str, EventSource] = {
    source.name: source
    for module in (http, messaging, storage, streams, eventbridge)
    for source in module.SOURCES
}


def options_of(source: EventSource) -> tuple[Option, ...]:
    """A source's own options, then those every source has."""
    return (*source.options, *COMMON_OPTIONS)


def default_of(option: Option) -> Any:
    """What an option is when not given: repeatable ones start empty."""
    if option.kind in ("pairs", "list"):
        return []
    if option.kind == "flag":
        return False
    return option.default


def sample_event(name: str, **values: Any) -> Event:
    """The sample event of source ``name`` with ``values`` (by option name, underscores
    for dashes) over the defaults. A ValueError names an unknown source or option."""
    source = SOURCES.get(name)
    if source is None:
        raise ValueError(f"unknown event source {name!r}: use one of {', '.join(SOURCES)}")
    options = options_of(source)
    filled = {option.dest: default_of(option) for option in options}
    unknown = set(values) - set(filled)
    if unknown:
        raise ValueError(f"{name} takes no option {sorted(unknown)[0]!r}")
    filled.update(values)
    return source.build(filled)


__all__ = ["SOURCES", "Event", "EventSource", "Option", "options_of", "sample_event"]
