"""``--env-file``: environment variables for the functions, in SAM's JSON shape or dotenv.

SAM's shape (``sam local invoke --env-vars``) is a JSON object keyed by function logical
id, each holding that function's variables, plus ``Parameters`` for every function; a
function's own entry wins over ``Parameters``. Any other file is read as dotenv
(``KEY=value`` lines, ``export``, quotes, comments) by python-dotenv, and applies to
every function. Either way the file's values win over the template's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHARED_KEY = "Parameters"


class EnvFileError(Exception):
    """An env file that cannot be used, said in one line."""


@dataclass(frozen=True)
class EnvFile:
    path: Path
    shared: Mapping[str, str] = field(default_factory=dict)
    by_function: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def for_function(self, *names: str) -> dict[str, str]:
        """The variables for the function known by ``names`` (logical id, FunctionName)."""
        env = dict(self.shared)
        for name in names:
            env.update(self.by_function.get(name, {}))
        return env

    def unknown(self, known: Iterable[str]) -> list[str]:
        """Function entries that name no function (a typo would otherwise pass unseen)."""
        names = set(known)
        return sorted(key for key in self.by_function if key not in names)


def read_env_file(path: Path) -> EnvFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"--env-file {path}: cannot read it ({exc})") from exc
    if text.lstrip().startswith("{"):
        return _sam_shape(path, text)
    return _dotenv(path, text)


def _sam_shape(path: Path, text: str) -> EnvFile:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EnvFileError(f"--env-file {path}: not valid JSON ({exc})") from exc
    shared: dict[str, str] = {}
    by_function: dict[str, dict[str, str]] = {}
    for key, variables in data.items():
        if not isinstance(variables, dict):
            raise EnvFileError(
                f"--env-file {path}: {key!r} must map variable names to values,"
                f' e.g. {{"{key}": {{"TABLE": "local"}}}}'
            )
        values = {name: _text(path, key, name, value) for name, value in variables.items()}
        if key == SHARED_KEY:
            shared = values
        else:
            by_function[key] = values
    return EnvFile(path, shared, by_function)


def _text(path: Path, key: str, name: str, value: Any) -> str:
    """A variable's value as Lambda holds it: text (JSON numbers and booleans written out)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise EnvFileError(f"--env-file {path}: {key}.{name} must be a string, number or boolean")


def _dotenv(path: Path, text: str) -> EnvFile:
    import io

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):  # python-dotenv only logs these
        where = f"--env-file {path}:{binding.original.line}"
        if binding.error:
            raise EnvFileError(f"{where}: not NAME=VALUE: {binding.original.string.strip()!r}")
        if binding.key is not None and binding.value is None:
            raise EnvFileError(f"{where}: {binding.key} has no value: write {binding.key}=VALUE")
    values = dotenv_values(stream=io.StringIO(text))  # with ${VAR} expanded
    return EnvFile(path, {name: value or "" for name, value in values.items()})
