"""The functions a SAM or CloudFormation template defines, as the local Lambda runs them.

``AWS::Serverless::Function`` (with the template's ``Globals.Function``) and
``AWS::Lambda::Function``: handler, runtime, code, layers the template defines with
local content, environment, timeout, memory, architecture and reserved concurrency.
What cannot be had on this machine (code or layers in S3, a published layer's ARN, an
attribute only a deployed stack has) is collected as one line per item in
``TemplateFunctions.problems`` and left out; a function that cannot run at all (an image
package, code only in S3) is listed in ``unservable`` with the reason.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .intrinsics import FUNCTION_TYPES, LAYER_TYPES, NO_VALUE, Stack, Unresolvable, resolve
from .template import Template, TemplateError, line_of, read_template

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
# Lambda's defaults for what a template leaves out.
DEFAULT_TIMEOUT_S = 3.0
DEFAULT_MEMORY_MB = 128
# Where inline code (InlineCode, Code.ZipFile) is written, one folder per content.
INLINE_DIR = Path(tempfile.gettempdir()) / "lambdaboot-inline"


@dataclass(frozen=True)
class FunctionSpec:
    """One function of a template, with every value resolved and every path absolute."""

    logical_id: str
    name: str  # what it is invoked by: FunctionName where it resolves, else the logical id
    handler: str
    runtime: str | None
    code: Path  # a folder or a zip
    layers: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    architecture: str = "x86_64"
    reserved_concurrency: int | None = None
    snap_start: bool = False  # SnapStart: {ApplyOn: PublishedVersions}

    @property
    def sources(self) -> tuple[Path, ...]:
        """What the function is made of on disk (its code and its layers' content)."""
        return (self.code, *self.layers)


@dataclass
class TemplateFunctions:
    """What a template gives the local Lambda to serve."""

    path: Path
    functions: dict[str, FunctionSpec] = field(default_factory=dict)  # by logical id
    unservable: dict[str, str] = field(default_factory=dict)  # logical id -> why
    problems: list[str] = field(default_factory=list)  # one line each

    def find(self, name: str) -> FunctionSpec | None:
        """The function invoked as ``name``: a logical id, else a resolved FunctionName."""
        if name in self.functions:
            return self.functions[name]
        return next((f for f in self.functions.values() if f.name == name), None)


def load_functions(
    path: Path, parameters: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> TemplateFunctions:
    """Read ``path`` and resolve its functions (TemplateError if it cannot be read or
    defines none)."""
    path = path.absolute()
    template = read_template(path)
    stack = Stack(template, parameters or {}, region=region)
    found = TemplateFunctions(path)
    declared = list(template.get("Parameters") or {})
    for name in parameters or {}:
        if name not in declared:  # sam local ignores it silently; a deployment refuses it
            known = ", ".join(declared) or "none"
            found.problems.append(
                f"--parameter-overrides: {name} is not a parameter of the template (its"
                f" parameters: {known}); ignored"
            )
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue
        reader = _FunctionReader(stack, path.parent, logical_id, found.problems)
        try:
            found.functions[logical_id] = reader.read(resource)
        except _Unservable as exc:
            found.unservable[logical_id] = str(exc)
    if not found.functions and not found.unservable:
        raise TemplateError(
            f"{path}: defines no AWS::Serverless::Function or AWS::Lambda::Function"
        )
    return found


class _Unservable(Exception):
    pass


class _FunctionReader:
    """Reads one function resource; notes what it must leave out in ``problems``."""

    def __init__(self, stack: Stack, base: Path, logical_id: str, problems: list[str]) -> None:
        self.stack, self.base, self.logical_id, self.problems = stack, base, logical_id, problems

    def note(self, what: str) -> None:
        self.problems.append(f"{self.logical_id}: {what}")

    def value(self, props: Mapping[str, Any], key: str, default: Any = None) -> Any:
        """A property resolved; one that cannot be is noted and taken as ``default``."""
        if key not in props:
            return default
        try:
            found = resolve(props[key], self.stack)
        except Unresolvable as exc:
            self.note(f"{key}: {exc}")
            return default
        return default if found is NO_VALUE else found

    def read(self, resource: Mapping[str, Any]) -> FunctionSpec:
        raw = resource.get("Properties") or {}
        serverless = resource["Type"] == SERVERLESS_FUNCTION
        if serverless:
            raw = merge_globals(_globals(self.stack.template), raw)
        if self.value(raw, "PackageType", "Zip") == "Image":
            raise _Unservable("PackageType Image: the local Lambda runs zip functions only")
        code = self.code(raw, serverless)
        handler = self.value(raw, "Handler")
        if not isinstance(handler, str) or not handler:
            line = line_of(resource)
            raise _Unservable(f"no Handler (line {line}): set Handler, e.g. app.handler")
        architecture = self.architecture(raw, serverless)
        reserved = self.value(raw, "ReservedConcurrentExecutions")
        snap_start = self.snap_start(raw)
        return FunctionSpec(
            logical_id=self.logical_id,
            name=self.stack.function_name(self.logical_id),
            handler=handler,
            runtime=self.value(raw, "Runtime"),
            code=code,
            layers=tuple(self.layers(raw)),
            environment=self.environment(raw),
            timeout=float(self.value(raw, "Timeout", DEFAULT_TIMEOUT_S)),
            memory_mb=int(self.value(raw, "MemorySize", DEFAULT_MEMORY_MB)),
            architecture=architecture,
            reserved_concurrency=None if reserved is None else int(reserved),
            snap_start=snap_start,
        )

    def snap_start(self, raw: Mapping[str, Any]) -> bool:
        """``SnapStart: {ApplyOn: PublishedVersions}`` (or ``None``), as both function types
        take it. Such a function is served as its published version 1 (its only version
        locally: see FunctionConfig.function_version)."""
        snap = self.value(raw, "SnapStart")
        if snap is None:
            return False
        apply_on = snap.get("ApplyOn") if isinstance(snap, dict) else None
        if apply_on not in ("PublishedVersions", "None"):
            raise _Unservable(
                f"SnapStart is {snap!r}: give {{ApplyOn: PublishedVersions}} (or None)"
            )
        return apply_on == "PublishedVersions"

    def architecture(self, raw: Mapping[str, Any], serverless: bool) -> str:
        """The one architecture Lambda allows. SAM appends a function's ``Architectures``
        to Globals' as it does every list, and SAM CLI then refuses a list that is not one
        entry long: so does this, saying which two places gave it."""
        architectures = self.value(raw, "Architectures", [])
        if not isinstance(architectures, list):
            raise _Unservable(f"Architectures is {architectures!r}: a list, e.g. [arm64]")
        if len(architectures) > 1:
            both = serverless and "Architectures" in _globals(self.stack.template)
            where = (
                " (SAM appends the function's list to Globals' Architectures): set it in"
                " Globals or in the function, not both"
                if both
                else ": Lambda takes exactly one, x86_64 or arm64"
            )
            shown = ", ".join(map(str, architectures))
            raise _Unservable(f"Architectures is [{shown}]{where}")
        return str(architectures[0]) if architectures else "x86_64"

    def code(self, raw: Mapping[str, Any], serverless: bool) -> Path:
        inline = self.value(raw, "InlineCode") if serverless else None
        code = self.value(raw, "CodeUri", ".") if serverless else self.value(raw, "Code")
        if not serverless and isinstance(code, dict) and "ZipFile" in code:
            inline = code["ZipFile"]
        if isinstance(inline, str):
            return write_inline(inline)
        if not isinstance(code, str) or code.startswith("s3://"):
            shown = code if isinstance(code, str) else "an S3 object"
            key = "CodeUri" if serverless else "Code"
            raise _Unservable(
                f"{key} is {shown}: give a local path to the code (or sam build's template)"
            )
        path = (self.base / code).resolve()
        if not path.exists():
            raise _Unservable(f"code {code} not found (looked for {path})")
        return path

    def layers(self, raw: Mapping[str, Any]) -> list[Path]:
        paths = []
        for item in raw.get("Layers") or []:
            try:
                layer = resolve(item, self.stack)
            except Unresolvable as exc:
                self.note(f"layer left out: {exc}")
                continue
            local = self.local_layer(layer)
            if local is not None:
                paths.append(local)
        return paths

    def local_layer(self, arn: Any) -> Path | None:
        """The content of the layer ``arn`` stands for, if the template defines it locally."""
        resources = self.stack.resources
        for logical_id, resource in resources.items():
            if resource["Type"] in LAYER_TYPES and self.stack.layer_arn(logical_id) == arn:
                props = resource.get("Properties") or {}
                key = "ContentUri" if resource["Type"] == LAYER_TYPES[0] else "Content"
                content = self.value(props, key)
                if not isinstance(content, str) or content.startswith("s3://"):
                    self.note(f"layer {logical_id} left out: its {key} is not a local path")
                    return None
                path = (self.base / content).resolve()
                if not path.exists():
                    self.note(
                        f"layer {logical_id} left out: {content} not found (looked for {path})"
                    )
                    return None
                return path
        self.note(
            f"layer {arn} left out: a published layer; the local Lambda runs layers the template"
            " defines with local content (or give them with --layer)"
        )
        return None

    def environment(self, raw: Mapping[str, Any]) -> dict[str, str]:
        variables = (raw.get("Environment") or {}).get("Variables") or {}
        env = {}
        for name, value in variables.items():
            try:
                resolved = resolve(value, self.stack)
            except Unresolvable as exc:
                self.note(f"environment variable {name} left out: {exc}; set it with --env-file")
                continue
            if resolved is NO_VALUE:
                continue
            if isinstance(resolved, bool):
                resolved = str(resolved).lower()
            env[name] = str(resolved)
        return env


def _globals(template: Template) -> Mapping[str, Any]:
    return (template.get("Globals") or {}).get("Function") or {}


def merge_globals(globals_: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rule for Globals: a resource's scalar wins, maps merge (the resource's keys
    win), lists are the global entries followed by the resource's."""
    merged = dict(globals_)
    for key, value in props.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not _intrinsic(value):
            merged[key] = merge_globals(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            merged[key] = old + value
        else:
            merged[key] = value
    return merged


def _intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def write_inline(source: str) -> Path:
    """Inline code as Lambda stores it for Python: ``index.py`` in the task root."""
    folder = INLINE_DIR / hashlib.sha256(source.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.py").write_text(source)
    return folder
