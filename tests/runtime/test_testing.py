"""``runtime_core.testing.invoke`` gives what the real runtime posts, byte for byte.

Each case runs once in-process through ``invoke`` and once through the real ``bootstrap``
in the local Lambda; the payloads (results and error documents) must be the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from runtime_core.testing import invoke

APP = """
    import asyncio
    from runtime_core import current_invocation, streaming_response

    def echo(event, context):
        return {"event": event, "left": context.get_remaining_time_in_millis() > 0,
                "same_id": current_invocation().request_id == context.aws_request_id}

    def fails(event, context):
        raise ValueError(f"bad value: {event!r}")

    def unserialisable(event, context):
        return {1, 2}

    async def async_echo(event, context):
        await asyncio.sleep(0)
        return event

    @streaming_response
    async def streams(event, stream, context):
        await stream.write(b"one ")
        await stream.write(b"two")
"""
CASES = ["echo", "fails", "unserialisable", "async_echo"]


@pytest.fixture
def runtime_python() -> Path:
    """In-process is the suite's own interpreter, so the real runtime runs on it too."""
    return Path(sys.executable)


@pytest.fixture
def app(function_dir: Path) -> Iterator[Path]:
    from tests.conftest import write_function

    write_function(function_dir, {"app.py": APP})
    sys.path.insert(0, str(function_dir))
    yield function_dir
    sys.path.remove(str(function_dir))
    sys.modules.pop("app", None)


@pytest.mark.parametrize("name", CASES)
def test_invoke_gives_the_runtimes_bytes(
    app: Path, make_lambda: Callable[..., LocalLambda], name: str
) -> None:
    import app as module  # type: ignore[import-not-found]

    local = invoke(getattr(module, name), {"k": [1, 2]}, request_id="req-1")
    lam = make_lambda({"app.py": APP}, handler=f"app.{name}")
    real = lam.invoke({"k": [1, 2]})
    if local.is_error:
        assert real.function_error == "Unhandled"
        expected, got = real.json(), local.json()
        got["requestId"] = expected.get("requestId", got.get("requestId"))
        assert got == expected
        assert local.error_type == expected["errorType"]
    else:
        assert local.payload == real.payload


def test_streaming_chunks_are_collected(app: Path) -> None:
    import app as module

    result = invoke(module.streams, {})
    assert result.chunks == [b"one ", b"two"]
    assert result.payload == b"one two" and not result.is_error


def test_a_handler_spec_and_lambda_shaped_context(app: Path) -> None:
    result = invoke("app.echo", {"a": 1}, timeout_s=2.0)
    assert result.json() == {"event": {"a": 1}, "left": True, "same_id": True}


def test_raw_runtime_api_headers_reach_the_handler_as_from_lambda() -> None:
    """``headers`` are decoded by the engines' own code: names in any case, raw values
    (a malformed client context is the handler's context refusing it), None drops one."""
    from runtime_core.testing import make_invocation

    seen = make_invocation(
        {"n": 1},
        client_context={"custom": {"k": "v"}},
        headers={
            "lambda-runtime-aws-tenant-id": "tenant-7",
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Lambda-Runtime-Client-Context": None,
            "Lambda-Runtime-Cognito-Identity": "",  # empty, as Managed Instances send it
        },
    )
    assert (seen.tenant_id, seen.client_context, seen.cognito_identity) == ("tenant-7", None, None)
    assert seen.trace_id == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    refused = invoke(
        lambda event, context: "unreached",
        {"n": 1},
        headers={"Lambda-Runtime-Client-Context": "{not json"},
    )
    assert refused.error_type == "Runtime.LambdaContextUnmarshalError"
