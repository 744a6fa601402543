"""Drive the local Lambda from your own tests: a context manager and pytest fixtures.

Your function runs as Lambda runs it (its ``bootstrap`` or a managed runtime's start, in
a fresh process, over the real Runtime API), and each test gets environments of its own
that are shut down (shutdown phase included) when it ends::

    from local_lambda.testing import local_lambda

    def test_hello():
        with local_lambda(command=["./bootstrap"], task_root="build/function") as lam:
            result = lam.invoke({"name": "Ada"})
        assert result.json() == {"greeting": "Hello, Ada"}

With pytest, the fixtures are registered as a plugin (``pytest11`` entry point) as soon
as lambdaboot is installed::

    def test_cold_start_is_reported(local_lambda_factory):
        lam = local_lambda_factory(command=["./bootstrap"], task_root="build/function")
        assert lam.invoke({}).report.init_duration_ms is not None

See docs/local_lambda.md ("In your tests").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .emulator import LocalLambda
from .model import FunctionConfig

LambdaFactory = Callable[..., LocalLambda]


@contextmanager
def local_lambda(config: FunctionConfig | None = None, **settings: Any) -> Iterator[LocalLambda]:
    """An open :class:`LocalLambda` for ``config`` (or ``FunctionConfig(**settings)``),
    closed on exit."""
    with LocalLambda(config if config is not None else FunctionConfig(**settings)) as lam:
        yield lam


@contextmanager
def lambda_factory() -> Iterator[LambdaFactory]:
    """``make(**settings)`` opens a LocalLambda; all of them are closed on exit."""
    opened: list[LocalLambda] = []

    def make(config: FunctionConfig | None = None, **settings: Any) -> LocalLambda:
        lam = LocalLambda(config if config is not None else FunctionConfig(**settings))
        opened.append(lam)
        lam.open()
        return lam

    try:
        yield make
    finally:
        for lam in opened:
            lam.close()


try:
    import pytest
except ImportError:  # the context managers above work without pytest
    pass
else:

    @pytest.fixture
    def local_lambda_factory() -> Iterator[LambdaFactory]:
        """Make local Lambdas in a test: ``local_lambda_factory(command=..., task_root=...)``
        (FunctionConfig's fields) or ``local_lambda_factory(config)``; closed after the test."""
        with lambda_factory() as make:
            yield make
