"""The Runtime API's two clients are twins: the same methods, the same parameters.

``engine/client.py`` (blocking) and ``engine/aio_client.py`` (async) are one client in two
I/O styles, so a newcomer who has read one has read the other, and a method added to one
(a reconnect rule, a new endpoint) cannot be forgotten in the other without this failing.
The only methods one has and the other lacks are named below, with the reason.
"""

from __future__ import annotations

import ast
import inspect

import pytest

from runtime_core.engine.aio_client import AsyncRuntimeClient, AsyncStreamedResponse
from runtime_core.engine.client import BlockingStreamedResponse, RuntimeClient
from tests.conftest import REPO

#: Methods only the blocking client has, and why the async one does not need them.
BLOCKING_ONLY = {
    "pipeline": "pipelining GET /next behind each post is the blocking engine's loop",
    "post_then_next": "the same: the async engine's slots each post, then ask",
    "restore_next": "SnapStart's restore runs in main.py before any engine, on the blocking one",
    "post_restore_error": "the same",
}
#: Methods that do no I/O, so are plain functions in both.
NO_IO = {"close", "stream"}

TWINS = [(RuntimeClient, AsyncRuntimeClient), (BlockingStreamedResponse, AsyncStreamedResponse)]


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(value)
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_")
    }


@pytest.mark.parametrize(("blocking", "aio"), TWINS, ids=lambda cls: cls.__name__)
def test_the_twins_have_the_same_methods_with_the_same_parameters(
    blocking: type, aio: type
) -> None:
    ours, theirs = _methods(blocking), _methods(aio)
    assert sorted(set(ours) - set(theirs) - set(BLOCKING_ONLY)) == []
    assert sorted(set(theirs) - set(ours)) == []
    for name in set(ours) & set(theirs):
        assert list(ours[name].parameters) == list(theirs[name].parameters), name
        defaults = [p.default for p in ours[name].parameters.values()]
        assert defaults == [p.default for p in theirs[name].parameters.values()], name


@pytest.mark.parametrize(("blocking", "aio"), TWINS, ids=lambda cls: cls.__name__)
def test_every_async_twin_that_does_io_is_awaited(blocking: type, aio: type) -> None:
    for name in _methods(aio):
        assert inspect.iscoroutinefunction(getattr(aio, name)) is (name not in NO_IO), name
        assert not inspect.iscoroutinefunction(getattr(blocking, name)), name


def test_the_blocking_only_methods_exist() -> None:
    """The exceptions above are real methods (a renamed one would hide a new difference)."""
    assert set(BLOCKING_ONLY) <= set(_methods(RuntimeClient))


API_VERSIONS = ("2018-06-01", "2020-01-01", "2022-07-01", "2021-04-23")
HEADER_PREFIXES = ("lambda-runtime-", "lambda-extension-")


def _speaks_the_api(value: str) -> bool:
    return any(v in value for v in API_VERSIONS) or value.lower().startswith(HEADER_PREFIXES)


def test_only_the_protocol_module_spells_the_apis_paths_and_headers() -> None:
    """The Runtime, Extensions and Telemetry APIs are spoken in one place: a path or a
    header name written out anywhere else in the runtime would be a second speaker (its
    docstrings and messages may name them; a string that is the name itself may not)."""
    found = []
    for path in sorted((REPO / "runtime_core").rglob("*.py")):
        if path.name == "protocol.py" and path.parent.name == "runtime_core":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _speaks_the_api(node.value)
            and " " not in node.value.strip()  # a name or a path, not a sentence naming one
        ]
    assert found == []
