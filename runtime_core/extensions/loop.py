"""``Extension``: the event loop of an external extension, over INVOKE and SHUTDOWN.

An extension registers callbacks and calls ``run()``. The loop registers under the
executable's file name (what Lambda requires of an external extension), subscribes to
telemetry if asked, runs the init callback, then waits on ``/event/next`` and hands each
event to its callback. Failures are reported the way Lambda expects: a failing init with
``/init/error``, a failing invoke callback with ``/exit/error``; either way the process
exits 1. On SHUTDOWN, telemetry still in flight is let in and handed over first, then the
shutdown callback runs with what is left of Lambda's budget.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import traceback
from typing import TYPE_CHECKING

from runtime_core.extensions.client import ExtensionApiError, ExtensionClient, Registration
from runtime_core.extensions.events import InvokeEvent, ShutdownEvent
from runtime_core.extensions.telemetry import TYPES, Buffering, TelemetryEvent, TelemetryListener
from runtime_core.protocol import ApiError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    InitCallback = Callable[[Registration], Awaitable[None]]
    InvokeCallback = Callable[[InvokeEvent], Awaitable[None]]
    ShutdownCallback = Callable[[ShutdownEvent], Awaitable[None]]
    TelemetryCallback = Callable[[list[TelemetryEvent]], Awaitable[None]]

__all__ = ["Extension"]

#: Time kept back from SHUTDOWN's deadline for the process to exit after the callback.
EXIT_MARGIN_S = 0.05


def _log(message: str) -> None:
    # An extension's stderr lines become its log records (type ``extension``).
    sys.stderr.write(f"[{_name_for_log}] {message}\n")
    sys.stderr.flush()


_name_for_log = "extension"


def _error_type(exc: Exception) -> str:
    """``Extension.<Reason>`` for init/error and exit/error: the API's own errorType when it
    refused something (e.g. ``Extension.ValidationError``), else the exception's class."""
    if isinstance(exc, ExtensionApiError):
        return "Extension." + exc.error_type.rpartition(".")[2]
    return "Extension." + type(exc).__name__


class _Telemetry:
    __slots__ = ("buffering", "callback", "listen_host", "port", "types", "uri_host")

    def __init__(
        self,
        callback: TelemetryCallback,
        types: tuple[str, ...],
        buffering: Buffering,
        listen_host: str,
        port: int,
        uri_host: str,
    ) -> None:
        unknown = [name for name in types if name not in TYPES]
        if unknown or not types:
            raise ValueError(f"telemetry types must be some of {TYPES}, got {types}")
        self.callback = callback
        self.types = types
        self.buffering = buffering
        self.listen_host = listen_host
        self.port = port
        self.uri_host = uri_host


class Extension:
    """An external Lambda extension; decorate async callbacks, then call ``run()``.

    ``name`` defaults to the executable's file name, which is what Lambda accepts for a
    file in ``/opt/extensions``.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or os.path.basename(sys.argv[0])
        self.registration: Registration | None = None
        self._init: InitCallback | None = None
        self._invoke: InvokeCallback | None = None
        self._shutdown: ShutdownCallback | None = None
        self._telemetry: _Telemetry | None = None
        self._listener: TelemetryListener | None = None

    def on_init(self, fn: InitCallback) -> InitCallback:
        """Run ``fn(registration)`` once registered, before the first event; raising fails
        the init."""
        self._init = fn
        return fn

    def on_invoke(self, fn: InvokeCallback) -> InvokeCallback:
        """Run ``fn(event)`` for each invocation. Registering it subscribes to INVOKE.

        The invocation ends only when the extension asks for its next event, that is,
        when ``fn`` returns: keep it short.
        """
        self._invoke = fn
        return fn

    def on_shutdown(self, fn: ShutdownCallback) -> ShutdownCallback:
        """Run ``fn(event)`` at SHUTDOWN, after the last telemetry has been handed over."""
        self._shutdown = fn
        return fn

    def on_telemetry(
        self,
        fn: TelemetryCallback | None = None,
        *,
        types: tuple[str, ...] = TYPES,
        buffering: Buffering | None = None,
        listen_host: str = "0.0.0.0",
        port: int = 0,
        uri_host: str = "sandbox.localdomain",
    ) -> Callable[[TelemetryCallback], TelemetryCallback]:
        """Subscribe to the Telemetry API; ``fn(events)`` gets each delivered batch, in order.

        Usable as ``@ext.on_telemetry`` or ``@ext.on_telemetry(types=("function",))``.
        The listener binds ``listen_host:port`` (0: any free port) and Lambda is told to
        deliver to ``http://{uri_host}:{port}``.
        """

        def decorate(callback: TelemetryCallback) -> TelemetryCallback:
            self._telemetry = _Telemetry(
                callback, types, buffering or Buffering(), listen_host, port, uri_host
            )
            return callback

        if fn is not None:
            decorate(fn)
        return decorate

    def run(self) -> None:
        """Serve until SHUTDOWN (on uvloop when it is installed), then exit with the loop's
        status."""
        global _name_for_log
        _name_for_log = self.name
        try:
            import uvloop
        except ImportError:
            status = asyncio.run(self.serve())
        else:
            status = uvloop.run(self.serve())
        sys.stdout.flush()
        sys.exit(status)

    async def serve(self, address: str | None = None) -> int:
        """The whole life of the extension; returns the exit status (0 after a normal SHUTDOWN)."""
        address = address or os.environ.get("AWS_LAMBDA_RUNTIME_API")
        if not address:
            _log(
                "AWS_LAMBDA_RUNTIME_API is not set: "
                "an extension runs inside Lambda or the local Lambda"
            )
            return 1
        client = ExtensionClient(address, self.name)
        try:
            return await self._serve(client)
        except ApiError as exc:
            _log(f"exiting: {exc}")
            return 1
        finally:
            client.close()
            if self._listener is not None:
                self._listener.close()

    async def _serve(self, client: ExtensionClient) -> int:
        events = ["SHUTDOWN"]
        if self._invoke is not None:
            events.insert(0, "INVOKE")
        self.registration = await client.register(events)
        consumer: asyncio.Task[None] | None = None
        try:
            if self._telemetry is not None:
                consumer = await self._subscribe(client, self._telemetry)
            if self._init is not None:
                await self._init(self.registration)
        except Exception as exc:  # a refused subscription too: the extension cannot work
            _log("init failed: " + "".join(traceback.format_exception(exc)).rstrip())
            await client.init_error(_error_type(exc), str(exc))
            return 1
        while True:
            event = await client.next_event()
            if isinstance(event, ShutdownEvent):
                return await self._shut_down(event, consumer)
            if self._invoke is None:
                continue
            try:
                await self._invoke(event)
            except Exception as exc:
                _log("invoke callback failed: " + "".join(traceback.format_exception(exc)).rstrip())
                await client.exit_error(_error_type(exc), str(exc))
                return 1

    async def _subscribe(
        self, client: ExtensionClient, telemetry: _Telemetry
    ) -> asyncio.Task[None]:
        listener = self._listener = TelemetryListener(telemetry.listen_host, telemetry.port)
        port = await listener.start()
        await client.subscribe_telemetry(
            f"http://{telemetry.uri_host}:{port}",
            list(telemetry.types),
            telemetry.buffering.as_json(),
        )
        return asyncio.create_task(self._consume(listener, telemetry.callback))

    async def _consume(self, listener: TelemetryListener, callback: TelemetryCallback) -> None:
        while True:
            batch = await listener.queue.get()
            try:
                await callback(batch)
            except Exception as exc:  # one bad batch must not stop the next ones
                _log(f"telemetry callback failed: {exc!r}")
            finally:
                listener.queue.task_done()

    async def _shut_down(self, event: ShutdownEvent, consumer: asyncio.Task[None] | None) -> int:
        def left_s() -> float:
            return event.deadline_ms / 1000 - time.time() - EXIT_MARGIN_S

        listener = self._listener
        if listener is not None and consumer is not None:
            # Let the last records in (up to half the budget), then let the callback see them.
            buffering = self._telemetry.buffering if self._telemetry else Buffering()
            quiet = buffering.timeout_ms / 1000 + 0.05
            await listener.settle(quiet, max(0.0, left_s() / 2))
            try:
                await asyncio.wait_for(listener.queue.join(), max(0.0, left_s() / 2))
            except TimeoutError:
                _log("telemetry was still being handled when the shutdown budget ran short")
            consumer.cancel()
        status = 0
        if self._shutdown is not None:
            try:
                await asyncio.wait_for(self._shutdown(event), max(0.0, left_s()))
            except TimeoutError:
                _log("the shutdown callback did not finish within Lambda's budget")
                status = 1
            except Exception as exc:
                _log(
                    "shutdown callback failed: " + "".join(traceback.format_exception(exc)).rstrip()
                )
                status = 1
        return status
