"""The Extensions API (2020-01-01): registration, events, and extensions' error reports.

One :class:`ExtensionsApi` lives as long as its :class:`~local_lambda.runtime_api.RuntimeApi`;
:meth:`ExtensionsApi.reset` begins a new environment. It keeps each extension's state
(spec §5): registered, waiting on ``/event/next`` (parked), or busy with an event. The
Runtime API asks it two questions: has every extension called next once (init may end),
and is every extension waiting again (the invocation may end). It tells the Runtime API
about failures through ``on_failure`` (an error type and a message), and about every
change of state through ``on_change``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from . import protocol
from .httpserver import HttpRequest

_EVENT_TYPES = ("INVOKE", "SHUTDOWN")


@dataclass
class RegisteredExtension:
    """One registered extension and where it is in its event loop."""

    name: str
    events: list[str]
    external: bool
    identifier: str
    polled: bool = False  # has called /event/next at least once: its init is over
    parked: HttpRequest | None = None  # its /event/next, waiting for an event
    queue: deque[bytes] = field(default_factory=deque)
    error_type: str | None = None  # from /init/error or /exit/error
    # SnapStart: registered in the snapshot's init, by a thread the copy does not have (a
    # fork copies one): it waits on /event/next in the snapshot, as on Lambda.
    in_snapshot: bool = False

    @property
    def waiting(self) -> bool:
        """Waiting on /event/next with nothing to hand it."""
        if self.in_snapshot:
            return True
        return self.parked is not None and self.parked.connected and not self.queue


class ExtensionsApi:
    """AWS's side of /2020-01-01/extension/* for one environment at a time."""

    def __init__(
        self,
        function_name: str,
        handler: str,
        on_change: Callable[[], None] = lambda: None,
        on_failure: Callable[[str, str], None] = lambda error_type, message: None,
        invoke_events_allowed: bool = True,
        function_version: str = protocol.LATEST_VERSION,
    ) -> None:
        """``on_change``: an extension registered, polled or began waiting again;
        ``on_failure(error_type, message)``: one reported an error. Managed Instances let
        external extensions take SHUTDOWN only (``invoke_events_allowed=False``, spec §4.1).
        ``function_version`` is what REGISTER answers as ``functionVersion``."""
        self.function_name = function_name
        self.handler = handler
        self.function_version = function_version
        self.on_change = on_change
        self.on_failure = on_failure
        self.invoke_events_allowed = invoke_events_allowed
        self.reset()

    def reset(self) -> None:
        """A new environment: no extension registered, registration open."""
        self.extensions: dict[str, RegisteredExtension] = {}
        self.registration_open = True
        # File names of the external extensions started from /opt/extensions.
        self.launched: set[str] = set()
        self.shutting_down = False
        self._registration_waiters: list[tuple[int, asyncio.Future[None]]] = []

    # what the Runtime API and the sandbox ask
    def launching(self, names: set[str]) -> None:
        """Init begins with the external extensions ``names`` (file names in /opt/extensions)
        about to start: only they may register as external."""
        self.launched = set(names)

    def restored(self, extensions: list[RegisteredExtension]) -> None:
        """SnapStart: this environment is a copy of the snapshot, in which ``extensions``
        (internal, taking no events) registered during init and wait on /event/next."""
        for ext in extensions:
            self.extensions[ext.identifier] = RegisteredExtension(
                ext.name, [], False, ext.identifier, polled=True, in_snapshot=True
            )

    def close_registration(self) -> None:
        self.registration_open = False

    @property
    def all_polled(self) -> bool:
        return all(ext.polled for ext in self.extensions.values())

    @property
    def quiet(self) -> bool:
        """Every extension is waiting on /event/next again (an invocation may end)."""
        return all(ext.waiting for ext in self.extensions.values())

    def registered_external(self) -> int:
        return sum(1 for ext in self.extensions.values() if ext.external)

    def wait_registered(self, count: int) -> asyncio.Future[None]:
        """A future done once ``count`` external extensions have registered."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._registration_waiters.append((count, waiter))
        self._wake_registration_waiters()
        return waiter

    def _wake_registration_waiters(self) -> None:
        registered = self.registered_external()
        for count, waiter in self._registration_waiters:
            if registered >= count and not waiter.done():
                waiter.set_result(None)
        self._registration_waiters = [w for w in self._registration_waiters if not w[1].done()]

    def by_name(self, name: str) -> RegisteredExtension | None:
        for ext in self.extensions.values():
            if ext.name == name:
                return ext
        return None

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str, trace_id: str) -> None:
        """Send an INVOKE event to every extension that asked for them."""
        event: dict[str, object] = {
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": function_arn,
        }
        if trace_id:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace_id}
        body = json.dumps(event).encode()
        for ext in self.extensions.values():
            if "INVOKE" in ext.events:
                self._queue(ext, body)

    def shutdown(self, reason: str, deadline_ms: int) -> list[str]:
        """Send SHUTDOWN to the external extensions that asked for it; returns their names."""
        self.shutting_down = True
        body = json.dumps(
            {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        ).encode()
        names = []
        for ext in self.extensions.values():
            if ext.external and "SHUTDOWN" in ext.events:
                self._queue(ext, body)
                names.append(ext.name)
        return names

    def _queue(self, ext: RegisteredExtension, body: bytes) -> None:
        ext.queue.append(body)
        self._hand_over(ext)

    def _hand_over(self, ext: RegisteredExtension) -> None:
        parked = ext.parked
        if parked is None or not ext.queue:
            return
        ext.parked = None
        if not parked.connected:
            return  # it will ask again; the event stays queued
        parked.respond(200, ext.queue.popleft(), {protocol.H_EXTENSION_EVENT_ID: str(uuid.uuid4())})

    # the HTTP handler (paths after /2020-01-01/extension)
    def handle(self, request: HttpRequest, rest: str) -> None:
        if rest == "/register" and request.method == "POST":
            self._register(request)
        elif rest == "/event/next" and request.method == "GET":
            self._event_next(request)
        elif rest in ("/init/error", "/exit/error") and request.method == "POST":
            self._error(request, rest[1 : -len("/error")])
        else:
            request.respond(
                404,
                protocol.error_body("NotFound", f"No such path: {request.method} {request.path}"),
            )

    def _register(self, request: HttpRequest) -> None:
        name = request.headers.get(protocol.H_EXTENSION_NAME, "")
        try:
            events = list(json.loads(request.body or b"{}").get("events", []))
        except (ValueError, AttributeError, TypeError):
            request.respond(
                400,
                protocol.error_body(
                    "InvalidRequestFormat", 'The body must be JSON like {"events": ["INVOKE"]}'
                ),
            )
            return
        external = name in self.launched
        problem = None
        if not name:
            problem = ("Extension.InvalidExtensionName", "Empty extension name")
        elif not self.registration_open:
            problem = ("Extension.RegistrationClosed", "Extension registration closed already")
        elif self.by_name(name) is not None:
            problem = ("Extension.AlreadyRegistered", f"Extension {name} is already registered")
        elif len(self.extensions) >= protocol.MAX_EXTENSIONS:
            problem = (
                "Extension.TooManyExtensions",
                f"Too many extensions registered (at most {protocol.MAX_EXTENSIONS})",
            )
        elif any(event not in _EVENT_TYPES for event in events):
            problem = ("Extension.InvalidEventType", f"Unknown event types in {events}")
        elif "INVOKE" in events and external and not self.invoke_events_allowed:
            problem = (
                "Extension.InvalidEventType",
                "INVOKE events are not available on Lambda Managed Instances (SHUTDOWN only)",
            )
        elif not external and "SHUTDOWN" in events:
            problem = (
                "ShutdownEventNotSupportedForInternalExtension",
                "An internal extension cannot register for SHUTDOWN",
            )
        if problem is not None:
            request.respond(403, protocol.error_body(*problem))
            return
        identifier = str(uuid.uuid4())
        self.extensions[identifier] = RegisteredExtension(name, events, external, identifier)
        body: dict[str, str] = {
            "functionName": self.function_name,
            "functionVersion": self.function_version,
            "handler": self.handler,
        }
        if "accountId" in request.headers.get(protocol.H_EXTENSION_ACCEPT_FEATURE, ""):
            body["accountId"] = protocol.ACCOUNT_ID
        request.respond(200, json.dumps(body).encode(), {protocol.H_EXTENSION_ID: identifier})
        self._wake_registration_waiters()
        self.on_change()

    def known(self, request: HttpRequest) -> RegisteredExtension | None:
        """The extension named by the request's identifier header, or None (answered 403)."""
        identifier = request.headers.get(protocol.H_EXTENSION_ID.lower(), "")
        if not identifier:
            request.respond(
                403,
                protocol.error_body(
                    "Extension.MissingExtensionIdentifier",
                    "Missing Lambda-Extension-Identifier header",
                ),
            )
            return None
        extension = self.extensions.get(identifier)
        if extension is None:
            request.respond(
                403,
                protocol.error_body(
                    "Extension.UnknownExtensionIdentifier", "Unknown extension " + identifier
                ),
            )
        return extension

    def _event_next(self, request: HttpRequest) -> None:
        ext = self.known(request)
        if ext is None:
            return
        if ext.error_type is not None:
            request.respond(
                403,
                protocol.error_body(
                    "Extension.InvalidStateTransition",
                    f"Extension {ext.name} reported an error and cannot take events",
                ),
            )
            return
        ext.polled = True
        ext.parked = request
        self._hand_over(ext)
        self.on_change()

    def _error(self, request: HttpRequest, phase: str) -> None:
        ext = self.known(request)
        if ext is None:
            return
        error_type = _valid_error_type(request.headers.get(protocol.H_EXTENSION_ERROR_TYPE, ""))
        ext.error_type = error_type
        request.respond(202, protocol.ACCEPTED)
        detail = request.body.decode("utf-8", "replace")[:1000]
        self.on_failure(error_type, f"Extension {ext.name} reported {phase} error: {detail}")


def _valid_error_type(value: str) -> str:
    """An extension's error type is kept if it looks like Extension.Something."""
    prefix, _, rest = value.partition(".")
    if prefix == "Extension" and rest[:1].isupper() and rest.replace("_", "").isalnum():
        return value
    return "Extension.Unknown"


def deadline_in(ms: float) -> int:
    """A deadline ``ms`` from now, as epoch milliseconds (what events carry)."""
    return int(time.time() * 1000 + ms)
