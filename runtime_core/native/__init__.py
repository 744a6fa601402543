"""Native programs as Lambda handlers: a legacy binary behind lambdaboot, without a rewrite.

Two ways to run one, both usable as the handler itself or called from a Python handler:

- ``ExecHandler(argv)``: a fresh process per invocation, the event on stdin, the result
  from stdout (``exec_handler``);
- ``CoProcess(argv)``: one process started at init serving one request at a time, one JSON
  line each way (``coprocess``).

Failures are ``NativeError`` subclasses (``failures``), reported as
``Function.NativeExitError``, ``Function.NativeSignal``, ``Function.NativeBadOutput``,
``Function.NativeOutputTooLarge``, ``Function.NativeStartError`` and
``Function.NativeTimeout``. ``_HANDLER=exec:/opt/bin/tool`` sets all this up without
Python code (``config``). Nothing here is imported unless a handler uses it: it needs
``subprocess`` and ``selectors``, which plain Python handlers should not pay for.
"""

from __future__ import annotations

from runtime_core.native.coprocess import CoProcess
from runtime_core.native.exec_handler import ExecHandler
from runtime_core.native.failures import (
    NativeBadOutput,
    NativeError,
    NativeExitError,
    NativeOutputTooLarge,
    NativeSignal,
    NativeStartError,
    NativeTimeout,
)

__all__ = [
    "CoProcess",
    "ExecHandler",
    "NativeBadOutput",
    "NativeError",
    "NativeExitError",
    "NativeOutputTooLarge",
    "NativeSignal",
    "NativeStartError",
    "NativeTimeout",
]
