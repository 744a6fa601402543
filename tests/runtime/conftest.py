"""Starting the real ``bootstrap``: in the local Lambda (``make_lambda``), or against the
scriptable fake API (``start_runtime``) when a test must see every request."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from local_lambda.testing import LambdaFactory
from tests.conftest import BOOTSTRAP, on_bootstrap, runtime_env, write_function
from tests.runtime.fake_api import FakeRuntimeApi


class RuntimeProcess:
    """One runtime process; its stdout and stderr go to a file, read with ``output()``."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=cwd
        )

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log_file.close()


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    server = FakeRuntimeApi()
    yield server
    server.close()


Start = Callable[..., RuntimeProcess]


@pytest.fixture
def start_runtime(
    api: FakeRuntimeApi, runtime_python: Path, function_dir: Path, tmp_path: Path
) -> Iterator[Start]:
    """``start(files, handler=..., env=..., command=...)``: write the function, start the
    runtime."""
    started: list[RuntimeProcess] = []

    def start(
        files: dict[str, str],
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> RuntimeProcess:
        write_function(function_dir, files)
        full_env = runtime_env(api.address, function_dir, runtime_python, handler) | (env or {})
        process = RuntimeProcess(
            command or [str(BOOTSTRAP)],
            full_env,
            tmp_path / f"runtime-{len(started)}.log",
            function_dir,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def make_lambda(
    runtime_python: Path, function_dir: Path, local_lambda_factory: LambdaFactory
) -> Callable[..., LocalLambda]:
    """``make_lambda(files, env=..., **config)``: the function in a running local Lambda
    on the real ``bootstrap`` under ``runtime_python``; closed after the test."""

    def make(
        files: dict[str, str], env: dict[str, str] | None = None, **config: object
    ) -> LocalLambda:
        write_function(function_dir, files)
        settings = {"timeout": 10.0, "log_format": "Text", **config}
        return local_lambda_factory(on_bootstrap(function_dir, runtime_python, env, **settings))

    return make
