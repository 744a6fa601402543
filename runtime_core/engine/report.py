"""What the engines and clients say when something goes wrong that is not the handler's.

``runtime_failure`` still answers an invocation whose dispatch itself failed; ``log_lost``
is the one record for an answer the Runtime API refused or a connection lost;
``stream_lost`` the error for a streamed response lost on its way, and ``BACKOFF_S`` the
one reconnect schedule. Shared by both engines and both clients, so none of them imports
another's module for it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runtime_core.invocation import Invocation
    from runtime_core.outcome import Outcome
    from runtime_core.protocol import Disconnected

__all__ = ["BACKOFF_S", "STREAM_LOST", "log_exit", "log_lost", "runtime_failure", "stream_lost"]

#: The error type posted for a streamed response lost before any answer.
STREAM_LOST = "Runtime.StreamLost"
#: The waits between attempts to reach the API again, seconds (~1.6 s in all): long
#: enough to ride out a restart of the API's listener, short enough that a runtime whose
#: API is gone exits promptly. No busy loop: each attempt is a connect, then a sleep.
BACKOFF_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5)


def log_lost(message: str) -> None:
    from runtime_core.logs import runtime_log

    runtime_log("ERROR", message)


def runtime_failure(exc: Exception, invocation: Invocation) -> Outcome:
    """The error to post when dispatch itself failed (a bug, or a function that shadows one
    of the runtime's packages with an incompatible one), so the invocation is still answered.

    Built with the stdlib ``json``: the failure may be orjson's.
    """
    import json
    import traceback

    from runtime_core.outcome import Outcome

    message = f"lambdaboot could not run the handler: {exc!r}"
    log_lost(f"invocation {invocation.request_id}: {message}\n{traceback.format_exc()}")
    body = json.dumps(
        {
            "errorMessage": message,
            "errorType": "Runtime.InternalError",
            "requestId": invocation.request_id,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    ).encode()
    return Outcome(True, body, None, "Runtime.InternalError")


def log_exit(exc: SystemExit, invocation: Invocation) -> int:
    """The one record for a handler that raised ``SystemExit`` (``sys.exit()``): the
    process then exits with its status, as under awslambdaric, and Lambda reports
    ``Runtime.ExitError`` for the invocation; without this line the log would not say why.
    Returns the status Python would exit with."""
    log_lost(
        f"invocation {invocation.request_id}: the handler raised SystemExit({exc.code!r}); "
        "the runtime exits with it"
    )
    code = exc.code
    return code if isinstance(code, int) else (0 if code is None else 1)  # as Python does


def stream_lost(failure: Disconnected) -> Outcome:
    """The error posted for a streamed response whose connection failed with no answer:
    its bytes cannot be sent twice, so the invocation gets this error instead (a 4xx
    for it means the stream had been taken after all)."""
    import json

    from runtime_core.outcome import Outcome

    message = f"the streamed response was lost on its way to the Runtime API: {failure}"
    body = json.dumps({"errorMessage": message, "errorType": STREAM_LOST, "stackTrace": []})
    return Outcome(True, body.encode(), None, STREAM_LOST)
