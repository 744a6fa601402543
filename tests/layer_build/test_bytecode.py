"""Nothing compiles at run time: importing the whole runtime from a read-only copy of a layer.

The probe counts every call to the import system's source compiler
(``SourceLoader.source_to_code``), which runs only when a module's pyc is missing or
stale. The layer is bind-mounted read-only in a private mount namespace, as on Lambda.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

PROBE = """
import importlib._bootstrap_external as ext, json, sys
compiled = []
original = ext.SourceLoader.source_to_code
def spy(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
ext.SourceLoader.source_to_code = spy
sys.path[:0] = [sys.argv[1]]
import asyncio, json as _json, logging, ssl, email.parser, http.client
import runtime_core.main, runtime_core.engine.aio, runtime_core.engine.blocking
import runtime_core.logs.structlog_setup, runtime_core.transport.aio
import uvloop, httptools, orjson, structlog
loaded = sorted(m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None))
print(json.dumps({"compiled": compiled, "loaded": loaded}))
"""


def unpack(layer: Path, opt: Path) -> None:
    """Extract as Lambda does, keeping each entry's mode."""
    with zipfile.ZipFile(layer) as archive:
        for info in archive.infolist():
            archive.extract(info, opt)
            (opt / info.filename).chmod((info.external_attr >> 16) & 0o777)


def _import_read_only(opt: Path, python: str) -> dict[str, list[str]]:
    script = (
        f'mount --bind "{opt}" "{opt}" && mount -o remount,ro,bind "{opt}" && '
        f'touch "{opt}/probe" 2>/dev/null && echo "{opt} is writable" >&2 && exit 3; '
        f'exec "$0" -s -c "$1" "{opt}/lambdaboot"'
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, python, PROBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_importing_the_managed_layer_compiles_nothing(built_layer: Path, tmp_path: Path) -> None:
    python = str(Path(__file__).parents[2] / ".venv-3.12" / "bin" / "python")
    unpack(built_layer, tmp_path / "opt")
    result = _import_read_only(tmp_path / "opt", python)
    from_layer = [f for f in result["loaded"] if f.startswith(str(tmp_path))]
    assert len(from_layer) > 40, "the runtime and its packages were imported from the layer"
    assert [f for f in result["compiled"] if f.startswith(str(tmp_path))] == []


def test_embedded_standard_library_is_precompiled(provided_layer: Path, tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    unpack(provided_layer, opt)
    result = _import_read_only(opt, str(opt / "python-runtime" / "bin" / "python3"))
    stdlib = [f for f in result["loaded"] if "/python-runtime/lib/python3.12/" in f]
    assert any(f.endswith("/asyncio/__init__.py") for f in stdlib)
    assert result["compiled"] == [], "every module, standard library included, came from its pyc"
