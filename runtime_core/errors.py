"""Error payloads: the body, the error-type header and the X-Ray cause of a failed invocation.

The shapes follow awslambdaric 4.2.2, so tools that parse Lambda errors keep working:
body ``{"errorMessage", "errorType", "requestId", "stackTrace"}`` with the stack trace
as ``traceback.format_list`` lines of the user's frames only (the runtime's own frames
and importlib's are cut from the top), and the X-Ray cause as ``working_directory``,
``exceptions[{message, type, stack[{label, path, line}]}]`` and ``paths``.

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
    "InitError",
    "error_type_header",
    "exception_message",
    "exception_outcome",
    "fault_outcome",
    "init_error_from_exception",
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

# Frames from these places are the runtime's, not the user's: they are cut from the top.
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IMPORTLIB_FILE = os.path.join("importlib", "__init__.py")


class InitError(Exception):
    """The handler could not be loaded. The engine posts ``body`` to ``/init/error`` with
    ``error_type`` as the ``Lambda-Runtime-Function-Error-Type`` header, then exits.

    ``error_type`` is the header (always ``Runtime.*`` or ``Function.*``); the body's
    ``errorType`` is awslambdaric's (a ``Runtime.*`` type, or the exception's class name).
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


def error_type_header(exception_name: str) -> str:
    """``Function.<Name>`` when Lambda accepts the name, else ``Function.Unhandled``.

    The Runtime API keeps the header only if it matches ``(Runtime|Function)\\.[A-Z][a-zA-Z]+``
    and turns anything else into ``Function.Unknown``; ``Unhandled`` says more than that.
    """
    name = exception_name
    if len(name) >= 2 and name.isascii() and name.isalpha() and "A" <= name[0] <= "Z":
        return "Function." + name
    return "Function.Unhandled"


def user_frames(tb: TracebackType | None) -> list[tuple[str, int, str, str]]:
    """(path, line, function, source) of each frame, without the runtime's frames on top.

    If every frame is the runtime's (a bug in lambdaboot itself), all are kept.
    """
    import traceback

    frames = [
        (f.filename, f.lineno or 0, f.name, (f.line or "").strip())
        for f in traceback.extract_tb(tb)
    ]
    for i, (path, _line, _name, _source) in enumerate(frames):
        if not _is_runtime_frame(path):
            return frames[i:]
    return frames


def format_frames(frames: list[tuple[str, int, str, str]]) -> list[str]:
    """Stack-trace lines exactly as ``traceback.format_list`` writes them (no carets)."""
    lines = []
    for path, line, name, source in frames:
        text = f'  File "{path}", line {line}, in {name}\n'
        if source:
            text += f"    {source}\n"
        lines.append(text)
    return lines


def exception_outcome(exc: BaseException, request_id: str) -> Outcome:
    """The ``/error`` post for an exception the handler raised, logged as one record."""
    frames = user_frames(exc.__traceback__)
    name = type(exc).__name__
    message = exception_message(exc)
    stack = format_frames(frames)
    _log_error(name, message, stack)
    return Outcome(
        True,
        _error_body(message, name, stack, request_id),
        error_type=error_type_header(name),
        xray_cause=_xray_cause(name, message, frames),
    )


def fault_outcome(error_type: str, message: str, request_id: str) -> Outcome:
    """The ``/error`` post for a runtime-detected fault (``Runtime.MarshalError`` and such)."""
    _log_error(error_type, message, [])
    return Outcome(
        True,
        _error_body(message, error_type, [], request_id),
        error_type=error_type,
        xray_cause=_xray_cause(_VALIDATION_FAULT, message, []),
    )


def init_error_from_exception(exc: BaseException) -> InitError:
    """An ``InitError`` for an exception other than the classified ones, raised at import.

    Like awslambdaric, the body's ``errorType`` is the exception's class name.
    """
    name = type(exc).__name__
    stack = format_frames(user_frames(exc.__traceback__))
    return InitError(error_type_header(name), exception_message(exc), stack, body_type=name)


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception's own ``__str__`` fails: reporting
    the error must not raise a second one."""
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__} object>"


def _is_runtime_frame(path: str) -> bool:
    return (
        path.startswith(_RUNTIME_DIR)
        or path.startswith("<frozen importlib.")
        or path.endswith(_IMPORTLIB_FILE)
    )


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
    error_type: str, message: str, frames: list[tuple[str, int, str, str]]
) -> str | None:
    """The X-Ray cause header, or None once it reaches 1 MiB (as awslambdaric leaves it out).

    Written as ASCII JSON (non-ASCII escaped): it travels as an HTTP header value.
    """
    import json

    cause = json.dumps(
        {
            "working_directory": os.getcwd(),
            "exceptions": [
                {
                    "message": message,
                    "type": error_type,
                    "stack": [{"label": n, "path": p, "line": ln} for p, ln, n, _s in frames],
                }
            ],
            "paths": list(dict.fromkeys(p for p, _ln, _n, _s in frames)),
        },
        separators=(",", ":"),
    )
    if len(cause) >= XRAY_CAUSE_LIMIT:
        return None
    return cause


def log_init_error(error: InitError) -> None:
    """Log an init failure as one record, as awslambdaric does before posting it."""
    _log_error(error.body_type, error.message, error.stack)


def _log_error(error_type: str, message: str, stack: list[str]) -> None:
    """One log record per error, in the function's log format (Text or JSON)."""
    from runtime_core.logs import log_invocation_error

    log_invocation_error(error_type, message, stack)
