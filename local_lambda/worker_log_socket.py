"""The Unix socket Managed Instances give a runtime for its worker processes' output.

On Lambda Managed Instances the runtime may run several worker processes;
awslambdaric's workers connect to the socket named by
``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`` and write their stdout and stderr to it, line
by line, instead of to the runtime's own pipes. The local Lambda serves one per function,
for as long as it is open, and passes each line on as function output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable

#: The variable that names the socket in the runtime's environment.
LOG_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"


class WorkerLogSocket:
    """One socket in a private folder; ``line`` gets each line it receives (without its
    end of line)."""

    def __init__(self, line: Callable[[str], None]) -> None:
        self._line = line
        self._folder = ""
        self._server: asyncio.AbstractServer | None = None

    async def open(self) -> str:
        """Start listening; returns the socket's path (for ``LOG_SOCKET_ENV``)."""
        self._folder = tempfile.mkdtemp(prefix="lambdaboot-logs-")
        path = os.path.join(self._folder, "log.sock")
        self._server = await asyncio.start_unix_server(self._take, path)
        return path

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            self._line(line.decode("utf-8", "replace").rstrip("\r\n"))
        writer.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
