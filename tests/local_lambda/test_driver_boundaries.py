"""The local Lambda's drivers talk to one another through calls, never by writing fields.

The emulator, the environment, the sandbox and the HTTP drivers each own their state and
are given what they need (callbacks included) when they are made; one that set another's
attribute afterwards would be deciding that object's behaviour from outside it, where a
reader of its class cannot see it. Read off the source with ``ast``: an assignment to an
attribute of anything but ``self`` (``other.x = ...``, ``self.part.x = ...``) fails here,
except the records below, which are data the driver fills in.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

DRIVERS = [
    "emulator.py",
    "environment.py",
    "sandbox.py",
    "runtime_api.py",
    "extensions_api.py",
    "lifecycle.py",
    "snapstart.py",
]

#: Objects that are records (data, no behaviour of their own) a driver fills in, and why.
RECORDS = {
    "inv.timings": "an invocation's timestamps (model.Timings), filled in as it goes",
    "result": "the InvokeResult being handed back to the caller",
    "fault": "an injected fault's remaining count",
    "slot": "lifecycle's own per-slot record (_SlotState), moved only through the table",
    "ext": "extensions_api's own record of one registered extension",
    "self._plog": "the emulator's own platform-log writer, pointed at the serving"
    " environment's Telemetry",
}


def writes_into_others(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        flat = [t for target in targets for t in ast.walk(target) if isinstance(t, ast.Attribute)]
        for target in flat:
            if isinstance(target.ctx, ast.Store):
                owner = ast.unparse(target.value)
                if owner != "self" and owner not in RECORDS:
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(target)} = ...")
    return found


def test_no_driver_sets_another_objects_fields() -> None:
    found = [line for name in DRIVERS for line in writes_into_others(REPO / "local_lambda" / name)]
    assert found == []


def test_the_check_sees_a_write_into_another_object(tmp_path: Path) -> None:
    source = tmp_path / "driver.py"
    source.write_text("def wire(env, api):\n    env.api.on_freeze = api.freeze\n")
    assert writes_into_others(source) == ["driver.py:2: env.api.on_freeze = ..."]
