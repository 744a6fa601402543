"""An invocation's answer on its way to the caller, at the moments Lambda sends it.

On Lambda the caller's answer is complete when the runtime has finished posting it: a
buffered response at its ``/response`` (or ``/error``) post, a streamed one when its body
ends (trailers and all). The invocation itself goes on until the runtime and every
extension ask for the next event, which is what its Duration measures; the caller does
not wait for that. A streamed body reaches the caller chunk by chunk as the runtime
sends it.

:func:`relay` runs one invocation and tells an :class:`AnswerSink` each of those moments;
``InvokeWithResponseStream`` (:mod:`local_lambda.invoke_api`), the Function URL front
(:mod:`local_lambda.function_url`) and ``LocalLambda.invoke(on_chunk=...)`` all answer
through it, so they agree on when an answer begins, what it holds and when it is complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from .environment import AnswerTaker, StreamReader
from .model import InvokeOutcome, InvokeResult, PendingInvoke
from .streaming import ResponseChunks


class Runner(Protocol):
    """What :func:`relay` needs of a function (``LocalLambda.run`` has this shape)."""

    async def run(
        self,
        inv: PendingInvoke,
        on_stream: StreamReader | None = ...,
        *,
        on_answer: AnswerTaker | None = ...,
    ) -> InvokeResult: ...


class AnswerSink(Protocol):
    """Where an answer goes, in this order: ``start`` at most once, ``chunk`` for each
    piece of a successful body, then ``complete`` exactly once."""

    def start(self, content_type: str | None) -> None:
        """The body begins: a streamed response with its content type, or None for a
        buffered one (whose payload then comes as one chunk). Not called for an error
        posted before any byte was streamed."""

    async def chunk(self, data: bytes) -> None:
        """A piece of the body; awaited, so a slow caller slows the runtime's stream."""

    def complete(self, outcome: InvokeOutcome, result: InvokeResult | None) -> None:
        """The answer is complete: ``outcome.function_error`` says if it is an error
        (``outcome.payload`` is then the error's body; a body already streamed stays
        sent). ``result`` is the whole invocation's result when ``complete`` comes at
        its end (``wait_for_end``, or no answer was posted: init failed, a timeout, the
        runtime exited), None when it comes at the post."""


async def relay(
    runner: Runner, inv: PendingInvoke, sink: AnswerSink, wait_for_end: bool = False
) -> InvokeResult:
    """Run ``inv`` and pass its answer to ``sink`` as it comes; returns when the invocation
    is over (the environment is free again). ``wait_for_end``: ``complete`` only then
    (a log tail ends with the REPORT line); the body still goes out as it comes."""
    loop = asyncio.get_running_loop()
    streamed: asyncio.Future[None] | None = None  # done once every streamed chunk is passed on
    body_sent = completed = False
    at_post: asyncio.Task[None] | None = None

    def read(chunks: ResponseChunks) -> Awaitable[None]:
        # A plain function, not a coroutine: ``streamed`` is set the moment the stream
        # begins, which is before the answer is settled (the environment calls this on
        # the stream's start, and its answer callback only after).
        nonlocal streamed
        streamed = loop.create_future()
        sink.start(chunks.content_type)
        return _pass_on(chunks, sink, streamed)

    async def finish(outcome: InvokeOutcome, result: InvokeResult | None) -> None:
        nonlocal body_sent, completed
        if streamed is not None:
            await streamed  # the chunks before the end go first
        if not body_sent and outcome.function_error is None:
            if streamed is None:
                sink.start(None)
            if outcome.payload:  # a buffered payload, or what the reader had not taken yet
                await sink.chunk(outcome.payload)
        body_sent = True
        if not completed and (result is not None or not wait_for_end):
            completed = True
            sink.complete(outcome, result)

    def answered(outcome: InvokeOutcome) -> None:
        nonlocal at_post
        at_post = asyncio.ensure_future(finish(outcome, None))

    result = await runner.run(inv, read, on_answer=answered)
    if at_post is not None:
        await at_post
    await finish(InvokeOutcome(result.payload, result.function_error), result)
    return result


async def _pass_on(chunks: ResponseChunks, sink: AnswerSink, done: asyncio.Future[None]) -> None:
    try:
        while (chunk := await chunks.next_chunk()) is not None:
            await sink.chunk(chunk)
    finally:
        done.set_result(None)
