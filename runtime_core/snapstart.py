"""SnapStart: the runtime hooks around the snapshot, as AWS's Python runtime runs them.

Imported only when ``AWS_LAMBDA_INITIALIZATION_TYPE`` is ``snap-start`` (Lambda sets it
while it initialises a function version whose snapshot it will keep), so every other
cold start pays nothing for it. Between loading the handler and the first ``/next``:

1. the hooks the function (or a library) registered with ``snapshot_restore_py`` to run before
   the snapshot, in reverse order of registration, then ``GET /runtime/restore/next``:
   Lambda takes the snapshot while that request waits and answers it once restored. A
   failure of either is posted to ``/runtime/init/error`` as ``Runtime.BeforeSnapshotError``
   and the runtime exits 64;
2. the after-restore hooks, in order of registration; a failure is posted to
   ``/runtime/restore/error`` as ``Runtime.AfterRestoreError`` and the runtime exits 65.

Statuses, error types, bodies and the order of hooks are awslambdaric 4.2.2's. The
connection that carried ``restore/next`` was captured in the snapshot, so it is closed
here: the engines open their own before the first ``/next``. Nothing here reads
credentials; SnapStart functions get theirs from the container-credentials endpoint
(``AWS_CONTAINER_CREDENTIALS_FULL_URI``) each time the SDK asks, never from the snapshot.
"""

from __future__ import annotations

import sys

from runtime_core.errors import InitError, init_error_from_exception
from runtime_core.logs import log_invocation_error
from runtime_core.protocol import RESTORE_NEXT_PATH
from runtime_core.shutdown import exit_now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from runtime_core.engine.client import RuntimeClient

    Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

    class Registry(Protocol):
        """What ``snapshot_restore_py`` offers the runtime: its two lists, live."""

        def get_before_snapshot(self) -> list[Hook]: ...
        def get_after_restore(self) -> list[Hook]: ...


__all__ = [
    "AFTER_RESTORE_ERROR",
    "AFTER_RESTORE_EXIT",
    "BEFORE_SNAPSHOT_ERROR",
    "BEFORE_SNAPSHOT_EXIT",
    "LambdaRuntimeClientError",
    "around_snapshot",
]

BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
#: awslambdaric's exit statuses for the two failures.
BEFORE_SNAPSHOT_EXIT = 64
AFTER_RESTORE_EXIT = 65
_REGISTRY = "snapshot_restore_py"


def around_snapshot(client: RuntimeClient) -> None:
    """Run the before-snapshot hooks, wait through the snapshot, run the after-restore
    hooks; on a failure, report it and exit with awslambdaric's status."""
    try:
        _before_snapshot()
        _restore_next(client)
    except BaseException as exc:  # awslambdaric catches everything here, SystemExit too
        error = _error(exc, BEFORE_SNAPSHOT_ERROR)
        client.post_init_error(error)
        exit_now(BEFORE_SNAPSHOT_EXIT)
    client.close()  # captured in the snapshot: never reused after a restore
    try:
        _after_restore()
    except BaseException as exc:
        error = _error(exc, AFTER_RESTORE_ERROR)
        client.post_restore_error(error)
        exit_now(AFTER_RESTORE_EXIT)


class LambdaRuntimeClientError(Exception):
    """``restore/next`` was not answered 200; named as awslambdaric names it, since the
    name is the ``errorType`` users see."""


def _restore_next(client: RuntimeClient) -> None:
    response = client.restore_next()
    if response.status != 200:
        raise LambdaRuntimeClientError(
            f"Request to Lambda Runtime '{RESTORE_NEXT_PATH}' endpoint failed. "
            f"Reason: '{response.status}'. Response body: '{response.body!r}'"
        )


def _hooks() -> Registry | None:
    """The registry module, if the function imported it: hooks can only have been
    registered through it, so a function that never did has none (and none is imported)."""
    return sys.modules.get(_REGISTRY)


def _before_snapshot() -> None:
    registry = _hooks()
    if registry is None:
        return
    pending = registry.get_before_snapshot()
    while pending:  # last registered first; a hook may register more (they run too)
        func, args, kwargs = pending.pop()
        func(*args, **kwargs)


def _after_restore() -> None:
    registry = _hooks()
    if registry is None:
        return
    for func, args, kwargs in registry.get_after_restore():  # in order, the live list
        func(*args, **kwargs)


def _error(exc: BaseException, error_type: str) -> InitError:
    """The exception as awslambdaric reports it: logged as one record, posted with the
    body's ``errorType`` the exception's class and ``error_type`` as the header."""
    found = init_error_from_exception(exc)
    log_invocation_error(found.body_type, found.message, found.stack)
    return InitError(error_type, found.message, found.stack, body_type=found.body_type)
