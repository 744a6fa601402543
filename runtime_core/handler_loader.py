"""Turn ``_HANDLER`` into the function to call, or into the init error Lambda should report.

Accepted forms are awslambdaric's: ``mod.fn``, ``pkg.mod.fn``, ``dir/mod.fn`` and
``src/pkg.mod.fn`` (slashes become dots: directories are imported as namespace packages),
plus lambdaboot's ``exec:/path/to/program`` (a native program: ``runtime_core.native``).
Failures are classified, with awslambdaric's message texts, as
``Runtime.MalformedHandlerName``, ``Runtime.BuiltInModuleConflict``,
``Runtime.ImportModuleError``, ``Runtime.UserCodeSyntaxError`` and
``Runtime.HandlerNotFound``; any other exception raised while importing the module is
reported under its own class name (``ValueError: Empty module name`` for ``.fn``, as under
awslambdaric), with the frames below the runtime's as the stack trace.
"""

from __future__ import annotations

import sys

from runtime_core.errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    InitError,
    init_error_from_exception,
    log_init_error,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["InitError", "load_handler"]


def load_handler(spec: str, task_root: str) -> Callable[..., Any]:
    """Import the handler named by ``spec`` from ``task_root``; raise ``InitError`` if it fails.

    ``task_root`` goes first on ``sys.path`` (as Lambda's own runtimes put ``/var/task``),
    so the function's modules win over same-named ones elsewhere. The failure is logged
    here, as one record, so that the engine only has to post it and exit.
    """
    try:
        return _load(spec, task_root)
    except InitError as error:
        log_init_error(error)
        raise


def _load(spec: str, task_root: str) -> Callable[..., Any]:
    if spec.startswith("exec:"):  # a native program (runtime_core.native, imported only here)
        from runtime_core.native.config import load_exec_handler

        return load_exec_handler(spec, task_root)
    modname, dot, fname = spec.rpartition(".")
    if not dot:
        raise InitError(
            MALFORMED_HANDLER_NAME,
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
            [],
        )
    if modname.split(".")[0] in sys.builtin_module_names:
        raise InitError(
            BUILT_IN_MODULE_CONFLICT,
            f"Cannot use built-in module {modname} as a handler module",
            [],
        )

    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        # importlib.import_module, as awslambdaric imports the module: an exception raised
        # at import then has the same stack trace (importlib's frames included) under both.
        import importlib

        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise InitError(
            IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {exc}", []
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise InitError(
            USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {exc}", trace
        ) from None
    except Exception as exc:
        raise init_error_from_exception(exc) from None

    try:
        handler: Callable[..., Any] = getattr(module, fname)
    except AttributeError:
        raise InitError(
            HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'", []
        ) from None
    return handler
