"""The functions the checks invoke, written to a fresh task root for each run.

Plain Lambda Python handlers: nothing here is specific to one runtime. The streaming
handler is an ``async def`` generator, the usual way a Python runtime is told to stream.
"""

from __future__ import annotations

from pathlib import Path

APP = '''\
"""Handlers the conformance checks invoke."""
import os
import time


def ok(event, context):
    return {"ok": True, "echo": event}


def fail(event, context):
    raise ValueError("conformance boom")


def describe(event, context):
    client = context.client_context
    identity = context.identity
    return {
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "tenant_id": getattr(context, "tenant_id", None) or None,
        "client_custom": getattr(client, "custom", None) if client else None,
        "identity_id": (getattr(identity, "cognito_identity_id", None) or None) \
if identity else None,
    }


def big(event, context):
    return "x" * (7 * 1024 * 1024)


def rendezvous(event, context):
    """Wait (up to a limit) until ``peers`` invokes are inside this handler at the same time."""
    folder = event["folder"]
    open(os.path.join(folder, context.aws_request_id), "w").close()
    limit = time.monotonic() + float(event.get("limit", 5.0))
    while time.monotonic() < limit:
        if len(os.listdir(folder)) >= event["peers"]:
            return {"met": True}
        time.sleep(0.01)
    return {"met": False}


async def stream(event, context):
    yield b"conformance,"
    yield b"streamed"


async def stream_fail(event, context):
    yield b"half"
    raise ValueError("conformance stream boom")
'''

BROKEN = '''\
"""A module that fails while it is imported: an init error."""
raise RuntimeError("conformance init failure")


def handler(event, context):
    return "unreachable"
'''

# An internal extension registered from the function's own init, and a SIGTERM handler:
# the usual way a Python function asks for a graceful shutdown (spec §5).
SHUTDOWN = '''\
"""Registers an internal extension, so Lambda sends SIGTERM at shutdown, and handles it."""
import json
import os
import signal
import sys
import threading
import urllib.request

BASE = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"


def _register():
    request = urllib.request.Request(
        BASE + "/register",
        data=json.dumps({"events": []}).encode(),
        headers={"Lambda-Extension-Name": "conform-shutdown"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return response.headers["Lambda-Extension-Identifier"]


def _poll(identifier):
    request = urllib.request.Request(BASE + "/event/next", \
headers={"Lambda-Extension-Identifier": identifier})
    try:
        urllib.request.urlopen(request).read()
    except OSError:
        pass


def _on_sigterm(signum, frame):
    sys.stdout.write("conform: SIGTERM received\\n")
    sys.stdout.flush()
    os._exit(0)


_identifier = _register()
threading.Thread(target=_poll, args=(_identifier,), daemon=True).start()
signal.signal(signal.SIGTERM, _on_sigterm)


def handler(event, context):
    return {"ok": True}
'''


def write(root: Path) -> Path:
    """Write the check functions under ``root`` (the task root) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "conform_app.py").write_text(APP)
    (root / "conform_broken.py").write_text(BROKEN)
    (root / "conform_shutdown.py").write_text(SHUTDOWN)
    return root
