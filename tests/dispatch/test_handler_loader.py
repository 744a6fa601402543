"""Loading ``_HANDLER``: every form awslambdaric accepts, and every init error it reports.

Each case is checked against awslambdaric 4.2.2's own loader on the same files, so the
error types and message texts users search for stay the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from awslambdaric import bootstrap as ric_bootstrap
from awslambdaric.lambda_runtime_exception import FaultException

from runtime_core.errors import InitError
from runtime_core.handler_loader import load_handler
from tests.conftest import write_function

HANDLER_FILES = {
    "app.py": "def handler(event, context):\n    return 'app'\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "def handler(event, context):\n    return 'pkg.mod'\n",
    "nested/dir/mod.py": "def handler(event, context):\n    return 'nested/dir/mod'\n",
    "src/lib/__init__.py": "",
    "src/lib/mod.py": "def handler(event, context):\n    return 'src/lib.mod'\n",
}


@pytest.mark.parametrize(
    ("spec", "returns"),
    [
        ("app.handler", "app"),
        ("pkg.mod.handler", "pkg.mod"),
        ("nested/dir/mod.handler", "nested/dir/mod"),
        ("src/lib.mod.handler", "src/lib.mod"),
    ],
)
def test_every_handler_form_loads_the_function(task_root: Path, spec: str, returns: str) -> None:
    write_function(task_root, HANDLER_FILES)
    handler = load_handler(spec, str(task_root))
    assert handler({}, None) == returns


def test_task_root_wins_over_a_same_named_module_elsewhere(task_root: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write_function(other, {"clash.py": "def handler(e, c):\n    return 'elsewhere'\n"})
    write_function(task_root, {"clash.py": "def handler(e, c):\n    return 'task root'\n"})
    sys.path.insert(0, str(other))
    assert load_handler("clash.handler", str(task_root))({}, None) == "task root"


def _ours(spec: str, root: Path) -> tuple[str, str, list[str], str]:
    with pytest.raises(InitError) as caught:
        load_handler(spec, str(root))
    error = caught.value
    body = json.loads(error.body)
    assert body == {
        "errorMessage": error.message,
        "errorType": error.body_type,
        "requestId": "",
        "stackTrace": error.stack,
    }
    return body["errorType"], body["errorMessage"], body["stackTrace"], error.error_type


def _theirs(spec: str, root: Path) -> tuple[str, str, list[str]]:
    """awslambdaric's classification of the same handler (task root already on sys.path)."""
    for name in [m for m in sys.modules if m.split(".")[0] in {"app", "broken", "pkg", "needs"}]:
        del sys.modules[name]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        ric_bootstrap._get_handler(spec)
    except FaultException as exc:
        return exc.exception_type, exc.msg, exc.trace or []
    except Exception as exc:
        result = ric_bootstrap.build_fault_result(sys.exc_info(), None)
        return type(exc).__name__, result["errorMessage"], result["stackTrace"]
    raise AssertionError(f"awslambdaric loaded {spec!r}")


@pytest.mark.parametrize(
    ("spec", "files", "error_type"),
    [
        ("handler", {}, "Runtime.MalformedHandlerName"),
        ("sys.handler", {}, "Runtime.BuiltInModuleConflict"),
        ("missing.handler", {}, "Runtime.ImportModuleError"),
        (
            "needs.handler",
            {"needs.py": "import not_installed_anywhere\n"},
            "Runtime.ImportModuleError",
        ),
        (
            "broken.handler",
            {"broken.py": "def handler(event, context)\n    return 1\n"},
            "Runtime.UserCodeSyntaxError",
        ),
        (
            "app.nope",
            {"app.py": "def handler(event, context):\n    return 1\n"},
            "Runtime.HandlerNotFound",
        ),
        (
            "pkg.mod.nope",
            {"pkg/__init__.py": "", "pkg/mod.py": "x = 1\n"},
            "Runtime.HandlerNotFound",
        ),
    ],
)
def test_init_errors_match_awslambdaric(
    task_root: Path, spec: str, files: dict[str, str], error_type: str
) -> None:
    write_function(task_root, files)
    body_type, message, stack, header = _ours(spec, task_root)
    assert (body_type, header) == (error_type, error_type)
    assert (body_type, message, stack) == _theirs(spec, task_root)


def test_syntax_error_names_the_file_and_line(task_root: Path) -> None:
    write_function(task_root, {"broken.py": "x = 1\ndef handler(event, context)\n    return 1\n"})
    _type, message, stack, _header = _ours("broken.handler", task_root)
    assert message.startswith("Syntax error in module 'broken':")
    assert stack == [
        f'  File "{task_root / "broken.py"}" Line 2\n    def handler(event, context)\n'
    ]


def test_other_exception_at_import_reports_its_class_and_the_frames_awslambdaric_keeps(
    task_root: Path,
) -> None:
    write_function(
        task_root,
        {
            "app.py": "import helper\nhelper.setup()\ndef handler(e, c):\n    return 1\n",
            "helper.py": "def setup():\n    raise KeyError('TABLE_NAME')\n",
        },
    )
    body_type, message, stack, header = _ours("app.handler", task_root)
    assert (body_type, message, header) == ("KeyError", "'TABLE_NAME'", "KeyError")
    assert stack[-2:] == [
        f'  File "{task_root / "app.py"}", line 2, in <module>\n    helper.setup()\n',
        (
            f'  File "{task_root / "helper.py"}", line 2, in setup\n'
            "    raise KeyError('TABLE_NAME')\n"
        ),
    ]
    assert "importlib" in stack[0] and "runtime_core" not in "".join(stack)
    # awslambdaric reports the same type, message and frames, importlib's included (called
    # in-process here, its stack starts with this test's frames; test_error_bytes.py
    # compares the whole stack of the real runtimes).
    their_type, their_message, their_stack = _theirs("app.handler", task_root)
    assert (their_type, their_message, their_stack[-len(stack) :]) == (body_type, message, stack)


def test_init_error_is_logged_once(task_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InitError):
        load_handler("missing.handler", str(task_root))
    out = capsys.readouterr().out
    assert out.count("Runtime.ImportModuleError") == 1
    assert "Unable to import module 'missing'" in out
    # awslambdaric's LAMBDA_WARNING record, then the error as one record.
    warning, error, _end = out.split("\n")
    assert (
        warning.startswith("[WARNING]\t") and "\t\tLAMBDA_WARNING: Unhandled exception." in warning
    )
    assert error.startswith("[ERROR] Runtime.ImportModuleError: Unable to import module")


def test_system_exit_at_import_ends_the_process_as_in_awslambdaric(task_root: Path) -> None:
    write_function(task_root, {"app.py": "import sys\nsys.exit(3)\n"})
    with pytest.raises(SystemExit):
        load_handler("app.handler", str(task_root))
