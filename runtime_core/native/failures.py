"""Why a native program failed, as exceptions whose class names are the error types.

They derive from ``errors.FunctionError``, which the dispatcher posts with
``Function.<ClassName>`` as the error type, so each failure kind here is its own class
and Lambda's records show ``Function.NativeExitError``,
``Function.NativeSignal`` and so on. Messages name the program, what happened and, where
the program said something on stderr, the last lines it said: the first thing a person
debugging a legacy binary needs.
"""

from __future__ import annotations

import os

from runtime_core.errors import FunctionError

__all__ = [
    "NativeBadOutput",
    "NativeError",
    "NativeExitError",
    "NativeOutputTooLarge",
    "NativeSignal",
    "NativeStartError",
    "NativeTimeout",
    "exit_failure",
    "spawn_failure",
    "timeout_failure",
    "too_large_failure",
]

#: What the loader prints when a shared library cannot be found, before the library's name.
_LOADER_MARKER = "error while loading shared libraries: "


class NativeError(FunctionError):
    """Base of every native-program failure; ``program`` is the path that was run."""

    def __init__(self, program: str, message: str) -> None:
        super().__init__(message)
        self.program = program


class NativeStartError(NativeError):
    """The program could not start: missing, not executable, wrong format, missing library."""


class NativeExitError(NativeError):
    """The program ended with a non-zero exit status."""

    def __init__(self, program: str, message: str, status: int) -> None:
        super().__init__(program, message)
        self.status = status


class NativeSignal(NativeError):
    """The program was ended by a signal it did not handle (SIGSEGV, SIGABRT, ...)."""

    def __init__(self, program: str, message: str, signal_name: str) -> None:
        super().__init__(program, message)
        self.signal_name = signal_name


class NativeBadOutput(NativeError):
    """The program's output is not the JSON it was configured to write."""


class NativeOutputTooLarge(NativeError):
    """The program wrote more than a response may hold; it was stopped."""


class NativeTimeout(NativeError):
    """The invocation's deadline came before the program finished; it was killed."""


def spawn_failure(program: str, exc: OSError) -> NativeStartError:
    """The start error for an ``OSError`` from starting ``program``, with the fix to make."""
    import errno

    if exc.errno == errno.ENOENT:
        where = "" if os.sep in program else " on PATH"
        reason = f"it does not exist{where}"
        if os.sep in program and os.path.exists(program):
            reason = "its interpreter (the #! line) does not exist"
        return NativeStartError(program, f"Cannot start {program}: {reason}")
    if exc.errno == errno.EACCES:
        if os.path.isdir(program):
            return NativeStartError(program, f"Cannot start {program}: it is a directory")
        return NativeStartError(
            program,
            f"Cannot start {program}: it is not executable "
            "(chmod +x it, and keep the mode in the zip)",
        )
    if exc.errno == errno.ENOEXEC:
        return NativeStartError(
            program,
            f"Cannot start {program}: exec format error (a binary for another architecture, "
            "or a script without a #! line)",
        )
    return NativeStartError(program, f"Cannot start {program}: {exc.strerror or exc}")


def timeout_failure(program: str, what_next: str) -> NativeTimeout:
    """The failure for a program still busy at the deadline (its whole group is killed)."""
    return NativeTimeout(
        program,
        f"{program} had not finished at the invocation's deadline: it was killed, with everything "
        f"it started{what_next}",
    )


def too_large_failure(program: str, limit: int, what_next: str) -> NativeOutputTooLarge:
    """The failure for a program whose output passed ``limit`` (it is stopped)."""
    return NativeOutputTooLarge(
        program,
        f"{program} wrote more than {limit} bytes, the largest response Lambda accepts: it was "
        f"stopped{what_next}",
    )


def exit_failure(program: str, status: int, stderr_tail: list[str]) -> NativeError:
    """The failure for a program that ended with ``status`` (``Popen.returncode``: negative =
    signal)."""
    missing = missing_library(stderr_tail)
    if missing is not None:
        return NativeStartError(
            program,
            f"Cannot start {program}: the shared library {missing} is missing "
            f"(searched RPATH, LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '')!s} and the "
            "system; ship it in the layer's lib/ or set the program's RPATH)",
        )
    tail = _tail_text(stderr_tail)
    if status < 0:
        name = signal_name(-status)
        return NativeSignal(
            program, f"{program} was killed by {name} (signal {-status}){tail}", name
        )
    return NativeExitError(program, f"{program} exited with status {status}{tail}", status)


def missing_library(stderr_lines: list[str]) -> str | None:
    """The library the dynamic loader could not find, from its own message, or None."""
    for line in stderr_lines:
        start = line.find(_LOADER_MARKER)
        if start >= 0:
            return line[start + len(_LOADER_MARKER) :].split(":", 1)[0].strip()
    return None


def signal_name(number: int) -> str:
    """``SIGSEGV`` for 11, and so on; ``signal N`` for a number with no name."""
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _tail_text(lines: list[str]) -> str:
    if not lines:
        return " (it wrote nothing on stderr)"
    return "; the end of its stderr:\n" + "\n".join(lines)
