"""Dispatch end to end: the real ``bootstrap`` under the local Lambda, on every runtime Python.

Every ``_HANDLER`` form, every init error type and every invocation error type, as the
invoker sees them (payload, ``X-Amz-Function-Error``, the platform's error type, logs).
Init errors are also compared with what awslambdaric 4.2.2 gives for the same function.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from local_lambda import FunctionConfig, InvokeResult, LocalLambda
from tests.conftest import BOOTSTRAP, bootstrap_env, on_bootstrap, write_function

AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]

FORMS = {
    "app.py": """
        import decimal

        def handler(event, context):
            return {"form": "mod.fn", "event": event, "price": decimal.Decimal("9.90"),
                    "big": 2**70, "memory": context.memory_limit_in_mb}

        def failing(event, context):
            kind = event["kind"]
            if kind == "raise":
                raise LookupError("no such order: " + event["id"])
            if kind == "set":
                return {1, 2}
            if kind == "bytes":
                return b"\\x00raw\\xff"
            if kind == "exit":
                raise SystemExit(2)
            return {"client": repr(context.client_context), "w3c": context.w3c()}

        async def coro(event, context):
            return {"async": True, "remaining": context.get_remaining_time_in_millis() > 0}
        """,
    "pkg/__init__.py": "",
    "pkg/mod.py": "def handler(event, context):\n    return {'form': 'pkg.mod.fn'}\n",
    "lambdas/orders/mod.py": "def handler(event, context):\n    return {'form': 'dir/mod.fn'}\n",
    "src/svc/__init__.py": "",
    "src/svc/mod.py": "def handler(event, context):\n    return {'form': 'src/pkg.mod.fn'}\n",
}

INIT_ERRORS: dict[str, tuple[str, dict[str, str], str, str]] = {
    # case: (handler, files, errorType in the body, message start)
    "malformed": ("handler", {}, "Runtime.MalformedHandlerName", "Bad handler 'handler'"),
    "built-in": (
        "sys.handler",
        {},
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys",
    ),
    "no module": (
        "missing.handler",
        {},
        "Runtime.ImportModuleError",
        "Unable to import module 'missing'",
    ),
    "missing dependency": (
        "app.handler",
        {"app.py": "import not_installed_anywhere\n"},
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'not_installed_anywhere'",
    ),
    "syntax": (
        "app.handler",
        {"app.py": "def handler(e, c)\n    return 1\n"},
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app'",
    ),
    "no handler": (
        "app.nope",
        {"app.py": "def handler(e, c):\n    return 1\n"},
        "Runtime.HandlerNotFound",
        "Handler 'nope' missing on module 'app'",
    ),
    "raises at import": (
        "app.handler",
        {"app.py": "import os\nTABLE = os.environ['NO_SUCH_VARIABLE']\n"},
        "KeyError",
        "'NO_SUCH_VARIABLE'",
    ),
}


def _run(
    command: list[str],
    task_root: Path,
    handler: str,
    env: dict[str, str],
    *events: Any,
    **kwargs: Any,
) -> list[InvokeResult]:
    config = FunctionConfig(command=command, task_root=task_root, handler=handler, env=env)
    with LocalLambda(config) as lam:
        return [lam.invoke(event, **kwargs) for event in events]


def _lambdaboot(
    python: Path, task_root: Path, handler: str, *events: Any, **kwargs: Any
) -> list[InvokeResult]:
    return _run([str(BOOTSTRAP)], task_root, handler, bootstrap_env(python), *events, **kwargs)


@pytest.mark.parametrize(
    ("handler", "form"),
    [
        ("app.handler", "mod.fn"),
        ("pkg.mod.handler", "pkg.mod.fn"),
        ("lambdas/orders/mod.handler", "dir/mod.fn"),
        ("src/svc.mod.handler", "src/pkg.mod.fn"),
    ],
)
def test_every_handler_form(
    runtime_python: Path, function_dir: Path, handler: str, form: str
) -> None:
    write_function(function_dir, FORMS)
    (result,) = _lambdaboot(runtime_python, function_dir, handler, {"n": 1})
    assert result.function_error is None, result.payload
    assert result.json()["form"] == form


def test_result_serialisation_end_to_end(runtime_python: Path, function_dir: Path) -> None:
    write_function(function_dir, FORMS)
    (result,) = _lambdaboot(runtime_python, function_dir, "app.handler", {"name": "Zoë"})
    assert result.function_error is None
    assert (
        result.payload
        == (
            '{"form":"mod.fn","event":{"name":"Zoë"},"price":9.90,"big":1180591620717411303424,"memory":"128"}'
        ).encode()
    )


@pytest.mark.parametrize("case", sorted(INIT_ERRORS))
def test_every_init_error(runtime_python: Path, function_dir: Path, case: str) -> None:
    handler, files, error_type, message = INIT_ERRORS[case]
    write_function(function_dir, files)
    first, second = _lambdaboot(runtime_python, function_dir, handler, {}, {})
    for result in (first, second):  # Lambda retries init on the next invoke: same error
        assert result.function_error == "Unhandled"
        body = result.json()
        assert body["errorType"] == error_type
        assert body["errorMessage"].startswith(message)
        assert body["requestId"] == ""
    # The header is the body's errorType, as awslambdaric sends it; Lambda keeps only a
    # Runtime.X or Function.X name and records anything else as Runtime.Unknown.
    expected_platform_type = error_type if error_type.startswith("Runtime.") else "Runtime.Unknown"
    assert first.error_type == expected_platform_type
    error_lines = [
        line for line in first.logs.splitlines() if error_type in line and "[ERROR]" in line
    ]
    assert len(error_lines) == 1, first.logs


@pytest.mark.parametrize("case", sorted(INIT_ERRORS))
def test_init_errors_match_awslambdaric(function_dir: Path, case: str) -> None:
    handler, files, _error_type, _message = INIT_ERRORS[case]
    write_function(function_dir, files)
    (ours,) = _lambdaboot(Path(sys.executable), function_dir, handler, {})
    (theirs,) = _run([*AWSLAMBDARIC, handler], function_dir, handler, {}, {})
    assert ours.function_error == theirs.function_error
    assert ours.payload == theirs.payload  # byte for byte, importlib's frames included
    assert ours.error_type == theirs.error_type


def test_invocation_errors_and_the_environment_keeps_serving(
    runtime_python: Path, function_dir: Path
) -> None:
    write_function(function_dir, FORMS)
    config = on_bootstrap(function_dir, runtime_python, handler="app.failing")
    with LocalLambda(config) as lam:
        raised = lam.invoke({"kind": "raise", "id": "o-1"})
        unmarshal = lam.invoke(b'{"kind": ')
        marshal = lam.invoke({"kind": "set"})
        bad_context = lam.invoke({"kind": "context"}, client_context="{not json")
        raw = lam.invoke({"kind": "bytes"})
        good = lam.invoke(
            {"kind": "context"},
            client_context={"custom": {"a": 1}, "w3c": {"traceparent": "00-t-p-01"}},
        )

    assert raised.function_error == "Unhandled"
    assert raised.error_type == "Runtime.Unknown"  # no error-type header, as awslambdaric
    body = raised.json()
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == (
        "LookupError",
        "no such order: o-1",
        raised.request_id,
    )
    assert len(body["stackTrace"]) == 1
    assert body["stackTrace"][0].startswith(f'  File "{function_dir / "app.py"}", line ')
    assert "raise LookupError" in body["stackTrace"][0]
    assert sum("[ERROR]" in line for line in raised.logs.splitlines()) == 1

    for result, error_type in (
        (unmarshal, "Runtime.UnmarshalError"),
        (marshal, "Runtime.MarshalError"),
        (bad_context, "Runtime.LambdaContextUnmarshalError"),
    ):
        assert result.function_error == "Unhandled", result.payload
        assert result.json()["errorType"] == error_type
        assert result.error_type == "Runtime.Unknown"
    assert (
        marshal.json()["errorMessage"]
        == "Unable to marshal response: Object of type set is not JSON serializable"
    )

    assert (raw.function_error, raw.payload) == (None, b"\x00raw\xff")
    assert good.function_error is None
    assert good.json() == {
        "client": "ClientContext([custom={'a': 1},env=None,client=None])",
        "w3c": {"traceparent": "00-t-p-01"},
    }
    # One environment served all six: init ran once.
    assert [
        r.report is not None and r.report.init_duration_ms is not None for r in (raised, good)
    ] == [True, False]


def test_async_handler(runtime_python: Path, function_dir: Path) -> None:
    write_function(function_dir, FORMS)
    (result,) = _lambdaboot(runtime_python, function_dir, "app.coro", {})
    assert result.function_error is None, result.payload
    assert result.json() == {"async": True, "remaining": True}


def test_system_exit_in_a_handler_ends_the_environment_as_with_awslambdaric(
    function_dir: Path,
) -> None:
    write_function(function_dir, FORMS)
    ours = _lambdaboot(
        Path(sys.executable), function_dir, "app.failing", {"kind": "exit"}, {"kind": "context"}
    )
    theirs = _run(
        [*AWSLAMBDARIC, "app.failing"],
        function_dir,
        "app.failing",
        {},
        {"kind": "exit"},
        {"kind": "context"},
    )
    assert [r.function_error for r in ours] == [r.function_error for r in theirs]
    assert [r.error_type for r in ours] == [r.error_type for r in theirs]
    assert ours[0].json()["errorType"] == theirs[0].json()["errorType"]
    assert ours[1].function_error is None  # a fresh environment serves the next invocation
