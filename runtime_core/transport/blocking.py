"""A blocking socket driver: one keep-alive connection, one ``sendall`` per request.

(Two for a body above ``protocol.BIG_BODY``: its head, then the body itself, uncopied;
and such a body, on ``/next``, is received straight into one buffer of its length.)

It is what serves plain sync handlers, so it is built for the warm path: requests arrive
as prebuilt bytes, responses are read with ``recv_into`` into one reused buffer, and
there is no timeout (``GET /next`` waits while the environment is frozen). It uses the
C ``_socket`` module: ``socket.py`` costs ~16 ms of imports (enum, selectors) for
conveniences not needed here, and a ``str`` host would load the ``idna`` codec.

Before a request on a connection that has been idle for a while (``_IDLE_S``: a handler
ran since its last answer), one ``poll`` tells whether the server has closed it (a stale
keep-alive) or sent bytes nobody asked for (an unsolicited response, which would
otherwise be taken as the next request's answer); either way the connection is dropped
and a new one opened. Right after an answer (``GET /next`` after a ``202``) there is no
check: the window is microseconds, and a close in it is still caught, by the client's
resend of a request that got no answer. So a fast warm path pays nothing (a poll is
~1 us, a peek with its exception ~5 us), and ``select`` is imported on first need, not
at start-up (~0.5 ms). A failure is reported as ``Disconnected``, saying whether any
byte of the answer had arrived.
"""

from __future__ import annotations

import _socket
import time

from runtime_core.protocol import ApiError, Disconnected, Request, Response, ResponseReader
from runtime_core.transport import keep_stdio, split_address

__all__ = ["BlockingTransport"]

_BUFFER_SIZE = 256 * 1024
#: A connection idle longer than this is checked before it is used again.
_IDLE_S = 0.001


class BlockingTransport:
    """Sends requests to the Runtime API over one persistent connection."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._socket_address = split_address(address)
        self._socket: _socket.socket | None = None
        self._reader = ResponseReader()
        self._buffer = bytearray(_BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        #: When the last answer was read (``time.monotonic``).
        self._answered_at = 0.0

    def _connect(self) -> _socket.socket:
        keep_stdio()
        host, port = self._socket_address
        error: OSError | None = None
        try:
            candidates = _socket.getaddrinfo(host.encode("ascii"), port, 0, _socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            candidates, error = [], OSError(str(exc))
        for family, kind, proto, _, socket_address in candidates:
            sock = _socket.socket(family, kind, proto)
            try:
                sock.connect(socket_address)
                break
            except OSError as exc:
                sock.close()
                error = exc
        else:
            raise Disconnected(
                f"cannot connect to the Runtime API at {self.address}: {error}", answered=False
            )
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._socket = sock
        self._reader = ResponseReader()
        return sock

    def _ready(self) -> _socket.socket:
        """The connection to send on: the open one if it is still clean, else a new one."""
        sock = self._socket
        if sock is None:
            return self._connect()
        if time.monotonic() - self._answered_at < _IDLE_S:
            return sock
        import select

        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        if not poller.poll(0):
            return sock  # nothing waiting: idle and open, as it should be
        # readable while idle: closed by the server (EOF), reset, or an unsolicited response
        self.close()
        return self._connect()

    def send(self, request: Request) -> Response:
        """Send ``request`` and wait, without a timeout, for its response."""
        self.begin(request.raw)
        if request.split:
            self.write(request.body)
        return self._read(request)

    def send_pair(self, first: Request, second: Request) -> tuple[Response, bool]:
        """Send ``first`` and right behind it ``second`` (HTTP/1.1 pipelining), and wait for
        the answer to ``first``. True with it when the connection stays open, so the answer
        to ``second`` can be read with ``receive``; False when the server closed it (the
        caller then sends ``second`` again itself)."""
        if first.split:  # a big body: head, body, then the next request, no copy
            self.begin(first.raw)
            self.write(first.body)
            self.write(second.raw)
        else:
            self.begin(first.raw + second.raw)  # one segment, one syscall
        response = self._read(first, True)  # pipelined
        return response, self._socket is not None

    def receive(self, what: str) -> Response:
        """The answer to the second request of ``send_pair``."""
        if self._socket is None:
            raise Disconnected(self._lost(what, "not connected"), answered=False)
        return self._read(what)

    def begin(self, data: bytes) -> None:
        """Start a request with ``data`` (its head, or all of it)."""
        sock = self._ready()
        try:
            sock.sendall(data)
        except OSError as exc:
            self.close()
            raise Disconnected(self._lost("sending", exc), answered=False) from None

    def write(self, data: bytes) -> None:
        """More bytes of the request begun."""
        sock = self._socket
        if sock is None:
            raise Disconnected(self._lost("sending", "not connected"), answered=False)
        try:
            sock.sendall(data)
        except OSError as exc:
            self.close()
            raise Disconnected(self._lost("sending", exc), answered=False) from None

    def finish(self, data: bytes, what: str = "a streamed request") -> Response:
        """The request's last bytes; waits, without a timeout, for its response."""
        if data:
            self.write(data)
        return self._read(what)

    def _read(self, what: str | Request, pipelined: bool = False) -> Response:
        """The next answer on the connection. ``what`` it answers is named only in a failure
        (for a ``Request``, its method and path: a string built only then, not per read)."""
        sock = self._socket
        assert sock is not None
        reader = self._reader
        done = reader.done
        view = self._view
        recv_into = sock.recv_into
        answered = False
        try:
            while not done:
                window = reader.body_window()
                if window is not None:  # a big body: straight into its own buffer
                    answered = True
                    self._fill(sock, window, _name(what))
                    reader.body_received()
                    continue
                count = recv_into(view)
                if not count:
                    if reader.feed_eof():  # a body that runs to the close (HTTP/1.0)
                        break
                    raise Disconnected(
                        f"the Runtime API at {self.address} closed the connection during "
                        f"{_name(what)}",
                        answered,
                    )
                answered = True
                reader.feed(view[:count])
        except OSError as exc:
            self.close()
            raise Disconnected(self._lost(_name(what), exc), answered) from None
        except ApiError:
            self.close()
            raise
        response = done.pop(0)
        self._answered_at = time.monotonic()
        if not response.keep_alive or (not pipelined and (done or reader.partial)):
            # More than one answer to one request: the extra one is unsolicited, so the
            # connection's answers can no longer be matched to requests. (Behind a
            # pipelined request, the next answer may well have begun to arrive.)
            self.close()
        return response

    def _fill(self, sock: _socket.socket, window: memoryview, what: str) -> None:
        """Receive exactly ``len(window)`` bytes into ``window``."""
        recv_into = sock.recv_into
        got, size = 0, len(window)
        while got < size:
            count = recv_into(window[got:])
            if not count:
                raise Disconnected(
                    f"the Runtime API at {self.address} closed the connection during {what}",
                    True,
                )
            got += count

    def _lost(self, what: str, why: object) -> str:
        return f"lost the connection to the Runtime API at {self.address} during {what}: {why}"

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _name(what: str | Request) -> str:
    """How a failure names what was being read: the request's method and path."""
    return what if isinstance(what, str) else f"{what.method} {what.path}"
