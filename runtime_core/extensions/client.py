"""The Extensions API (2020-01-01) and the Telemetry API subscription, as async calls.

One ``ExtensionClient`` per extension process. It is the async engine's own client
(``engine.aio_client.AsyncRuntimeClient``: the same requests from ``protocol``, the same
driver, the same reconnect rules), plus what only an extension says: its identity,
Telemetry subscription and errors. One request at a time: an extension's calls are
sequential (register, subscribe, then next / error), and ``/event/next`` is a long poll
that holds the connection until Lambda has an event.
"""

from __future__ import annotations

import json

from runtime_core.engine.aio_client import AsyncRuntimeClient
from runtime_core.extensions.events import InvokeEvent, ShutdownEvent, parse_event
from runtime_core.protocol import H_EXTENSION_ID, TELEMETRY_SCHEMA, ApiError, Request, Response
from runtime_core.transport.aio import AsyncTransport

__all__ = ["ExtensionApiError", "ExtensionClient", "Registration"]


class ExtensionApiError(ApiError):
    """The API refused a call; ``error_type`` is its ``errorType`` (e.g.
    ``Extension.RegistrationClosed``)."""

    def __init__(self, what: str, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{what} answered {status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message


class Registration:
    """What ``/register`` answered: the extension's identifier and the function it serves."""

    __slots__ = ("extension_id", "function_name", "function_version", "handler")

    def __init__(self, extension_id: str, function_name: str, function_version: str, handler: str):
        self.extension_id = extension_id
        self.function_name = function_name
        self.function_version = function_version
        self.handler = handler


def _refusal(what: str, response: Response) -> ExtensionApiError:
    try:
        data = json.loads(response.body)
        error_type, message = str(data["errorType"]), str(data.get("errorMessage", ""))
    except (ValueError, KeyError, TypeError):
        error_type, message = "Unknown", response.body[:300].decode("utf-8", "replace")
    return ExtensionApiError(what, response.status, error_type, message)


class ExtensionClient:
    """Calls the Extensions and Telemetry APIs at ``address`` (``AWS_LAMBDA_RUNTIME_API``)."""

    def __init__(self, address: str, name: str) -> None:
        self.address = address
        #: The registration name: for an external extension, its file name in /opt/extensions.
        self.name = name
        self.extension_id: str | None = None
        self._client = AsyncRuntimeClient(address, AsyncTransport(address))
        self._protocol = self._client.protocol

    def _checked(self, what: str, response: Response, ok: tuple[int, ...]) -> Response:
        if response.status not in ok:
            raise _refusal(what, response)
        return response

    async def _send(self, what: str, request: Request, ok: tuple[int, ...]) -> Response:
        return self._checked(what, (await self._client.send(request))[0], ok)

    def _id(self) -> str:
        if self.extension_id is None:
            raise ApiError("the extension has not registered yet: call register() first")
        return self.extension_id

    async def register(self, events: list[str]) -> Registration:
        """Register for ``events`` (``INVOKE``, ``SHUTDOWN``); must happen before the
        runtime's first /next."""
        body = json.dumps({"events": events}).encode()
        response = self._checked(
            "POST /extension/register",
            await self._client.register_extension(self.name, body),
            (200,),
        )
        extension_id = response.headers.get(H_EXTENSION_ID.lower())
        if not extension_id:
            raise ApiError(
                "POST /extension/register answered without a Lambda-Extension-Identifier"
            )
        self.extension_id = extension_id
        try:
            info = json.loads(response.body or b"{}")
        except ValueError:
            info = {}
        return Registration(
            extension_id,
            str(info.get("functionName", "")),
            str(info.get("functionVersion", "")),
            str(info.get("handler", "")),
        )

    async def next_event(self) -> InvokeEvent | ShutdownEvent:
        """Wait (without a timeout) for the next event; calling it says the last one is handled."""
        response = await self._client.next_extension_event(self._id())
        return parse_event(self._checked("GET /extension/event/next", response, (200,)).body)

    async def subscribe_telemetry(
        self, uri: str, types: list[str], buffering: dict[str, int]
    ) -> None:
        """Ask Lambda to POST telemetry of ``types`` to ``uri``; only allowed during init."""
        body = {
            "schemaVersion": TELEMETRY_SCHEMA,
            "destination": {"protocol": "HTTP", "URI": uri},
            "types": types,
            "buffering": buffering,
        }
        request = self._protocol.telemetry_subscribe(self._id(), json.dumps(body).encode())
        await self._send("PUT /telemetry", request, (200,))

    async def init_error(self, error_type: str, message: str) -> None:
        """Report that init failed (Lambda fails the environment's init); exit right after."""
        await self._error("init", error_type, message)

    async def exit_error(self, error_type: str, message: str) -> None:
        """Report a failure before exiting, so Lambda can tell why the extension ended."""
        await self._error("exit", error_type, message)

    async def _error(self, kind: str, error_type: str, message: str) -> None:
        body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})
        request = self._protocol.extension_error(self._id(), kind, error_type, body.encode())
        await self._send(f"POST /extension/{kind}/error", request, (200, 202))

    def close(self) -> None:
        self._client.close()
