"""Passing one HTTP request on to an environment's invoke API, and its answer back.

The router sits between boto3 and each environment's own invoke API. An HTTP client
library (httpx) measured ~6 ms a round trip here on a loaded two-core machine, more
than the invocation itself, so this is the least that does the job: keep-alive
connections per environment, the request written in one go, and the answer read as
the local Lambda writes it (``Content-Length``, or chunked for streamed responses,
whose chunks are passed on as they arrive).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# What the answer's reader is given: status, headers, and (for a chunked body) each chunk.
Chunk = Callable[[bytes], Awaitable[None]]


class UpstreamError(Exception):
    """The environment's invoke API closed the connection or answered garbage."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunked: bool = False


@dataclass
class Upstream:
    """Keep-alive connections to one invoke API (``host:port``), one request each at a time."""

    address: str
    _idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer = self._idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
        host, _, port = self.address.rpartition(":")
        return await asyncio.open_connection(host.strip("[]"), int(port))

    async def exchange(
        self,
        head: str,
        headers: list[tuple[str, str]],
        body: bytes,
        on_head: Callable[[Answer], None],
        on_chunk: Chunk,
    ) -> Answer:
        """Send ``head`` (``POST /path``) with ``headers`` and ``body``; ``on_head`` is told
        the status and headers as soon as they arrive, ``on_chunk`` gets a chunked body's
        chunks as they come (a plain body is in the returned Answer)."""
        reader, writer = await self._connection()
        lines = [f"{head} HTTP/1.1", f"Host: {self.address}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            answer = await _read_head(reader)
            on_head(answer)
            if answer.chunked:
                while (chunk := await _read_chunk(reader)) is not None:
                    await on_chunk(chunk)
            else:
                length = next(
                    (int(v) for k, v in answer.headers if k.lower() == "content-length"), 0
                )
                answer.body = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            writer.close()
            raise UpstreamError(str(exc) or type(exc).__name__) from exc
        closing = any(k.lower() == "connection" and v.lower() == "close" for k, v in answer.headers)
        if closing:
            writer.close()
        else:
            self._idle.append((reader, writer))
        return answer

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _read_head(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readuntil(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP answer: {status_line[:40]!r}")
    headers = []
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
    return Answer(int(parts[1]), headers, chunked=chunked)


async def _read_chunk(reader: asyncio.StreamReader) -> bytes | None:
    """The next chunk of a chunked body; None after the last (trailers skipped)."""
    size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
    if size == 0:
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return None
    data = await reader.readexactly(size)
    await reader.readexactly(2)
    return data
