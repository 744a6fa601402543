"""The import-time profile of a cold start (init and the first invocation): ``-X importtime``
lines, added up by top-level package.

Python prints ``import time: self [us] | cumulative | imported package`` to stderr for every
module when ``PYTHONPROFILEIMPORTTIME=1``; the local Lambda puts the runtime's stderr in the
log, so any Python runtime can be profiled from outside. Self times are summed per top-level
name (``orjson``, ``encodings``, ``app``...), which is what a user can act on.
"""

from __future__ import annotations

import re

ENV = {"PYTHONPROFILEIMPORTTIME": "1"}

_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s?( *)(\S+)")


def parse(log: str) -> dict[str, float]:
    """Milliseconds of self import time per top-level package, largest first."""
    totals: dict[str, float] = {}
    for match in _LINE.finditer(log):
        top = match.group(4).split(".", 1)[0]
        totals[top] = totals.get(top, 0.0) + int(match.group(1)) / 1000
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))


def top(profile: dict[str, float], count: int = 12) -> dict[str, float]:
    """The ``count`` largest packages, the rest summed as ``(other)``."""
    items = list(profile.items())
    head = dict(items[:count])
    rest = sum(ms for _, ms in items[count:])
    if rest:
        head["(other)"] = rest
    return head
