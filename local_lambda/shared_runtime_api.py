"""One Runtime API address for the environments of several local Lambdas.

On Lambda every execution environment finds the Runtime API at the same address
(``AWS_LAMBDA_RUNTIME_API``, 127.0.0.1:9001): each environment is a microVM of its own,
so that address is each one's own. SnapStart relies on it: every environment of a
version resumes one snapshot, whose runtime read the address during init and keeps it
(awslambdaric and lambdaboot read it once). The dev loop serves a function with one
:class:`~local_lambda.LocalLambda` per environment, each with its own Runtime API, so
copies of one snapshot need one address for all of them: :class:`SharedRuntimeApi`.

It tells which environment a connection comes from by the process that opened it: an
environment's processes (its runtime and extensions) share one process group, the
sandbox's (see ``local_lambda.freezer``), and the kernel names the inode of the
connection's client end (:func:`socket_inode`), which one of them holds. The connection
itself is then handed to that environment's local Lambda, which serves it as one of its
own: no hop in between, and the peer's port (which names the snapshot's connection) is
the runtime's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from typing import Protocol

__all__ = ["Member", "SharedRuntimeApi", "socket_inode"]


class Member(Protocol):
    """A local Lambda whose environments are given the shared address."""

    def process_groups(self) -> set[int]:
        """The process groups of its environments (one per environment)."""
        ...

    def adopt_runtime_connection(self, sock: socket.socket) -> None:
        """Serve ``sock`` on its Runtime API (thread-safe; it closes ``sock`` if it cannot)."""
        ...


class SharedRuntimeApi:
    """Listens on 127.0.0.1 (as the Runtime API never leaves the machine) on a thread of
    its own; :meth:`join` a member before its environments start, :meth:`close` after the
    last member has closed."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._members: list[Member] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="shared-runtime-api", daemon=True)
        self._thread.start()

    def join(self, member: Member) -> None:
        with self._lock:
            self._members.append(member)

    def leave(self, member: Member) -> None:
        with self._lock:
            self._members = [m for m in self._members if m is not member]

    def _accept(self) -> None:
        while True:
            try:
                sock, peer = self._listener.accept()
            except OSError:  # closed
                return
            member = self._owner(int(peer[1]))
            if member is None:  # not an environment's (or it has ended meanwhile)
                sock.close()
            else:
                member.adopt_runtime_connection(sock)

    def _owner(self, peer_port: int) -> Member | None:
        """The member whose environment holds the client end of the connection from
        ``peer_port``."""
        inode = socket_inode(peer_port, self.port)
        if inode is None:
            return None
        with self._lock:
            members = list(self._members)
        groups = {group: member for member in members for group in member.process_groups()}
        link = f"socket:[{inode}]"
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                member = groups.get(os.getpgid(pid))
                if member is not None and _holds(pid, link):
                    return member
            except OSError:  # it has ended
                continue
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._thread.join(timeout=5)


def socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the TCP socket from 127.0.0.1:``local_port`` to 127.0.0.1:``remote_port``
    on this machine, None if there is none. Asked of the kernel's socket diagnostics
    (netlink ``SOCK_DIAG_BY_FAMILY``: one exact lookup) rather than read from
    ``/proc/net/tcp``, which the kernel writes out whole, a line per socket of the
    machine (TIME_WAIT ones too), at each read; that file only where netlink is not offered."""
    try:
        return _diagnosed_inode(local_port, remote_port)
    except OSError:
        return _listed_inode(local_port, remote_port)


# linux/sock_diag.h and linux/inet_diag.h: the request and the answer's layout.
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NO_COOKIE = 0xFFFFFFFF
_LOOPBACK = socket.inet_aton("127.0.0.1") + bytes(12)  # the sockid's address fields
_INODE_AT = 16 + 4 + 48 + 16  # nlmsghdr, family/state/timer/retrans, sockid, 4 counters


def _diagnosed_inode(local_port: int, remote_port: int) -> int | None:
    sockid = struct.pack("!HH16s16s", local_port, remote_port, _LOOPBACK, _LOOPBACK)
    sockid += struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)  # any interface, no cookie
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
    request += sockid  # every state (the bit mask), this connection's ends
    header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.send(header + request)
        answer = diag.recv(8192)
    kind = struct.unpack_from("=H", answer, 4)[0] if len(answer) >= 6 else 0
    if kind != _SOCK_DIAG_BY_FAMILY or len(answer) < _INODE_AT + 4:
        return None  # an error message: no such socket
    return int(struct.unpack_from("=I", answer, _INODE_AT)[0]) or None


def _listed_inode(local_port: int, remote_port: int) -> int | None:
    wanted = (f":{local_port:04X}", f":{remote_port:04X}")  # ports in hex after the colon
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            ours = fields[1].endswith(wanted[0]) and fields[2].endswith(wanted[1])
            if ours and int(fields[9]):  # (inode 0: a closed socket's TIME_WAIT entry)
                return int(fields[9])
    return None


def _holds(pid: int, link: str) -> bool:
    folder = f"/proc/{pid}/fd"
    for fd in os.listdir(folder):
        with contextlib.suppress(OSError):
            if os.readlink(f"{folder}/{fd}") == link:
                return True
    return False
