"""The floor for a Python runtime: the C loop's steps, in Python, plus what any Python
runtime must do with an event (parse it, call the handler, write the result).

A benchmark contender, not a runtime to deploy: one blocking ``_socket``, ``GET /next``,
the request id and ``Content-Length`` found with ``bytes.find``, the body parsed with
orjson, the handler called with no context object, the result written with orjson and
posted; no error reporting, no header validation, one request at a time. What it costs
above the C loop is what CPython itself costs on the warm path, so the warm-path suite
shows how much of lambdaboot's distance from the C floor any Python runtime would pay.
"""

import _socket
import importlib
import os
import sys

import orjson


def main() -> None:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    sock.connect((host, int(port)))
    sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    api = b"/2018-06-01/runtime/invocation/"
    get_next = b"GET %bnext HTTP/1.1\r\nHost: %b\r\n\r\n" % (api, host.encode())
    post = b"POST " + api + b"%b/response HTTP/1.1\r\nHost: " + host.encode()
    post += b"\r\nContent-Length: %d\r\n\r\n"
    pending = b""
    buffer = bytearray(262144)
    view = memoryview(buffer)

    def receive() -> bytes:
        """What arrived, read into one reused buffer (as lambdaboot and the C loop do)."""
        count = sock.recv_into(view)
        if not count:
            raise SystemExit("the Runtime API closed the connection")
        return bytes(view[:count])

    def response() -> tuple[bytes, bytes]:
        """The next whole response: its head and its body."""
        nonlocal pending
        data = pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += receive()
        head = data[: end + 2]  # each line of it ends with CRLF
        at = head.lower().find(b"\r\ncontent-length:")
        size = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
        while len(data) < end + 4 + size:
            data += receive()
        pending = data[end + 4 + size :]
        return head, data[end + 4 : end + 4 + size]

    while True:
        sock.sendall(get_next)
        head, body = response()
        at = head.find(b"Lambda-Runtime-Aws-Request-Id: ") + 31
        request_id = head[at : head.find(b"\r\n", at)]
        result = orjson.dumps(handler(orjson.loads(body), None))
        sock.sendall(post % (request_id, len(result)) + result)
        response()


if __name__ == "__main__":
    main()
