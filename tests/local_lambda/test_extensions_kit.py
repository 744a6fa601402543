"""Helpers for the layer, extension and Telemetry tests (no tests here).

Layers are zips made by hand. An *extension* is a small Python program with http.client
(the prelude below), placed in a layer's ``extensions/`` folder; it appends what it saw as
JSON lines to the file in $RECORD. :class:`TelemetryListener` is a real HTTP server that
collects what the Telemetry API delivers.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

EXTENSION_PRELUDE = f"""#!{sys.executable}
import http.client, json, os, sys, time
HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
EXT = "/2020-01-01/extension"
NAME = os.path.basename(sys.argv[0])

def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request(method, path, body=body, headers=headers or {{}})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {{k.lower(): v for k, v in resp.getheaders()}}, data

def record(**fields):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({{"who": NAME, **fields}}) + "\\n")

def register(events):
    status, headers, body = call("POST", EXT + "/register", json.dumps({{"events": events}}),
                                 {{"Lambda-Extension-Name": NAME}})
    record(registered=status, body=json.loads(body))
    return headers.get("lambda-extension-identifier", "")

def next_event(ident):
    status, headers, body = call("GET", EXT + "/event/next", None, \
{{"Lambda-Extension-Identifier": ident}})
    event = json.loads(body)
    record(event=event, status=status)
    return event

def subscribe(ident, port, api="/2022-07-01/telemetry", host="sandbox.localdomain", **buffering):
    body = {{"schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
            "destination": {{"protocol": "HTTP", "URI": f"http://{{host}}:{{port}}"}},
            "buffering": buffering or {{"timeoutMs": 25}}}}
    status, _, answer = call("PUT", api, json.dumps(body), {{"Lambda-Extension-Identifier": ident}})
    return status, answer
"""

# Registers for INVOKE and SHUTDOWN, records every event, exits on SHUTDOWN.
RECORDER = """
ident = register(["INVOKE", "SHUTDOWN"])
print("recorder ready", flush=True)
while True:
    event = next_event(ident)
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
"""


def extension(body: str) -> str:
    return EXTENSION_PRELUDE + textwrap.dedent(body)


def make_layer(path: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    """A layer zip: ``files`` by name; names under extensions/ and in ``executable`` get 0755."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            mode = 0o755 if name.startswith("extensions/") or name in executable else 0o644
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, textwrap.dedent(text) if not text.startswith("#!") else text)
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class TelemetryListener:
    """A real HTTP listener on 127.0.0.1: every POSTed JSON array is kept, in order.
    ``listening=False``: its port is taken but refuses connections until :meth:`listen`."""

    def __init__(self, listening: bool = True) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.sizes: list[int] = []
        self._changed = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with listener._changed:
                    listener.batches.append(json.loads(body))
                    listener.sizes.append(len(body))
                    listener._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.server_bind()
        self.port = self._server.server_address[1]
        self._serving = False
        if listening:
            self.listen()

    def listen(self) -> None:
        self._server.server_activate()
        self._serving = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._changed:
            return [item for batch in self.batches for item in batch]

    def wait_for(self, event_type: str, timeout: float = 30.0, **record: Any) -> dict[str, Any]:
        """The first delivered item of ``event_type`` whose record has these fields."""

        def found() -> dict[str, Any] | None:
            for item in (i for batch in self.batches for i in batch):
                rec = item["record"]
                if item["type"] == event_type and all(
                    isinstance(rec, dict) and rec.get(k) == v for k, v in record.items()
                ):
                    return item
            return None

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            item = found()
        assert item is not None, f"no {event_type} {record} delivered; got {self.batches}"
        return item

    def close(self) -> None:
        if self._serving:  # (shutdown waits for serve_forever)
            self._server.shutdown()
        self._server.server_close()
