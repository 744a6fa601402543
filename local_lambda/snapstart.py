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

import asyncio
import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import log_frames
from .extensions_api import RegisteredExtension
from .freezer import Freezer
from .memory import MemoryMeter
from .model import InvokeOutcome

__all__ = [
    "AGENT_DIR",
    "CREDENTIALS_PATH",
    "KEY_VARIABLES",
    "Restored",
    "Snapshot",
    "SnapshotLost",
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
    """A function's snapshot: taken once, in the first environment's runtime, when it asks
    ``restore/next``; then every environment of the function runs a fork of it.

    The agent's *holder* (see ``snapstart_agent``) connects to :attr:`control` and forks a
    copy per :meth:`restore`; it outlives the environments, and :meth:`close` (the
    function's end) ends it. Lives on the local Lambda's event loop."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="lambdaboot-snapshot-")
        self._port_file = os.path.join(self._dir, "port")
        self._loop = asyncio.get_running_loop()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(self._port_file + ".sock")
        self._listener.listen(1)
        self._listener.setblocking(False)
        self._loop.add_reader(self._listener, self._accept)
        self._holder: socket.socket | None = None
        self.holder_pid = 0
        self._holder_fd = -1
        # The holder leaves the first environment's cgroups for groups of its own, so
        # that environment's freeze and end do not reach it.
        name = f"lambdaboot-snapshot-{os.path.basename(self._dir)[-8:]}"
        self._groups = (MemoryMeter(name, "auto"), Freezer(name))
        self._forked: asyncio.Future[int] | None = None
        self._letting_out: asyncio.Task[None] | None = None
        self._closed = False
        self._forking = asyncio.Lock()
        self._exits: dict[int, asyncio.Future[int]] = {}
        #: Set once the holder has reported (then :attr:`held`): environments of other
        #: local Lambdas wait for it before being made from the snapshot (the dev loop).
        self.published = asyncio.Event()
        #: Whether a runtime had no agent (not a Python program): nothing can be forked,
        #: each environment then runs init and restores in place.
        self.in_place = False
        #: The environment the snapshot's runtime was started with (every copy has it).
        self.env: dict[str, str] = {}
        #: The keys the container-credentials endpoint serves (see credentials_environment).
        self.credentials: dict[str, str] = {}
        #: The internal extensions registered (for no events) when it was taken: every copy
        #: has them registered, as a runtime's shutdown hooks need (Lambda sends SIGTERM to
        #: a runtime only when an extension is registered).
        self.extensions: list[RegisteredExtension] = []

    def starting(self, env: dict[str, str], credentials: dict[str, str]) -> None:
        """The runtime the snapshot is taken of starts with ``env`` and serves
        ``credentials``: every copy of it will have both."""
        self.env, self.credentials = dict(env), credentials

    @property
    def held(self) -> bool:
        """Whether the snapshot exists (environments are then made from it)."""
        return self._holder is not None

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The variables that load the agent into a Python runtime (which removes them)."""
        original = env.get("PYTHONPATH")
        path = os.fspath(AGENT_DIR) + (":" + original if original else "")
        return {
            "PYTHONPATH": path,
            "_LOCAL_LAMBDA_PYTHONPATH": "" if original is None else "=" + original,
            "_LOCAL_LAMBDA_SNAPSHOT": f"{int(_SIGNAL)}:{self._port_file}",
        }

    def take(self, pid: int, port: int, extensions: list[RegisteredExtension]) -> bool:
        """Fork the runtime ``pid``, which waits on ``restore/next`` from ``port``, with the
        internal ``extensions`` registered. False when no agent runs in it (not a Python
        runtime): then nothing is forked."""
        agent = self._port_file + ".agent"
        if not os.path.exists(agent):
            self.in_place = True
            return False
        if port == 0:
            return False
        self.extensions = list(extensions)
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

    async def restore(self, output_fd: int, gate_fd: int, telemetry_fd: int = -1) -> Restored:
        """A new copy of the snapshot for an environment: its output goes to ``output_fd``,
        it waits for "go" on ``gate_fd``, its telemetry frames go to ``telemetry_fd``.
        May be awaited on another local Lambda's event loop (the dev loop's environments
        share one snapshot): the copy is then made on this one's, and reported on that one."""
        caller = asyncio.get_running_loop()
        if caller is not self._loop:
            made = asyncio.run_coroutine_threadsafe(
                self._restore_for(caller, output_fd, gate_fd, telemetry_fd), self._loop
            )
            return await asyncio.wrap_future(made)
        async with self._forking:
            holder = self._holder
            if holder is None:
                raise SnapshotLost("the SnapStart snapshot is gone")
            fds = [output_fd, gate_fd]
            message = b"restore"
            if telemetry_fd >= 0 and log_frames.ENV in self.env:
                fds.append(telemetry_fd)
                message += b" " + self.env[log_frames.ENV].encode()
            self._forked = self._loop.create_future()
            socket.send_fds(holder, [message], fds)
            pid = await self._forked
        return Restored(pid, self._exits[pid])

    async def _restore_for(
        self, caller: asyncio.AbstractEventLoop, output_fd: int, gate_fd: int, telemetry_fd: int
    ) -> Restored:
        copy = await self.restore(output_fd, gate_fd, telemetry_fd)
        return Restored(copy.pid, _mirrored(copy.exited, caller))

    def _accept(self) -> None:
        try:
            holder, _ = self._listener.accept()
        except BlockingIOError:
            return
        self._loop.remove_reader(self._listener)
        holder.setblocking(False)
        self._loop.add_reader(holder, self._hear, holder)

    def _hear(self, holder: socket.socket) -> None:
        try:
            message = holder.recv(256)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if not message:  # the holder has ended
            self._loop.remove_reader(holder)
            holder.close()
            self._holder = None
            if self._forked is not None and not self._forked.done():
                self._forked.set_exception(SnapshotLost("the SnapStart snapshot is gone"))
            for pid, exited in self._exits.items():  # no one reports their end now: end them
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                if not exited.done():
                    exited.set_result(-signal.SIGKILL)
            self._exits.clear()
            return
        word, *numbers = message.split()
        values = [int(n) for n in numbers]
        if word == b"holder":
            self.holder_pid = values[0]
            self._holder_fd = os.pidfd_open(self.holder_pid)  # not our child: to see it end
            self._letting_out = self._loop.create_task(self._let_out(holder))
        elif word == b"pid" and self._forked is not None and not self._forked.done():
            self._exits[values[0]] = self._loop.create_future()  # before its end can come
            self._forked.set_result(values[0])
        elif word == b"exit":
            ended = self._exits.pop(values[0], None)
            if ended is not None and not ended.done():
                ended.set_result(values[1])

    async def _let_out(self, holder: socket.socket) -> None:
        """Move the holder into the snapshot's cgroups, off the event loop (each move
        waits out an RCU grace period, longer on a loaded machine, and the loop serves
        every environment meanwhile), then tell it it is out."""
        loop = self._loop
        await asyncio.gather(
            *(loop.run_in_executor(None, group.adopt, self.holder_pid) for group in self._groups)
        )
        if holder.fileno() < 0 or self._closed:  # it has ended meanwhile, or the function
            return
        with contextlib.suppress(OSError):  # (it has ended: seen as the socket closes)
            holder.send(b"out")  # it may let the first environment's copy go on
        self._holder = holder
        self.published.set()

    def kill(self) -> None:
        """SIGKILL the holder (without waiting): at the function's end, or the interpreter's."""
        if self.holder_pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.holder_pid, signal.SIGKILL)
        self._groups[0].kill_members()

    def close(self) -> None:
        """The function is gone: so are the snapshot, its holder and its files."""
        self._closed = True
        self.kill()
        if self._holder_fd >= 0:  # wait (briefly) until it has ended
            select.select([self._holder_fd], [], [], 5.0)
            os.close(self._holder_fd)
            self._holder_fd = -1
        self._loop.remove_reader(self._listener)
        self._listener.close()
        if self._holder is not None:
            self._loop.remove_reader(self._holder)
            self._holder.close()
            self._holder = None
        for group in self._groups:
            group.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(self._dir)


def _mirrored(source: asyncio.Future[int], loop: asyncio.AbstractEventLoop) -> asyncio.Future[int]:
    """A future of ``loop`` that gets ``source``'s result (``source`` is this thread's loop's)."""
    mirror: asyncio.Future[int] = loop.create_future()

    def settle(status: int) -> None:
        if not mirror.done():
            mirror.set_result(status)

    def copied(done: asyncio.Future[int]) -> None:
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, done.result())

    source.add_done_callback(copied)
    return mirror


@dataclass(frozen=True)
class Restored:
    """A copy of the snapshot: its pid, and its exit status once it has ended (the holder,
    its parent, reports it; negative: killed by that signal)."""

    pid: int
    exited: asyncio.Future[int]


class SnapshotLost(Exception):
    """The holder has ended (killed from outside): no copy can be made any more."""
