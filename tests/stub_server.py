"""A threaded HTTP server on 127.0.0.1 for the suite's stand-ins of AWS's side.

The fake Runtime and Extensions APIs and the log sink each play one endpoint; what they
share is written here once: a quiet HTTP/1.1 handler (keep-alive, as Lambda's APIs are)
that reads a request's body and writes a reply with its length, and a server on a free
port that serves from a daemon thread until ``close``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubHandler(BaseHTTPRequestHandler):
    """Subclass it with ``do_GET``/``do_POST``...; nothing is logged to stderr."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StubServer:
    """``handler`` served on a free port of 127.0.0.1 (``address``: ``host:port``).
    ``poll_s``: how often the serving thread looks for ``close``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], poll_s: float = 0.5) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, args=(poll_s,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
