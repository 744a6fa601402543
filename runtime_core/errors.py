"""Error payloads: the body, the error-type header and the X-Ray cause of a failed invocation.

The bytes are awslambdaric 4.2.2's, so callers that compare error strings (Step
Functions' ``Cause``, tests, alarms) see the same text: the body is
``{"errorMessage", "errorType", "requestId", "stackTrace"}`` written by
``serialize.encode_error`` (simplejson's separators and escaping), the stack trace is
``traceback.format_list`` of the frames below the runtime's own (importlib's frames stay,
as awslambdaric keeps them), and the X-Ray cause is ``working_directory``,
``exceptions[{message, type, stack[{label, path, line}]}]`` and ``paths``.

Headers, as awslambdaric sends them: ``/error`` goes without
``Lambda-Runtime-Function-Error-Type`` (Lambda then records ``Runtime.Unknown``, as for
AWS's own Python runtime); ``/init/error`` carries the body's ``errorType``. Only the
failures that exist in lambdaboot alone carry a type of their own on ``/error``
(``Function.DeadlineExceeded``, ``Runtime.InternalError``), and a streamed response that
fails after its first byte says ``Function.<ExceptionName>`` in its trailers, which need one.

Everything here runs only when something failed, so it may import ``traceback`` lazily.
"""

from __future__ import annotations

import os

from runtime_core.outcome import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "BUILT_IN_MODULE_CONFLICT",
    "HANDLER_NOT_FOUND",
    "IMPORT_MODULE_ERROR",
    "LAMBDA_CONTEXT_UNMARSHAL_ERROR",
    "MALFORMED_HANDLER_NAME",
    "MARSHAL_ERROR",
    "UNMARSHAL_ERROR",
    "USER_CODE_SYNTAX_ERROR",
    "FunctionError",
    "InitError",
    "exception_message",
    "exception_outcome",
    "fault_outcome",
    "init_error_from_exception",
    "log_init_error",
    "user_frames",
]

MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

#: awslambdaric (and Go's runtime) leave the X-Ray cause header out from this size on.
XRAY_CAUSE_LIMIT = 1024 * 1024
#: The X-Ray exception type awslambdaric reports for the runtime's own (``Runtime.*``) faults.
_VALIDATION_FAULT = "LambdaValidationError"

# Frames from here are the runtime's, not the user's: they are cut from the top. So are
# asyncio's, which lead when a sync handler's awaitable was awaited for it (dispatch).
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ASYNCIO_DIR = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "asyncio") + os.sep


class FunctionError(Exception):
    """Base of the errors that exist only in lambdaboot (no awslambdaric counterpart, such
    as a native program's failures): posted with ``Function.<ClassName>`` as their error
    type, which Lambda's records then show, where a user's exception goes without one."""


class InitError(Exception):
    """The handler could not be loaded. The engine posts ``body`` to ``/init/error`` with
    ``error_type`` as the ``Lambda-Runtime-Function-Error-Type`` header, then exits.

    ``error_type`` is the header: the body's ``errorType`` (a ``Runtime.*`` type, or the
    exception's class name), as awslambdaric sends it, unless ``body_type`` says otherwise
    (lambdaboot's own ``Function.Native*`` init errors).
    """

    def __init__(
        self, error_type: str, message: str, stack: list[str], body_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack
        #: ``errorType`` in the body, where it differs from the header.
        self.body_type = body_type or error_type
        self.body = _error_body(message, self.body_type, stack, "")


def user_frames(tb: TracebackType | None) -> list[tuple[str, int, str, str | None]]:
    """(path, line, function, source) of each frame, without the runtime's frames on top.

    Cut as awslambdaric cuts its ``bootstrap.py`` frames: the leading ones only, and if
    every frame is the runtime's (a bug in lambdaboot itself), all are kept.
    """
    import traceback

    frames = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, (path, _line, _name, _source) in enumerate(frames):
        if not path.startswith((_RUNTIME_DIR, _ASYNCIO_DIR)):
            return frames[i:]
    return frames


def format_frames(frames: list[tuple[str, int, str, str | None]]) -> list[str]:
    """Stack-trace entries as awslambdaric writes them: ``traceback.format_list``."""
    import traceback

    return traceback.format_list(frames)


def exception_outcome(exc: BaseException, request_id: str, *, streamed: bool = False) -> Outcome:
    """The ``/error`` post for an exception the handler raised, logged as one record.

    ``streamed``: the error may end a streamed response, whose trailers must name a type.
    """
    name = type(exc).__name__
    own_type = streamed or isinstance(exc, FunctionError)
    frames = user_frames(exc.__traceback__)
    message = exception_message(exc)
    stack = format_frames(frames)
    _log_error(name, message, stack)
    return Outcome(
        True,
        _error_body(message, name, stack, request_id),
        error_type="Function." + name if own_type else None,
        xray_cause=_xray_cause(name, message, frames),
    )


def fault_outcome(
    error_type: str, message: str, request_id: str, *, header: bool = True
) -> Outcome:
    """The ``/error`` post for a runtime-detected fault (``Runtime.MarshalError`` and such).

    ``header``: send ``error_type`` as the error-type header too; awslambdaric's own
    faults (marshal, unmarshal, context) go without, as awslambdaric sends them.
    """
    _log_error(error_type, message, [])
    return Outcome(
        True,
        _error_body(message, error_type, [], request_id),
        error_type=error_type if header else None,
        xray_cause=_xray_cause(_VALIDATION_FAULT, message, []),
    )


def init_error_from_exception(exc: BaseException) -> InitError:
    """An ``InitError`` for an exception other than the classified ones, raised at import.

    Like awslambdaric, the body's ``errorType`` is the exception's class name, and so is
    the header (Lambda records a name without a ``Runtime.``/``Function.`` prefix as
    ``Runtime.Unknown``).
    """
    name = type(exc).__name__
    stack = format_frames(user_frames(exc.__traceback__))
    return InitError(name, exception_message(exc), stack)


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception's own ``__str__`` fails: reporting
    the error must not raise a second one."""
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__} object>"


def _error_body(message: str, error_type: str, stack: list[str], request_id: str) -> bytes:
    from runtime_core.serialize import encode_error

    return encode_error(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
    )


def _xray_cause(
    error_type: str, message: str, frames: list[tuple[str, int, str, str | None]]
) -> str | None:
    """The X-Ray cause header, or None once it reaches 1 MiB (as awslambdaric leaves it out).

    awslambdaric's JSON (its separators and key order), always ASCII: it travels as an HTTP
    header value. The paths are listed once each, in the order they first appear.
    """
    from runtime_core.c_json import dumps

    cause = dumps(
        {
            "working_directory": _working_directory(),
            "exceptions": [
                {
                    "message": message,
                    "type": error_type,
                    "stack": [{"label": n, "path": p, "line": ln} for p, ln, n, _s in frames],
                }
            ],
            "paths": list(dict.fromkeys(p for p, _ln, _n, _s in frames)),
        },
        ensure_ascii=True,
        compact=False,
    )
    if len(cause) >= XRAY_CAUSE_LIMIT:
        return None
    return cause


#: The record awslambdaric logs (WARNING, from the root logger) before an init error.
LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error "
    "correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def log_init_error(error: InitError) -> None:
    """Log an init failure as awslambdaric does before posting it: its LAMBDA_WARNING
    record, then the error as one record."""
    from runtime_core.logs import runtime_log

    runtime_log("WARN", LAMBDA_WARNING, logger="root")
    _log_error(error.body_type, error.message, error.stack)


def _log_error(error_type: str, message: str, stack: list[str]) -> None:
    """One log record per error, in the function's log format (Text or JSON)."""
    from runtime_core.logs import log_invocation_error

    log_invocation_error(error_type, message, stack)


def _working_directory() -> str:
    """``os.getcwd()``, or ``LAMBDA_TASK_ROOT`` when the handler deleted the directory it
    was in: the handler's error must still be reported (awslambdaric dies there)."""
    try:
        return os.getcwd()
    except OSError:
        return os.environ.get("LAMBDA_TASK_ROOT", "")
