"""SnapStart, the platform's side: the snapshot as a fork, and credentials from an endpoint.

On Lambda, a SnapStart version is initialised once (init and the before-snapshot hooks),
its microVM is snapshotted while the runtime waits on ``GET /runtime/restore/next``, and
each cold start resumes a copy, which runs the after-restore hooks and asks for ``/next``.
A memory snapshot cannot be taken here (CRIU cannot run on these machines), so a real
separation is made with a fork: :class:`Snapshot` has the agent
(``local_lambda/snapstart_agent``) loaded into a Python runtime, and when the runtime asks
``restore/next`` it signals the agent, which forks the runtime's process. The child, a
different process from the one that ran init, runs the restore path.

SnapStart functions are not given the execution role's keys as variables; they get
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, and the
SDK fetches the keys from that endpoint when it needs them, so none are in the snapshot
(see docs/snapstart.md). The local Lambda serves that endpoint on the Runtime API's port.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path

from .model import InvokeOutcome

__all__ = [
    "AGENT_DIR",
    "CREDENTIALS_PATH",
    "KEY_VARIABLES",
    "Snapshot",
    "credentials_body",
    "credentials_environment",
    "snapstart_timeout",
]

AGENT_DIR = Path(__file__).parent / "snapstart_agent"
#: Where the Runtime API's port serves the credentials (the path AWS's own endpoint uses).
CREDENTIALS_PATH = "/2021-04-23/credentials"
#: What a SnapStart function is not given as variables.
KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Variables AWS documents as absent in SnapStart functions.
_ABSENT = ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME")
_SIGNAL = signal.SIGRTMIN + 5  # the agent's; a runtime has no business with it


#: What the invoke API answers when a restore outlasts its limit (Lambda's Invoke API:
#: ``SnapStartTimeoutException``, HTTP 408; see docs/snapstart.md).
TIMEOUT_ERROR = "SnapStartTimeoutException"
TIMEOUT_STATUS = 408
TIMEOUT_MESSAGE = "Lambda couldn't restore the snapshot within the timeout limit."


def snapstart_timeout() -> InvokeOutcome:
    """The invoker's answer when the restore (after-restore hooks) outlasts its limit: not
    a function error but an error of the Invoke API itself."""
    body = json.dumps({"Type": "User", "message": TIMEOUT_MESSAGE}).encode()
    return InvokeOutcome(body, None, TIMEOUT_ERROR, "timeout", TIMEOUT_STATUS)


def credentials_environment(env: dict[str, str], runtime_api: str) -> dict[str, str]:
    """``env`` as a SnapStart function gets it: the keys moved behind the endpoint (they are
    returned as the second dict, for the endpoint to serve), the log group and stream gone."""
    keys = {name: env.pop(name) for name in KEY_VARIABLES if name in env}
    for name in _ABSENT:
        env.pop(name, None)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{runtime_api}{CREDENTIALS_PATH}"
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = secrets.token_urlsafe(24)
    return keys


def credentials_body(keys: dict[str, str]) -> bytes | None:
    """The endpoint's JSON (the container provider's format), None without keys."""
    if "AWS_ACCESS_KEY_ID" not in keys or "AWS_SECRET_ACCESS_KEY" not in keys:
        return None
    import datetime

    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    return json.dumps(
        {
            "AccessKeyId": keys["AWS_ACCESS_KEY_ID"],
            "SecretAccessKey": keys["AWS_SECRET_ACCESS_KEY"],
            "Token": keys.get("AWS_SESSION_TOKEN", ""),
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()


class Snapshot:
    """One environment's snapshot: the agent's variables, then :meth:`take`."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="lambdaboot-snapshot-")
        self._port_file = os.path.join(self._dir, "port")

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The variables that load the agent into a Python runtime (which removes them)."""
        original = env.get("PYTHONPATH")
        path = os.fspath(AGENT_DIR) + (":" + original if original else "")
        return {
            "PYTHONPATH": path,
            "_LOCAL_LAMBDA_PYTHONPATH": "" if original is None else "=" + original,
            "_LOCAL_LAMBDA_SNAPSHOT": f"{int(_SIGNAL)}:{self._port_file}",
        }

    def take(self, pid: int, port: int) -> bool:
        """Fork the runtime ``pid``, which waits on ``restore/next`` from ``port``. False
        when no agent runs in it (not a Python runtime): then nothing is forked."""
        agent = self._port_file + ".agent"
        if not os.path.exists(agent) or port == 0:
            return False
        with open(agent) as source:
            agent_pid = int(source.read() or 0)
        with open(self._port_file + ".tmp", "w") as target:
            target.write(str(port))
        os.replace(self._port_file + ".tmp", self._port_file)
        try:
            os.kill(agent_pid or pid, _SIGNAL)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self._dir)
