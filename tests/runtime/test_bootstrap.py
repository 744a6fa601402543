"""``bootstrap``: which interpreter it picks, what it refuses, and the import path it builds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import BOOTSTRAP, REPO
from tests.runtime.conftest import Start
from tests.runtime.fake_api import FakeRuntimeApi


def python_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def make_layer(root: Path, python_version: str | None) -> Path:
    """A layer's layout: <root>/bootstrap, <root>/lambdaboot/runtime_core[, PYTHON_VERSION]."""
    root.mkdir(parents=True)
    shutil.copy(BOOTSTRAP, root / "bootstrap")
    (root / "lambdaboot").mkdir()
    (root / "lambdaboot" / "runtime_core").symlink_to(REPO / "runtime_core")
    if python_version is not None:
        (root / "lambdaboot" / "PYTHON_VERSION").write_text(python_version + "\n")
    return root / "bootstrap"


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


def test_no_interpreter_found(tmp_path: Path) -> None:
    assert not Path("/var/lang/bin/python3").exists(), "this machine has a managed-runtime python"
    bootstrap = make_layer(tmp_path / "layer", "3.12")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run(["/bin/sh", str(bootstrap)], {"PATH": str(empty)})
    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    assert "no Python interpreter found" in line and "3.12" in line and "LAMBDABOOT_PYTHON" in line


def test_lambdaboot_python_that_does_not_exist(tmp_path: Path) -> None:
    result = run(
        [str(BOOTSTRAP)], {"PATH": os.environ["PATH"], "LAMBDABOOT_PYTHON": str(tmp_path / "nope")}
    )
    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    assert str(tmp_path / "nope") in line and "not an executable" in line


def test_version_mismatch_is_refused_in_one_line(tmp_path: Path, runtime_python: Path) -> None:
    bootstrap = make_layer(tmp_path / "layer", "3.9")
    result = run(
        [str(bootstrap)],
        {
            "PATH": os.environ["PATH"],
            "LAMBDABOOT_PYTHON": str(runtime_python),
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
            "_HANDLER": "app.handler",
        },
    )
    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    have = python_version(runtime_python)
    assert f"found Python {have}" in line and "built for Python 3.9" in line


def test_embedded_interpreter_beside_the_bootstrap(
    tmp_path: Path, runtime_python: Path, api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """No LAMBDABOOT_PYTHON: the layer's own python-runtime/bin/python3 is used."""
    bootstrap = make_layer(tmp_path / "layer", python_version(runtime_python))
    embedded = tmp_path / "layer" / "python-runtime" / "bin" / "python3"
    embedded.parent.mkdir(parents=True)
    # A wrapper, not a symlink: a venv's interpreter finds its packages from its own path.
    embedded.write_text(f'#!/bin/sh\nexec {runtime_python} "$@"\n')
    embedded.chmod(0o755)
    start_runtime(
        {"app.py": "import sys\ndef handler(event, context):\n    return sys.executable\n"},
        env={"LAMBDABOOT_PYTHON": ""},
        command=[str(bootstrap)],
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == str(runtime_python)


def test_python3_on_path_is_the_last_resort(
    tmp_path: Path, runtime_python: Path, api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """No LAMBDABOOT_PYTHON, embedded or managed interpreter: the first executable file named
    python3 in PATH's directories, in order (not a plain file, not a directory)."""
    assert not Path("/var/lang/bin/python3").exists(), "this machine has a managed-runtime python"
    bootstrap = make_layer(tmp_path / "layer", python_version(runtime_python))
    not_executable, a_directory, chosen, later = (tmp_path / name for name in ("a", "b", "c", "d"))
    for directory in (not_executable, chosen, later):
        directory.mkdir()
    (not_executable / "python3").write_text("#!/bin/sh\nexit 3\n")
    (a_directory / "python3").mkdir(parents=True)
    for directory in (chosen, later):
        # A wrapper that says which one ran (a venv's interpreter must not be symlinked).
        wrapper = directory / "python3"
        wrapper.write_text(f'#!/bin/sh\nPICKED={directory.name} exec {runtime_python} "$@"\n')
        wrapper.chmod(0o755)
    start_runtime(
        {
            "app.py": (
                "import os, sys\ndef handler(event, context):\n"
                "    return [os.environ['PICKED'], sys.executable]\n"
            )
        },
        env={
            "LAMBDABOOT_PYTHON": "",
            "PATH": os.pathsep.join(map(str, (not_executable, a_directory, chosen, later))),
        },
        command=[str(bootstrap)],
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == ["c", str(runtime_python)]


def test_import_path_order(
    api: FakeRuntimeApi, start_runtime: Start, runtime_python: Path, tmp_path: Path
) -> None:
    user_dir = tmp_path / "user-pythonpath"
    start_runtime(
        {"app.py": "import sys\ndef handler(event, context):\n    return sys.path\n"},
        env={"PYTHONPATH": str(user_dir)},
    )
    api.invoke({})
    path = api.wait_for("/response")[0].json()
    version = python_version(runtime_python)
    task_root = str(tmp_path / "task")
    expected = [
        task_root,
        str(user_dir),
        f"/opt/python/lib/python{version}/site-packages",
        "/opt/python",
        str(REPO),
    ]
    assert [entry for entry in path if entry in expected] == expected
    assert path[0] == task_root and "" not in path
    site_packages = [
        i
        for i, entry in enumerate(path)
        if entry.endswith("site-packages") and "/opt/" not in entry
    ]
    assert site_packages and min(site_packages) > path.index(str(REPO))


def test_function_shipping_its_own_orjson(api: FakeRuntimeApi, start_runtime: Start) -> None:
    """The task root comes first (as on Lambda), so the function's orjson is the one loaded;
    the runtime keeps serving as long as that orjson has loads/dumps/JSONDecodeError."""
    start_runtime(
        {
            "orjson/__init__.py": """
            import json
            __version__ = "0.0.0+function"
            JSONDecodeError = json.JSONDecodeError
            def loads(data):
                return json.loads(data)
            def dumps(obj, default=None, option=None):
                return json.dumps(obj, default=default, separators=(",", ":")).encode()
        """,
            "app.py": """
            import orjson
            def handler(event, context):
                return {"orjson": orjson.__version__, "event": event}
        """,
        }
    )
    api.invoke({"a": [1, 2]})
    assert api.wait_for("/response")[0].json() == {
        "orjson": "0.0.0+function",
        "event": {"a": [1, 2]},
    }


def test_function_shipping_an_incompatible_orjson(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """An orjson without the API the runtime needs: each invocation that uses it gets one
    clear error, no crash. Plain results are written without orjson (the stdlib's C
    encoder, see ``runtime_core.serialize``), so those are answered."""
    runtime = start_runtime(
        {
            "orjson/__init__.py": "__version__ = 'broken'\n",
            "app.py": "import datetime\n"
            "def handler(event, context):\n"
            "    return datetime.date(2024, 1, 1) if event.get('date') else 1\n",
        }
    )
    first = api.invoke({"a": 1})
    second = api.invoke({"date": True})
    [answered] = api.wait_for("/response")
    assert first in answered.path and answered.body == b"1"
    [result] = api.wait_for("/error")
    assert second in result.path and "orjson" in result.body.decode()
    assert runtime.process.poll() is None


def test_interpreter_flags(api: FakeRuntimeApi, start_runtime: Start) -> None:
    """Unbuffered stdio and no user site-packages, as the bootstrap asks."""
    start_runtime(
        {
            "app.py": """
        import sys
        def handler(event, context):
            return {"unbuffered": sys.stdout.write_through, "no_user_site": sys.flags.no_user_site}
    """
        }
    )
    api.invoke({})
    assert api.wait_for("/response")[0].json() == {"unbuffered": True, "no_user_site": 1}


MALLOC_PROBE = """
import os, subprocess
def handler(event, context):
    with open("/proc/self/environ", "rb") as f:  # what the interpreter was started with
        started = [v.decode() for v in f.read().split(b"\\0") if v.startswith(b"MALLOC_")]
    child = subprocess.run(["env"], capture_output=True, text=True).stdout.splitlines()
    return {
        "started": sorted(started),
        "handler": sorted(k + "=" + v for k, v in os.environ.items() if k.startswith("MALLOC_")),
        "child": sorted(line for line in child if line.startswith("MALLOC_")),
    }
"""


def test_malloc_thresholds_reach_the_interpreter_only(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    """glibc's thresholds are set for the interpreter (big events keep their memory) and
    removed before the handler runs: it and its subprocesses see Lambda's environment."""
    start_runtime({"app.py": MALLOC_PROBE})
    api.invoke({})
    assert api.wait_for("/response")[0].json() == {
        "started": ["MALLOC_MMAP_THRESHOLD_=67108864", "MALLOC_TRIM_THRESHOLD_=67108864"],
        "handler": [],
        "child": [],
    }


def test_a_function_setting_a_malloc_threshold_keeps_its_own(
    api: FakeRuntimeApi, start_runtime: Start
) -> None:
    start_runtime({"app.py": MALLOC_PROBE}, env={"MALLOC_TRIM_THRESHOLD_": "131072"})
    api.invoke({})
    mine = ["MALLOC_TRIM_THRESHOLD_=131072"]
    assert api.wait_for("/response")[0].json() == {
        "started": mine,
        "handler": mine,
        "child": mine,
    }
