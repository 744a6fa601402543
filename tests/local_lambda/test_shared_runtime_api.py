"""The shared Runtime API address hands each connection to the environment that opened it.

Which process holds a connection's client end is the kernel's to say: the inode found
for a connection (netlink socket diagnostics, or ``/proc/net/tcp``) must be the one
``fstat`` gives for the client's socket, and a real process in a process group of its
own (as an environment's runtime is) must have its connection handed to the member
claiming that group, never to another; a connection nobody's environment holds is closed.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys

from local_lambda import shared_runtime_api
from local_lambda.shared_runtime_api import SharedRuntimeApi, socket_inode

# At "go" on stdin, connects, says which pid it is, and waits for an answer or the close.
CLIENT = """
import os, socket, sys
sys.stdin.readline()
conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn.sendall(b"%d\\n" % os.getpid())
print(conn.recv(100).decode() or "closed", flush=True)
"""


class Member:
    def __init__(self, groups: set[int]) -> None:
        self.groups = groups
        self.handed: queue.Queue[socket.socket] = queue.Queue()

    def process_groups(self) -> set[int]:
        return self.groups

    def adopt_runtime_connection(self, sock: socket.socket) -> None:
        self.handed.put(sock)


def test_the_inode_found_is_the_client_sockets() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        with client, server:
            ends = (client.getsockname()[1], listener.getsockname()[1])
            expected = os.fstat(client.fileno()).st_ino
            assert socket_inode(*ends) == expected
            assert shared_runtime_api._listed_inode(*ends) == expected
            assert socket_inode(ends[1], ends[0]) == os.fstat(server.fileno()).st_ino
    assert socket_inode(*ends) is None  # closed (a TIME_WAIT entry holds no socket)


def test_a_connection_goes_to_the_member_whose_process_group_opened_it() -> None:
    api = SharedRuntimeApi()
    try:
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(api.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            process_group=0,  # a group of its own, as an environment's runtime has
        )
        ours, other = Member({client.pid}), Member({os.getpid() + 1_000_000})
        api.join(other)
        api.join(ours)
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
        sock = ours.handed.get(timeout=30)
        with sock:
            assert sock.recv(100) == b"%d\n" % client.pid
            sock.sendall(b"hello")
        out, _ = client.communicate(timeout=30)
        assert client.returncode == 0
        assert out.strip() == "hello" and other.handed.empty()

        stranger = socket.create_connection(("127.0.0.1", api.port))  # no member's group
        with stranger:
            stranger.settimeout(30)
            assert stranger.recv(100) == b""  # closed
        assert ours.handed.empty() and other.handed.empty()
    finally:
        api.close()
