"""Every start-up trick of the runtime, in one place: what each saves, and its fallback.

Each trick is an import that would cost a cold start milliseconds, done another way.
Each was measured (Python 3.12, ``python -I -S -X importtime`` with only site-packages on
the path, cumulative time; ``make bench``'s start-up ladder has current figures) and kept
only because it saves well over 1 ms. A trick that leans on a private or release-specific
detail falls back to the public way on any failure, so the worst a surprise can cost is
the milliseconds it was meant to save.

Each trick, what the public way costs, what the trick costs, and its fallback:

- httptools' C parser without its package (``response_parser_class``).
  Public way: ~20 ms (``import httptools``: two ``__init__`` modules that import ``typing``).
  Trick: ~2 ms (the C module, and ``importlib.machinery`` to find it).
  Fallback: ``from httptools import HttpResponseParser`` on any failure; ``httptools`` is
  capped at the releases the stand-ins were checked against (pyproject.toml).
- ``_socket`` for ``socket`` (``transport.blocking``).
  Public way: ~16 ms (``enum``, ``selectors``; ``-X importtime``, median of 31 runs:
  15.7 ms on 3.11, 16.8 on 3.12, 16.5 on 3.13; the command is in docs/architecture.md).
  Trick: ~0.1 ms.
  Fallback: none needed: the C half ``socket`` wraps, same API.
- ``_signal`` for ``signal`` (``shutdown.install_sigterm_blocking``).
  Public way: ~6 ms (``enum``). Trick: ~0 ms. Fallback: none needed, as ``_socket``.
- ``_json``'s C scanner and encoder for ``json`` (``runtime_core.c_json``, used by
  ``serialize`` until orjson pays).
  Public way: ~4 ms (``json.decoder``/``json.encoder``: ``re``, ``enum``). Trick: ~0.1 ms.
  Fallback: the public ``json`` module on any failure of the private path (differential
  tests with a changed ``_json``, valid and invalid events:
  ``tests/dispatch/test_serialize_first_call.py``).
- orjson imported once it pays (``serialize.after_response``).
  Public way: 8-13 ms at init (``uuid`` -> ``platform``, ``dataclasses`` -> ``inspect``).
  Trick: a few µs per small invocation until then.
  Fallback: none needed: public imports; a failing import is reported by the invocation
  that needs orjson.
- the ``logging`` bridge installed by an import hook (``runtime_core.logs.import_hook``).
  Public way: ~4.3 ms (``import logging``) when the handler never logs. Trick: ~0 ms.
  Fallback: none needed: ``sys.meta_path`` is public; a handler that imports ``logging``
  gets the bridge at that moment.

Their shares of a cold start, side by side in one run: ``make bench``'s start-up ladder
(``benchmarks/results/startup_ladder.json``, shown in ``docs/architecture.md``).

Replaced by plain code because they saved less than 1 ms: the import system's own
``PathFinder`` taken from ``_frozen_importlib_external`` (``importlib.machinery`` costs
0.3-0.9 ms), and ``runtime_core.main`` copying a setting's name to avoid importing
``runtime_core.deadline`` (the name now lives in ``runtime_core.setting_names``, which
costs nothing).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from httptools.parser.parser import HttpResponseParser

    T = TypeVar("T")

__all__ = ["response_parser_class", "with_fallback"]


def with_fallback(trick: Callable[[], T], plain: Callable[[], T]) -> T:
    """``trick()``, or ``plain()`` if the trick fails in any way (the trick must leave no
    trace behind when it raises)."""
    try:
        return trick()
    except Exception:
        return plain()


def response_parser_class() -> type[HttpResponseParser]:
    """httptools' C response parser class, loaded the cheap way when ``typing`` is not
    loaded yet (a cold start), the public way otherwise or if the cheap way fails."""
    if "typing" in sys.modules or "httptools" in sys.modules:
        return _public_parser_class()
    return with_fallback(_parser_class_without_typing, _public_parser_class)


def _public_parser_class() -> type[HttpResponseParser]:
    from httptools import HttpResponseParser

    return HttpResponseParser


class _AnyAnnotation:
    """Stands in for ``typing.Optional`` while httptools' C parser loads: it is subscripted
    once per annotation at import time and never used again."""

    def __getitem__(self, item: object) -> _AnyAnnotation:
        return self


def _parser_class_without_typing() -> type[HttpResponseParser]:
    """The C module loaded under two empty package stand-ins and a one-name ``typing``
    stand-in (the C module runs ``from typing import Optional`` only for annotations);
    all three are removed from ``sys.modules`` at once, so a later ``import httptools``
    or ``import typing`` by user code gets the real modules (and reuses this C module)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("httptools")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("httptools is not installed")
    module_type = type(sys)
    package = module_type("httptools")
    package.__path__ = list(spec.submodule_search_locations)
    subpackage = module_type("httptools.parser")
    subpackage.__path__ = [location + "/parser" for location in package.__path__]
    typing_stand_in = module_type("typing")
    typing_stand_in.Optional = _AnyAnnotation()  # type: ignore[attr-defined]
    stand_ins = {"httptools": package, "httptools.parser": subpackage, "typing": typing_stand_in}
    sys.modules.update(stand_ins)
    loaded = False
    try:
        from httptools.parser.parser import HttpResponseParser as parser_class

        loaded = True
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        if not loaded:  # a half-loaded C module must not be found by the fallback's import
            sys.modules.pop("httptools.parser.parser", None)
            sys.modules.pop("httptools.parser.errors", None)
    return parser_class
