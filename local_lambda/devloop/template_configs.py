"""From a template's functions to how the local Lambda runs each (``FunctionConfig``).

How a template's ``Runtime`` is run here:

- ``provided.al2023`` / ``provided.al2``: as Lambda does, the function's ``bootstrap``,
  else a layer's ``/opt/bootstrap``.
- ``python3.X`` with ``AWS_LAMBDA_EXEC_WRAPPER`` set (lambdaboot's managed mode, or
  another wrapper layer): the managed runtime's start, behind that wrapper.
- ``python3.X`` otherwise: lambdaboot's runtime serves the handler unchanged (what the
  layer would do on Lambda), on the interpreter that runs this command.
- anything else: not served, and said why.

Environment variables, later ones winning: ``AWS_SAM_LOCAL=true`` (when asked for), the
template's, the ``--env-file``'s, ``--env``'s.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..model import FunctionConfig
from .envfile import EnvFile
from .function_set import ServedFunction
from .template_functions import FunctionSpec, TemplateFunctions

SAM_LOCAL = {"AWS_SAM_LOCAL": "true"}
_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Options:
    """What the command line says for every function."""

    default_command: list[str]  # lambdaboot's bootstrap, for python3.X handlers
    default_env: Mapping[str, str] = field(default_factory=dict)  # what that command needs
    runtime_cmd: list[str] | None = None  # --runtime-cmd: for every function
    env: Mapping[str, str] = field(default_factory=dict)  # --env
    env_file: EnvFile | None = None
    sam_local: bool = True
    max_environments: int = 10
    log_format: str = "Text"
    region: str = "us-east-1"
    # The Lambda-like default for python3.X functions: lambdaboot's managed layer for that
    # version (built once, cached), behind its exec wrapper, /var/task read-only. None
    # (--in-place): lambdaboot's bootstrap where the code is, on this interpreter.
    managed_layer: Callable[[str], Path] | None = None
    managed_wrapper: str = "/opt/lambdaboot-wrapper"


@dataclass
class Plan:
    """What to serve, what cannot be, and what was left out (one line each)."""

    functions: list[ServedFunction] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)  # name -> why it is not served
    notes: list[str] = field(default_factory=list)
    sources: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # logical id -> files

    def watched(self, *more: Path) -> list[Path]:
        """Every path a reload depends on: the functions' code and layers, and ``more``."""
        return [*more, *(p for paths in self.sources.values() for p in paths)]


def plan_template(found: TemplateFunctions, options: Options) -> Plan:
    plan = Plan(refusals=dict(found.unservable), notes=list(found.problems))
    if options.env_file is not None:
        known = [n for spec in found.functions.values() for n in (spec.logical_id, spec.name)]
        for key in options.env_file.unknown([*known, *found.unservable]):
            plan.notes.append(f"--env-file: {key!r} names no function of the template")
    for spec in found.functions.values():
        try:
            config = function_config(spec, options, plan.notes)
        except ValueError as exc:
            plan.refusals[spec.logical_id] = str(exc)
            continue
        plan.notes = [n for n in plan.notes if not _given_after_all(n, spec.logical_id, config)]
        names = tuple(dict.fromkeys((spec.logical_id, spec.name)))
        limit = options.max_environments
        if spec.reserved_concurrency is not None:
            limit = max(1, min(limit, spec.reserved_concurrency))
        plan.functions.append(ServedFunction(config, names, limit))
        plan.sources[spec.logical_id] = spec.sources
    plan.notes = grouped(plan.notes)
    return plan


def _given_after_all(note: str, logical_id: str, config: FunctionConfig) -> bool:
    """Whether ``note`` says the template left out a variable that the env file or
    ``--env`` gives this function anyway (the note's advice, already taken)."""
    prefix = f"{logical_id}: environment variable "
    return note.startswith(prefix) and note[len(prefix) :].split(" ", 1)[0] in config.env


def grouped(notes: list[str]) -> list[str]:
    """``A: text`` and ``B: text`` said once, as ``A, B: text``."""
    who: dict[str, list[str]] = {}
    for note in notes:
        name, sep, text = note.partition(": ")
        key = text if sep and " " not in name else note
        who.setdefault(key, []).append(name if key == text else "")
    return [f"{', '.join(names)}: {text}" if all(names) else text for text, names in who.items()]


def function_config(spec: FunctionSpec, options: Options, notes: list[str]) -> FunctionConfig:
    """How ``spec`` runs here; a ValueError says why it cannot."""
    runtime = spec.runtime or "python3.12"
    env: dict[str, str] = dict(SAM_LOCAL) if options.sam_local else {}
    env.update(spec.environment)
    if options.env_file is not None:
        env.update(options.env_file.for_function(spec.logical_id, spec.name))
    env.update(options.env)
    emulated: str | None = None
    command = options.runtime_cmd or []
    layers = list(spec.layers)
    if runtime.startswith("provided"):
        emulated = runtime
    elif runtime.startswith("python3."):
        if "AWS_LAMBDA_EXEC_WRAPPER" in env:
            emulated = runtime
        elif not command and options.managed_layer is not None:
            emulated = runtime
            layers.insert(0, options.managed_layer(runtime.removeprefix("python")))
            env = {"AWS_LAMBDA_EXEC_WRAPPER": options.managed_wrapper, **env}
        elif not command:
            command = list(options.default_command)
            env = {**options.default_env, **env}
            if env.get("LAMBDABOOT_PYTHON") == sys.executable:
                _note_python(spec, runtime, notes)
    else:
        raise ValueError(
            f"Runtime {runtime}: the local Lambda runs python3.x and provided.* functions"
        )
    if spec.snap_start and not _snap_start_runtime(runtime):
        raise ValueError(
            f"SnapStart with Runtime {runtime}: Lambda offers SnapStart for Python from"
            " python3.12 on (not for OS-only runtimes): use python3.12 or later"
        )
    machine = _MACHINE.get(platform.machine().lower(), platform.machine())
    if spec.architecture != machine:
        notes.append(
            f"{spec.logical_id}: Architectures {spec.architecture}: "
            f"runs on this machine's {machine}"
        )
    return FunctionConfig(
        command=command,
        task_root=spec.code,
        handler=spec.handler,
        timeout=spec.timeout,
        memory_mb=spec.memory_mb,
        env=env,
        function_name=spec.name,
        region=options.region,
        log_format=options.log_format,
        layers=layers,
        runtime=emulated,
        snap_start=spec.snap_start,
    )


def _snap_start_runtime(runtime: str) -> bool:
    """Whether Lambda offers SnapStart for ``runtime`` (of those run here: python3.12+)."""
    minor = runtime.removeprefix("python3.")
    return runtime.startswith("python3.") and minor.isdigit() and int(minor) >= 12


def _note_python(spec: FunctionSpec, runtime: str, notes: list[str]) -> None:
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        notes.append(
            f"{spec.logical_id}: Runtime {runtime}: served on this interpreter ({here});"
            " set LAMBDABOOT_PYTHON to a matching one"
        )
