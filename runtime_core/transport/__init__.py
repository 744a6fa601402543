"""Drivers that move the protocol's bytes: each one only sends requests and returns responses.

``blocking`` (a plain socket, for the blocking engine), ``aio`` (uvloop/asyncio, for the
async engine) and ``httpx_driver`` (for comparison, ``LAMBDABOOT_TRANSPORT=httpx``). None
of them interprets a status code (``runtime_core.protocol``'s job) or decides to resend
(the clients' job, ``runtime_core.engine.client`` and ``engine.aio_client``): they report
a failed request as ``protocol.Disconnected``, saying whether any answer had arrived.
Here: the settings that choose a driver, and what every driver does before it connects.
"""

from __future__ import annotations

import os

from runtime_core.protocol import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "PIPELINE_ENV",
    "TRANSPORT_ENV",
    "keep_stdio",
    "pipelining",
    "split_address",
    "transport_kind",
]

TRANSPORT_ENV = "LAMBDABOOT_TRANSPORT"
PIPELINE_ENV = "LAMBDABOOT_PIPELINE"


def transport_kind(environ: Mapping[str, str] = os.environ) -> str:
    """``socket`` (the default) or ``httpx``: the driver ``LAMBDABOOT_TRANSPORT`` asks for,
    for both engines. Anything else is a ``ValueError`` saying what is accepted (start-up
    checks it before the handler is loaded, so the engines' later calls cannot fail)."""
    value = environ.get(TRANSPORT_ENV, "")
    kind = value.strip().lower() or "socket"
    if kind not in ("socket", "httpx"):
        raise ValueError(
            f"{TRANSPORT_ENV} must be socket or httpx (or unset for socket), got {value!r}"
        )
    return kind


def pipelining(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the blocking engine sends ``GET /next`` right behind each ``POST /response``
    on the same connection (``LAMBDABOOT_PIPELINE``: ``1``, the default, or ``0`` for one
    request at a time). Anything else is a ``ValueError`` saying what is accepted."""
    value = environ.get(PIPELINE_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{PIPELINE_ENV} must be 1 or 0 (or unset for 1), got {value!r}")
    return value != "0"


def keep_stdio() -> None:
    """Reopen any of fds 0-2 the handler closed on ``/dev/null``, before a new connection.

    A socket takes the lowest free descriptor: with fd 1 closed, the next connection
    would be fd 1, and every log line (``print``, the runtime's own records) would be
    written into the Runtime API. Called only when connecting, so it costs nothing warm.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # the lowest free fd is this one unless a lower one was free too
                os.dup2(null, fd)
                os.close(null)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``AWS_LAMBDA_RUNTIME_API``) as a socket address; ``ApiError`` if malformed.
    Here, beside ``keep_stdio``, because every driver does both before it connects."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ApiError(f"AWS_LAMBDA_RUNTIME_API must be host:port, got {address!r}")
    return host.strip("[]"), int(port)
