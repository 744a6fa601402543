"""The Extensions API client against the local Lambda's real Extensions API.

The local Lambda is an independent reading of the protocol (it never imports
runtime_core), so these show the client's requests are ones Lambda accepts, and that
Lambda's refusals reach the caller as ``ExtensionApiError`` with their ``errorType``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from runtime_core.extensions import ExtensionApiError, ExtensionClient
from runtime_core.protocol import ApiError
from tests.conftest import on_bootstrap, write_function


@pytest.fixture
def lam(function_dir: Path) -> Iterator[LocalLambda]:

    write_function(function_dir, {"app.py": "def handler(event, context):\n    return event\n"})
    config = on_bootstrap(function_dir, function_name="client-test")
    with LocalLambda(config) as local:
        yield local


def test_register_answers_the_function_it_serves(lam: LocalLambda) -> None:
    async def scenario() -> None:
        client = ExtensionClient(lam.runtime_api, "probe")
        try:
            registration = await client.register([])
            assert registration.function_name == "client-test"
            assert registration.function_version == "$LATEST"
            assert registration.handler == "app.handler"
            assert registration.extension_id and client.extension_id == registration.extension_id
            await client.exit_error("Extension.Test", "done testing")  # 202: no exception
        finally:
            client.close()

    asyncio.run(scenario())


def test_lambdas_refusals_carry_their_error_type(lam: LocalLambda) -> None:
    async def scenario() -> None:
        nameless = ExtensionClient(lam.runtime_api, "")
        with pytest.raises(ExtensionApiError) as refused:
            await nameless.register([])
        assert refused.value.status == 403
        assert refused.value.error_type == "Extension.InvalidExtensionName"
        nameless.close()

        unregistered = ExtensionClient(lam.runtime_api, "early")
        with pytest.raises(ApiError, match="has not registered yet"):
            await unregistered.next_event()
        unregistered.close()

    asyncio.run(scenario())


def test_registration_closes_once_the_runtime_asked_for_work(lam: LocalLambda) -> None:
    assert lam.invoke({"x": 1}).json() == {"x": 1}

    async def scenario() -> None:
        late = ExtensionClient(lam.runtime_api, "late")
        try:
            with pytest.raises(ExtensionApiError) as refused:
                await late.register(["INVOKE"])
            assert refused.value.error_type == "Extension.RegistrationClosed"
        finally:
            late.close()

    asyncio.run(scenario())
