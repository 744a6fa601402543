"""What the two ways of running a native program share: the command, the output mode,
the environment and the limit, and how a Python event is sent to it."""

from __future__ import annotations

import os

from runtime_core.native.output import OUTPUT_MODES
from runtime_core.native.spawn import RESPONSE_LIMIT
from runtime_core.serialize import encode_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["Program"]


class Program:
    """A native program to run as a handler.

    ``output`` is ``"json"`` (it writes one JSON value, returned parsed) or ``"bytes"``
    (what it writes is returned as it is). ``env`` replaces the runtime's environment
    (default: inherit it). ``limit`` caps its output (default: Lambda's response limit).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        output: str = "json",
        env: Mapping[str, str] | None = None,
        limit: int = RESPONSE_LIMIT,
    ) -> None:
        if not argv:
            raise ValueError(f"{type(self).__name__} needs a program to run: argv is empty")
        if output not in OUTPUT_MODES:
            raise ValueError(f"output must be one of {', '.join(OUTPUT_MODES)}, not {output!r}")
        self.argv = list(argv)
        self.program = self.argv[0]
        self.output = output
        self.env = dict(env) if env is not None else None
        self.limit = limit
        #: The logger name its stderr records carry: the program's file name.
        self.logger = os.path.basename(self.program)

    @staticmethod
    def encode(event: Any) -> bytes:
        """The bytes a Python event is sent as: JSON, or ``bytes`` as they are."""
        payload, _content_type = encode_result(event)
        return payload
