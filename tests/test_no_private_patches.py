"""No test patches a private name: tests drive the code through what users and the other
modules can reach (``runtime_core.testing``, ``local_lambda.testing``, public settings).

A test that sets ``module._thing`` or monkeypatches it pins the code's insides: it passes
while the public behaviour is broken, and fails when the insides are merely renamed.
Read off the tests' source with ``ast``: ``monkeypatch.setattr``/``delattr``,
``mock.patch``/``patch.object`` of a ``_name``, and assignments to ``x._name`` where ``x``
is not the test's own object (``self``, ``cls``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PATCHERS = {"setattr", "delattr", "patch", "object"}


def _private(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("_") and not last.startswith("__")


#: The project's packages: a test's subclass of one of their classes is not the test's own.
PROJECT = (
    "runtime_core",
    "local_lambda",
    "layer_build",
    "lambdaboot_cli",
    "lambdaboot_bench",
    "lambdaboot_conform",
)


def _subclass_writes(tree: ast.Module) -> list[ast.Assign | ast.AugAssign]:
    """Assignments to ``self._x`` in a test's subclass of a project class (that writes the
    project class's insides, not the test's)."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PROJECT
        for alias in node.names
    }
    return [
        node
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        and any(ast.unparse(base).split(".")[0] in {*imported, *PROJECT} for base in cls.bases)
        for node in ast.walk(cls)
        if isinstance(node, (ast.Assign, ast.AugAssign))
    ]


def private_patches(path: Path) -> list[str]:
    found = []
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    tree = ast.parse(path.read_text(), str(path))
    for write in _subclass_writes(tree):
        targets = write.targets if isinstance(write, ast.Assign) else [write.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and _private(target.attr):
                found.append(f"{where}:{write.lineno}: sets {ast.unparse(target)} in a subclass")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in PATCHERS:
                names = [
                    arg.value
                    for arg in node.args[:2]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                found += [f"{where}:{node.lineno}: patches {n}" for n in names if _private(n)]
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and _private(target.attr)
                    and not (
                        isinstance(target.value, ast.Name) and target.value.id in ("self", "cls")
                    )
                ):
                    found.append(f"{where}:{node.lineno}: sets {ast.unparse(target)}")
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def test_no_test_patches_a_private_name() -> None:
    found = [
        line for path in sorted((REPO / "tests").rglob("*.py")) for line in private_patches(path)
    ]
    assert found == []


def test_the_check_sees_each_kind_of_patch(tmp_path: Path) -> None:
    source = tmp_path / "test_x.py"
    source.write_text(
        "def test(monkeypatch):\n"
        "    monkeypatch.setattr(protocol, '_quick', False)\n"
        "    monkeypatch.setattr('runtime_core.c_json._c_dumps', None)\n"
        "    mock.patch.object(reader, '_parser')\n"
        "    reader._quick = False\n"
        "    self._mine = 1\n"
        "    monkeypatch.setattr(json, 'loads', None)\n"
        "from runtime_core.protocol import ResponseReader\n"
        "class General(ResponseReader):\n"
        "    def feed(self, data):\n"
        "        self._quick = False\n"
    )
    assert [line.split(": ", 1)[1] for line in private_patches(source)] == [
        "patches _quick",
        "patches runtime_core.c_json._c_dumps",
        "patches _parser",
        "sets reader._quick",
        "sets self._quick in a subclass",
    ]
