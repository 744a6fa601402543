"""A Runtime API stub in Python (standard library only), the warm-path suite's second server.

The same control protocol as ``stub.go`` (see there): ``PORT`` on stdout, then ``RUN n``
/ ``DONE ns...`` and ``DUMP path`` / ``DUMPED`` on stdin and stdout. One blocking socket,
one connection at a time, requests parsed by hand: about as cheap as a Python server
gets, and still several times the Go server's cost per request, which is why the suite
reports both.

    python stub.py EVENT_FILE
"""

from __future__ import annotations

import socket
import sys
import time

NEXT = b"GET /2018-06-01/runtime/invocation/next "
#: Lambda's answer to a post, byte for byte (its Go server: the headers in this order, the
#: JSON encoder's newline after the body), with the ``Date`` filled in once a second.
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nDate: %s\r\n"
    b'Content-Length: 16\r\n\r\n{"status":"OK"}\n'
)


class Accepted:
    """``ACCEPTED`` with the current ``Date``, rebuilt when the second changes."""

    def __init__(self) -> None:
        self.second = 0
        self.answer = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
            self.second, self.answer = now, ACCEPTED % date.encode()
        return self.answer


accepted = Accepted()


class Stub:
    def __init__(self, event: bytes) -> None:
        self.event = event
        self.remaining = 0
        self.left = 0  # monotonic ns when the last event was sent; 0 when none is out
        self.holding: list[int] = []
        self.dump_path = ""
        self.seq = 0

    def wait_for_block(self) -> None:
        """Report the block that ended, then read commands until the next one starts."""
        if self.dump_path:
            print("DUMPED", flush=True)
        elif self.holding:
            print("DONE " + " ".join(map(str, self.holding)), flush=True)
        self.holding, self.dump_path = [], ""
        while self.remaining == 0:
            line = sys.stdin.readline()
            if not line:
                raise SystemExit(0)  # the suite closed stdin: it is done with this stub
            command, _, argument = line.strip().partition(" ")
            if command == "RUN":
                self.remaining = int(argument)
            elif command == "DUMP":
                self.dump_path, self.remaining = argument, 1

    def next_response(self) -> bytes:
        self.seq += 1
        deadline = int(time.time() * 1000) + 900_000
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-{self.seq:012d}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n"
            "Lambda-Runtime-Invoked-Function-Arn: "
            "arn:aws:lambda:us-east-1:123456789012:function:bench\r\n"
            "Lambda-Runtime-Trace-Id: "
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(self.event)}\r\n\r\n"
        )
        return head.encode() + self.event

    def serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                data = conn.recv(262144)
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            arrived = time.monotonic_ns()
            head = bytes(buffer[: end + 4])
            del buffer[: end + 4]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                data = conn.recv(max(262144, length - len(buffer)))
                if not data:
                    return
                buffer += data
            body = bytes(buffer[:length])
            del buffer[:length]
            if head.startswith(NEXT):
                if self.left:
                    self.holding.append(arrived - self.left)
                    self.left = 0
                if self.remaining == 0:
                    self.wait_for_block()
                self.remaining -= 1
                conn.sendall(self.next_response())
                self.left = time.monotonic_ns()
            elif head.startswith(b"POST ") and b"/response " in head.split(b"\r\n", 1)[0]:
                if self.dump_path:
                    with open(self.dump_path, "wb") as out:
                        out.write(body)
                conn.sendall(accepted())
            else:
                print(f"stub: unexpected request {head[:200]!r}", file=sys.stderr, flush=True)
                conn.sendall(
                    accepted()
                    if head.startswith(b"POST ")
                    else b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                )


def main() -> None:
    with open(sys.argv[1], "rb") as source:
        stub = Stub(source.read())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            stub.serve(conn)


if __name__ == "__main__":
    main()
