"""No import circles inside a package, and the one-way doors between the rooms hold.

Read off the source with ``ast`` (every ``import``, function-level and ``TYPE_CHECKING``
ones included: a circle hidden in a function still makes the two modules one unit a
newcomer must read together), not by importing anything. A failure names the circle.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

#: The packages checked for circles: every top-level package of the repository (the
#: installed ones, ``benchmarks`` and ``tests`` too), found in the tree so that a new
#: package cannot be left out of the check.
PACKAGES = sorted(p.parent.name for p in REPO.glob("*/__init__.py"))


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every name ``path`` imports, absolute (``from x import y`` gives ``x.y``;
    ``graph`` resolves it to the module ``x.y`` or, if that is no module, ``x``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _modules(package: Path) -> list[Path]:
    """The package's modules: files in folders that are packages all the way down (not a
    cache of third-party packages a benchmark keeps beside its code, e.g.)."""
    return [
        path
        for path in sorted(package.rglob("*.py"))
        if all(
            (folder / "__init__.py").exists()
            for folder in (path.parent, *path.parent.parents)
            if folder.is_relative_to(package)
        )
    ]


def graph(package: str, root: Path = REPO) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (a package's ``__init__``
    included: ``from pkg import name`` runs ``pkg/__init__.py``)."""
    files = {_module_name(p, root): p for p in _modules(root / package)}
    edges: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in _imports(path, module):
            while name and name not in files:  # ``a.b.name``: the deepest module, ``a.b``
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        edges[module] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle (a list of modules ending where it began), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_installed_package_is_checked() -> None:
    """The packages pyproject.toml installs are among those checked (none is a namespace
    package the glob above would miss)."""
    found = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    installed = {name.rstrip("*") for name in found["packages"]["find"]["include"]}
    assert installed and installed <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package: str) -> None:
    cycle = find_cycle(graph(package))
    assert cycle is None, f"import circle in {package}: {' -> '.join(cycle or [])}"


def test_a_circle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    """The test above can fail: a package whose modules close a circle through a relative
    import and a function-level one is read as the real ones are, and the circle named."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from pkg.a import name\n")
    assert find_cycle(graph("pkg", tmp_path)) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (package / "sub" / "b.py").write_text("def f():\n    from pkg import sub\n")
    assert find_cycle(graph("pkg", tmp_path)) is None


def _all_imports(package: str) -> dict[str, set[str]]:
    # every file, a module outside the package tree too (the SnapStart agent's
    # sitecustomize runs in the runtime's process: it must not cross a wall either)
    return {_module_name(p): _imports(p, _module_name(p)) for p in (REPO / package).rglob("*.py")}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("runtime_core", ("local_lambda", "layer_build")), ("local_lambda", ("runtime_core",))],
)
def test_the_one_way_doors_hold(package: str, forbidden: tuple[str, ...]) -> None:
    crossing = sorted(
        f"{module} imports {name}"
        for module, names in _all_imports(package).items()
        for name in names
        if name.split(".")[0] in forbidden
    )
    assert not crossing, f"{package} must not import {forbidden}: {crossing}"


#: The local Lambda's only modules that may use its dev loop: the CLI that offers it.
DEVLOOP_USERS = {"local_lambda.cli"}


def test_the_local_lambda_core_never_imports_its_dev_loop() -> None:
    """``local_lambda.devloop`` (SAM CLI's loop) sits on top of the core, never under it."""
    crossing = sorted(
        f"{module} imports {name}"
        for module, names in _all_imports("local_lambda").items()
        if not module.startswith("local_lambda.devloop") and module not in DEVLOOP_USERS
        for name in names
        if name.startswith("local_lambda.devloop")
    )
    assert not crossing, f"the core must not import local_lambda.devloop: {crossing}"


def _public_classes(package: str) -> dict[str, str]:
    found = {}
    for path in _modules(REPO / package):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                found[node.name] = str(path.relative_to(REPO))
    return found


def test_no_class_has_the_same_name_on_both_sides_of_the_wall() -> None:
    """The runtime's ``Invocation`` is not the emulator's pending invocation: a reader of a
    traceback or a test should never have to ask which side a name is from."""
    runtime, emulator = _public_classes("runtime_core"), _public_classes("local_lambda")
    both = sorted(
        f"{name}: {runtime[name]} and {emulator[name]}" for name in runtime.keys() & emulator.keys()
    )
    assert both == []
