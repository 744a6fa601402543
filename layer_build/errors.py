"""The one error type the build tools raise for bad input: the CLI prints its message, no
traceback."""

from __future__ import annotations


class BuildError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""
