"""Install the stdlib ``logging`` bridge the moment anything imports ``logging``.

``import logging`` costs ~4 ms at cold start, which a handler that never logs should not
pay, yet the bridge must be on the root logger *before* user code can see ``logging``:
``logging.basicConfig()`` is a no-op on AWS because the root logger already has Lambda's
handler, and Powertools' ``Logger`` attaches its de-duplication filter to the root
handlers present when it is created. A meta path finder that only answers for
``logging`` gives both: nothing is imported until the user (or asyncio) imports
``logging``, and the handler is attached as the module finishes executing.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["call_when_imported"]


class _RunAfterExec:
    """Loader wrapper: runs the real loader, then the callback, then steps out of the way."""

    def __init__(self, loader: object, callback: Callable[[], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        # Put the real loader back so that reload(), inspect and linecache see no trace of us.
        module.__loader__ = self._loader  # type: ignore[assignment]
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader  # type: ignore[assignment]
        self._loader.exec_module(module)  # type: ignore[attr-defined]
        self._callback()


class _WatchFor:
    """A meta path finder that answers only for one module name, once."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self._name = name
        self._callback = callback

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != self._name:
            return None
        spec: ModuleSpec | None = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(name, path, target)
                if spec is not None:
                    break
        if spec is None:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        # Disarm before the module runs: from here on the import machinery owns it.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec.loader = _RunAfterExec(spec.loader, self._callback)  # type: ignore[assignment]
        return spec


def call_when_imported(name: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` right after module ``name`` is first imported (now, if it already is)."""
    if name in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, _WatchFor(name, callback))
