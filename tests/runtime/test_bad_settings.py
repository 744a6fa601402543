"""A setting the runtime cannot use is an init error: one clear line naming the variable and
what it accepts, posted to ``/init/error`` before the handler is even imported, then exit 1.

Before, a bad ``LAMBDABOOT_DEADLINE_MARGIN_MS`` ended the runtime with an "internal error"
traceback and nothing posted (Lambda could only say ``Runtime.ExitError``), as did a bad
``AWS_LAMBDA_MAX_CONCURRENCY`` and a refused extension registration.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from local_lambda import LocalLambda
from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi

ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


@pytest.fixture
def runtime_python() -> Path:
    """The suite's own interpreter only: reading settings is the same Python code on every
    version (tests/runtime's other files and tests/dispatch cover what differs)."""
    return Path(sys.executable)


# The handler module leaves a mark when imported: settings are checked before that.
APP = """
    import os
    open(os.path.join(os.environ["MARK_DIR"], "imported"), "w").close()
    {kind}def handler(event, context):
        return "served"
"""

BAD = [
    # (variable, value, extra environment, words the message must contain)
    ("LAMBDABOOT_DEADLINE_MARGIN_MS", "abc", {}, ["number of milliseconds", ">= 0"]),
    ("LAMBDABOOT_DEADLINE_MARGIN_MS", "-5", {}, ["number of milliseconds", ">= 0"]),
    ("AWS_LAMBDA_MAX_CONCURRENCY", "abc", {}, ["positive integer"]),
    ("AWS_LAMBDA_MAX_CONCURRENCY", "0", {}, ["positive integer"]),
    ("LAMBDABOOT_TRANSPORT", "htttpx", {}, ["socket or httpx"]),
    (
        "LAMBDABOOT_SYNC_THREADS",
        "maybe",
        {"AWS_LAMBDA_MAX_CONCURRENCY": "2"},
        ["1, true or yes", "0, false or no"],
    ),
    (
        "LAMBDABOOT_ASYNC_PROCESSES",
        "all",
        {"AWS_LAMBDA_MAX_CONCURRENCY": "2"},
        ["LAMBDABOOT_ASYNC_PROCESSES must be a positive integer", "'all'"],
    ),
    ("LAMBDABOOT_ASYNC_PROCESSES", "0", {"AWS_LAMBDA_MAX_CONCURRENCY": "2"}, ["positive integer"]),
]


@pytest.mark.parametrize("kind", ["", "async "], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("name", "value", "extra", "words"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD]
)
def test_a_bad_setting_is_an_init_error_naming_it(
    api: FakeRuntimeApi,
    start_runtime: Start,
    tmp_path: Path,
    kind: str,
    name: str,
    value: str,
    extra: dict[str, str],
    words: list[str],
) -> None:
    runtime = start_runtime(
        {"app.py": APP.format(kind=kind)}, env={name: value, "MARK_DIR": str(tmp_path), **extra}
    )
    [report] = api.wait_for("/init/error")
    assert runtime.wait(timeout=10) == 1
    error_type = report.headers["lambda-runtime-function-error-type"]
    assert error_type == "Runtime.ConfigError" and ERROR_TYPE.fullmatch(error_type)
    body = report.json()
    message = body["errorMessage"]
    assert "\n" not in message
    assert name in message and repr(value) in message
    assert all(word in message for word in words), message
    assert body["errorType"] == "Runtime.ConfigError"
    assert not (tmp_path / "imported").exists()  # checked before the handler was loaded
    assert not [s for s in api.seen if s.path.endswith("/invocation/next")]
    output = runtime.output()
    # No Python traceback (the error record's "Traceback (most recent call last):" line,
    # which awslambdaric writes even without frames, has no frames under it).
    assert 'File "' not in output and "internal error" not in output
    assert [line for line in output.splitlines() if name in line], output  # logged, one line


def test_good_settings_still_serve(
    api: FakeRuntimeApi, start_runtime: Start, tmp_path: Path
) -> None:
    """The same check passes what it should: every accepted spelling, at once."""
    start_runtime(
        {"app.py": APP.format(kind="")},
        env={
            "LAMBDABOOT_DEADLINE_MARGIN_MS": " 250 ",
            "LAMBDABOOT_TRANSPORT": "Socket",
            "LAMBDABOOT_SYNC_THREADS": "no",
            "MARK_DIR": str(tmp_path),
        },
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == "served"


def test_the_invoker_sees_the_config_error(
    make_lambda: Callable[..., LocalLambda], tmp_path: Path
) -> None:
    lam = make_lambda(
        {"app.py": APP.format(kind="async ")},
        env={"LAMBDABOOT_DEADLINE_MARGIN_MS": "soon", "MARK_DIR": str(tmp_path)},
    )
    result = lam.invoke({})
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.ConfigError"
    assert "LAMBDABOOT_DEADLINE_MARGIN_MS" in result.json()["errorMessage"]
    assert "Runtime.ExitError" not in lam.output


def test_a_refused_extension_registration_is_an_init_error(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """Shutdown hooks need an internal extension; if Lambda refuses to register it, the
    function cannot have what it asked for, and says so through ``/init/error``."""
    api.faults["/extension/register"] = [(403, b'{"errorType":"Extension.Forbidden"}')]
    runtime = start_runtime(
        {
            "app.py": """
        from runtime_core import on_shutdown
        on_shutdown(lambda: None)
        def handler(event, context):
            return "served"
    """
        }
    )
    [report] = api.wait_for("/init/error")
    assert runtime.wait(timeout=10) == 1
    error_type = report.headers["lambda-runtime-function-error-type"]
    assert error_type == "Runtime.ExtensionRegistrationError" and ERROR_TYPE.fullmatch(error_type)
    assert "403" in report.json()["errorMessage"]
    assert not [s for s in api.seen if s.path.endswith("/invocation/next")]
