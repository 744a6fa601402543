"""A blocking socket driver: one keep-alive connection, one ``sendall`` per request.

It is what serves plain sync handlers, so it is built for the warm path: requests arrive
as prebuilt bytes, responses are read with ``recv_into`` into one reused buffer, and
there is no timeout (``GET /next`` waits while the environment is frozen). It uses the
C ``_socket`` module: ``socket.py`` costs ~2 ms of imports (enum, selectors) for
conveniences not needed here, and a ``str`` host would load the ``idna`` codec.
"""

from __future__ import annotations

import _socket

from runtime_core.protocol import ApiError, Request, Response, ResponseReader

__all__ = ["BlockingTransport", "split_address"]

_BUFFER_SIZE = 256 * 1024


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``AWS_LAMBDA_RUNTIME_API``) as a socket address; ``ApiError`` if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ApiError(f"AWS_LAMBDA_RUNTIME_API must be host:port, got {address!r}")
    return host.strip("[]"), int(port)


class BlockingTransport:
    """Sends requests to the Runtime API over one persistent connection."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._socket_address = split_address(address)
        self._socket: _socket.socket | None = None
        self._reader = ResponseReader()
        self._buffer = bytearray(_BUFFER_SIZE)
        self._view = memoryview(self._buffer)

    def _connect(self) -> _socket.socket:
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
            raise ApiError(f"cannot connect to the Runtime API at {self.address}: {error}")
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self._socket = sock
        self._reader = ResponseReader()
        return sock

    def send(self, request: Request) -> Response:
        """Send ``request`` and wait, without a timeout, for its response."""
        sock = self._socket or self._connect()
        raw = request.raw
        try:
            sock.sendall(raw)
            reader = self._reader
            done = reader.done
            view = self._view
            recv_into = sock.recv_into
            while not done:
                count = recv_into(view)
                if not count:
                    raise ApiError(
                        f"the Runtime API at {self.address} closed the connection "
                        f"during {request.method} {request.path}"
                    )
                reader.feed(view[:count])
        except OSError as exc:
            self.close()
            raise ApiError(
                f"lost the connection to the Runtime API at {self.address} "
                f"during {request.method} {request.path}: {exc}"
            ) from None
        except ApiError:
            self.close()
            raise
        response = done.pop(0)
        if not response.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
