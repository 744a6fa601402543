"""A hostile Runtime API on 127.0.0.1: real sockets, scripted faults, every answer recorded.

The local Lambda behaves; this one does what a network and a buggy server do: resets a
connection before or half-way through an answer, closes a keep-alive connection right
after answering or while the handler runs, sends ``1xx`` interim responses, answers
slowly, byte by byte, answers with garbage, sends a response nobody asked for, answers
in HTTP/1.0 with a body that runs to the close, and hands out invocations whose headers
the runtime cannot use (``invoke(..., headers)``). Reusable by any test that drives a
runtime: start it, point ``AWS_LAMBDA_RUNTIME_API`` at ``address``, queue invocations,
script faults, then check ``accepted`` (the one result or error each invocation got).

    api = HostileApi()
    api.fault("response", "reset", taken=True)   # the next /response: taken, then RST
    rid = api.invoke({"n": 1})
    api.wait_answered(1)
    assert api.answers_per_invocation() == {rid: 1}

Faults (``fault(kind, name, **options)``; ``kind`` is ``next``, ``response``, ``error``,
``stream`` (a streamed ``/response``), ``init/error``, ``register``, ``event/next``,
``extension/error`` or ``any``); each applies once, to the next request of that kind, in the
order scripted:

- ``reset``: read the request, then reset the connection without a byte of answer.
  For posts, ``taken=True`` records the result first (so a resent copy gets a 400).
- ``reset_mid_answer``: send half of the answer, then reset.
- ``close_after``: answer, then close the connection at once (a stale keep-alive).
- ``close_later``: answer, then close it ``delay`` seconds later (while the handler runs).
- ``reset_later``: answer, then reset it ``delay`` seconds later (while the handler runs).
- ``truncated``: answer with a ``Content-Length`` larger than the body sent, then close.
- ``interim``: send ``100 Continue`` and ``103 Early Hints`` before the answer.
- ``slow``: send the answer a byte at a time, ``delay`` seconds apart.
- ``malformed``: answer with bytes that are not HTTP, then close.
- ``unsolicited``: answer, then, ``delay`` seconds later, send a second response nobody
  asked for on the idle connection.
- ``close_delimited``: answer in HTTP/1.0 without ``Content-Length``, then close.
- ``status``: answer ``status`` with ``body`` instead of the normal answer.

No fault is ever needed to get a normal Lambda: without scripting it answers as the
Runtime API does (``/next`` parks until an invocation is queued, a post is 202 the first
time and 400 for a request id already answered, extensions register and wait).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from typing import Any

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
KINDS = (
    "next",
    "response",
    "error",
    "stream",
    "init/error",
    "register",
    "event/next",
    "extension/error",
)


class Seen:
    """One request the runtime made, as read off the wire."""

    def __init__(
        self, method: str, path: str, headers: dict[str, str], body: bytes, connection: int
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        #: Which TCP connection it came on (1, 2, ... in accept order).
        self.connection = connection
        self.kind = _kind(method, path, headers)

    @property
    def request_id(self) -> str | None:
        parts = self.path.split("/")
        if self.path.startswith(RUNTIME + "/invocation/") and len(parts) > 5:
            return parts[4]
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Seen({self.kind}: {self.method} {self.path} on #{self.connection})"


def _kind(method: str, path: str, headers: dict[str, str]) -> str:
    if path == RUNTIME + "/invocation/next":
        return "next"
    if path == RUNTIME + "/init/error":
        return "init/error"
    if path.endswith("/response"):
        streamed = headers.get("lambda-runtime-function-response-mode") == "streaming"
        return "stream" if streamed else "response"
    if path.endswith("/error") and path.startswith(RUNTIME):
        return "error"
    if path == EXTENSION + "/register":
        return "register"
    if path == EXTENSION + "/event/next":
        return "event/next"
    if path in (EXTENSION + "/init/error", EXTENSION + "/exit/error"):
        return "extension/error"
    return "other"


class _Fault:
    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name = name
        self.taken = bool(options.get("taken", False))
        self.delay = float(options.get("delay", 0.05))
        self.status = int(options.get("status", 500))
        self.body = options.get("body", b'{"errorType":"Injected"}')


class _Closed(Exception):
    pass


def _read_request(sock: socket.socket, buffer: bytearray) -> tuple[str, str, dict[str, str], bytes]:
    """One HTTP/1.1 request (Content-Length or chunked body, trailers folded into headers)."""
    while b"\r\n\r\n" not in buffer:
        _fill(sock, buffer)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                _fill(sock, buffer)
            size_line, _, rest = bytes(buffer).partition(b"\r\n")
            buffer[:] = rest
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    while b"\r\n" not in buffer:
                        _fill(sock, buffer)
                    line, _, rest = bytes(buffer).partition(b"\r\n")
                    buffer[:] = rest
                    if not line:
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                break
            while len(buffer) < size + 2:
                _fill(sock, buffer)
            body += buffer[:size]
            del buffer[: size + 2]
        return method, path, headers, bytes(body)
    length = int(headers.get("content-length") or 0)
    while len(buffer) < length:
        _fill(sock, buffer)
    body = bytes(buffer[:length])
    del buffer[:length]
    return method, path, headers, body


def _fill(sock: socket.socket, buffer: bytearray) -> None:
    try:
        data = sock.recv(65536)
    except OSError:
        data = b""
    if not data:
        raise _Closed
    buffer += data


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append(f"Content-Length: {len(body)}")
    if not any(name.lower() == "content-type" for name in headers or {}):
        head.append("Content-Type: application/json")  # once: an invocation has its own
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class HostileApi:
    """Queue invocations with ``invoke``, script faults with ``fault``, read ``accepted``."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._events: queue.Queue[tuple[str, bytes, dict[str, str]] | None] = queue.Queue()
        self._lock = threading.Condition()
        self._faults: list[tuple[str, _Fault]] = []
        self._connections: list[socket.socket] = []
        self._closed = False
        #: Every request, in arrival order.
        self.seen: list[Seen] = []
        #: Request ids whose /next answer was sent whole.
        self.delivered: list[str] = []
        #: request id -> the requests that were taken as its result or error (normally one).
        self.accepted: dict[str, list[Seen]] = {}
        #: Posts refused because the request id had been answered already (resent copies).
        self.duplicates: list[Seen] = []
        self.init_errors: list[Seen] = []
        #: Extensions API events still to hand out, and the ``/extension/*/error`` posts taken.
        self._extension_events: queue.Queue[bytes] = queue.Queue()
        self.extension_errors: list[Seen] = []
        threading.Thread(target=self._accept, name="hostile-accept", daemon=True).start()

    # --- scripting ------------------------------------------------------------------
    def invoke(self, event: Any = None, *, raw: bytes | None = None, **headers: str) -> str:
        """Queue one invocation; return its request id. ``headers`` use ``_`` for ``-``."""
        request_id = headers.pop("request_id", None) or str(uuid.uuid4())
        all_headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 600_000),
            "Lambda-Runtime-Invoked-Function-Arn": (
                "arn:aws:lambda:us-east-1:123456789012:function:f"
            ),
            "Content-Type": "application/json",
        }
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        body = raw if raw is not None else json.dumps(event).encode()
        self._events.put((request_id, body, all_headers))
        return request_id

    def extension_event(self, event: Any) -> None:
        """Queue one event for ``GET /extension/event/next`` (without one, it waits)."""
        self._extension_events.put(json.dumps(event).encode())

    def fault(self, kind: str, name: str, **options: Any) -> None:
        """Apply fault ``name`` to the next request of ``kind`` (see the module docstring)."""
        if kind not in (*KINDS, "any"):
            raise ValueError(f"unknown request kind {kind!r}; one of {KINDS} or 'any'")
        with self._lock:
            self._faults.append((kind, _Fault(name, options)))

    def _take_fault(self, kind: str) -> _Fault | None:
        with self._lock:
            for index, (wanted, fault) in enumerate(self._faults):
                if wanted in (kind, "any"):
                    del self._faults[index]
                    self._lock.notify_all()
                    return fault
        return None

    # --- reading what happened --------------------------------------------------------
    def wait(self, condition: Any, timeout: float = 30.0, what: str = "") -> None:
        with self._lock:
            if not self._lock.wait_for(condition, timeout):
                raise AssertionError(
                    f"timed out waiting for {what or condition}; seen: {self.seen[-20:]}"
                )

    def wait_answered(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` invocations have had their result or error taken."""
        self.wait(lambda: len(self.accepted) >= count, timeout, f"{count} answered")

    def wait_parked(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` ``/next`` requests have been made in all."""
        self.wait(
            lambda: sum(s.kind == "next" for s in self.seen) >= count,
            timeout,
            f"{count} x /next",
        )

    def answers_per_invocation(self) -> dict[str, int]:
        """How many results or errors each delivered invocation got (it must be 1 each)."""
        with self._lock:
            counts = Counter({rid: 0 for rid in self.delivered})
            counts.update({rid: len(seen) for rid, seen in self.accepted.items()})
            return dict(counts)

    def pending_faults(self) -> list[str]:
        """The faults scripted and not yet applied (a test asserts its fault happened)."""
        with self._lock:
            return [f"{kind} {fault.name}" for kind, fault in self._faults]

    def wait_faults_applied(self, timeout: float = 30.0) -> None:
        """Until every scripted fault has hit its request."""
        self.wait(lambda: not self._faults, timeout, "the scripted faults to apply")

    def connections(self) -> int:
        return len(self._connections)

    # --- serving ----------------------------------------------------------------------
    def _accept(self) -> None:
        number = 0
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            number += 1
            # As Go's net/http (AWS's Runtime API) does: without it, the answer to a /next
            # pipelined behind a POST waits for the runtime's delayed ACK of the 202 (~40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections.append(sock)
            threading.Thread(
                target=self._serve, args=(sock, number), name=f"hostile-{number}", daemon=True
            ).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        buffer = bytearray()
        try:
            while True:
                method, path, headers, body = _read_request(sock, buffer)
                seen = Seen(method, path, headers, body, number)
                with self._lock:
                    self.seen.append(seen)
                    self._lock.notify_all()
                fault = self._take_fault(seen.kind)
                if not self._answer(sock, seen, fault):
                    return
        except (_Closed, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def _answer(self, sock: socket.socket, seen: Seen, fault: _Fault | None) -> bool:
        """Answer one request; False when the connection is finished."""
        if fault is not None and fault.name == "reset" and seen.kind != "next":
            if fault.taken:
                self._take(seen)
            _reset(sock)
            return False
        if fault is not None and fault.name == "status":
            return self._send(sock, _response(fault.status, fault.body), fault)
        if seen.kind == "next":
            return self._answer_next(sock, fault)
        if seen.kind == "event/next":
            while not self._closed:  # an extension with no events waits for good
                try:
                    event = self._extension_events.get(timeout=0.2)
                except queue.Empty:
                    continue
                if fault is not None and fault.name in ("reset_mid_answer", "truncated"):
                    with self._extension_events.mutex:  # never arrived whole: next again
                        self._extension_events.queue.appendleft(event)
                return self._send(sock, _response(200, event), fault)
            return False
        if seen.kind == "extension/error":
            with self._lock:
                self.extension_errors.append(seen)
                self._lock.notify_all()
            return self._send(sock, _response(202, b'{"status":"OK"}'), fault)
        if seen.kind == "register":
            answer = _response(
                200, b'{"functionName":"f"}', {"Lambda-Extension-Identifier": "ext-1"}
            )
            return self._send(sock, answer, fault)
        if seen.kind == "init/error":
            with self._lock:
                self.init_errors.append(seen)
                self._lock.notify_all()
            return self._send(sock, _response(202, b'{"status":"OK"}'), fault)
        if seen.request_id is not None:
            if self._take(seen):
                return self._send(sock, _response(202, b'{"status":"OK"}'), fault)
            refusal = b'{"errorType":"InvalidStateTransition","errorMessage":"answered already"}'
            return self._send(sock, _response(400, refusal), fault)
        return self._send(sock, _response(404, b'{"errorType":"NotFound"}'), fault)

    def _take(self, seen: Seen) -> bool:
        """Record a result or error; False if its invocation had one already."""
        with self._lock:
            rid = seen.request_id
            assert rid is not None
            if rid in self.accepted:
                self.duplicates.append(seen)
                return False
            self.accepted[rid] = [seen]
            self._lock.notify_all()
            return True

    def _answer_next(self, sock: socket.socket, fault: _Fault | None) -> bool:
        if fault is not None and fault.name == "reset":
            _reset(sock)  # before taking an invocation: none is lost
            return False
        item = self._events.get()
        if item is None:
            self._events.put(None)
            _reset(sock)
            return False
        request_id, body, headers = item
        answer = _response(200, body, headers)
        if fault is not None and fault.name in ("reset_mid_answer", "malformed", "truncated"):
            # The invocation never arrives whole: Lambda would time it out; here it is
            # queued again, so the runtime gets it on a later /next.
            self._events.put(item)
            return self._send(sock, answer, fault)
        ok = self._send(sock, answer, fault)
        with self._lock:
            self.delivered.append(request_id)
            self._lock.notify_all()
        return ok

    def _send(self, sock: socket.socket, answer: bytes, fault: _Fault | None) -> bool:
        name = fault.name if fault is not None else None
        if name == "reset_mid_answer":
            sock.sendall(answer[: len(answer) // 2])
            time.sleep(0.02)
            _reset(sock)
            return False
        if name == "malformed":
            sock.sendall(b"HTTP/1.1 2x0 Not A Status\r\nContent-Length: nope\r\n\r\n{}")
            time.sleep(0.02)
            sock.close()
            return False
        if name == "interim":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
        if name == "slow":
            for index in range(len(answer)):
                sock.sendall(answer[index : index + 1])
                time.sleep(fault.delay / 50 if fault is not None else 0)
            return True
        if name == "truncated":
            head, _, body = answer.partition(b"\r\n\r\n")
            length = f"Content-Length: {len(body)}".encode()
            head = head.replace(length, f"Content-Length: {len(body) + 100}".encode())
            sock.sendall(head + b"\r\n\r\n" + body)
            time.sleep(0.02)
            sock.close()
            return False
        if name == "close_delimited":
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length")]
            lines[0] = lines[0].replace(b"HTTP/1.1", b"HTTP/1.0", 1)
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            sock.shutdown(socket.SHUT_WR)
            return False
        sock.sendall(answer)
        if name == "close_after":
            sock.shutdown(socket.SHUT_RDWR)
            return False
        if name == "close_later" and fault is not None:
            threading.Timer(fault.delay, _shutdown, args=(sock,)).start()
        if name == "reset_later" and fault is not None:
            # In this thread: a reset from another one would wait for this one's recv.
            time.sleep(fault.delay)
            _reset(sock)
            return False
        if name == "unsolicited" and fault is not None:
            stray = _response(200, b'{"unsolicited":true}', {"Lambda-Runtime-Aws-Request-Id": "x"})
            threading.Timer(fault.delay, _sendall_quietly, args=(sock, stray)).start()
        return True

    def close(self) -> None:
        """Stop listening and cut every connection: the API is gone."""
        self._closed = True
        self._events.put(None)
        self._listener.close()
        with self._lock:
            for sock in self._connections:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _sendall_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and all its live descendants (Linux ``/proc``):
    how "no busy loop" is checked, with no wall-clock timing."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        stats[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total
