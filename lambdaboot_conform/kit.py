"""Running the checks against one runtime and collecting the verdicts."""

from __future__ import annotations

import functools
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import functions
from .checks import CHECKS, CheckSpec, Failed, Session, Skipped, Subject

SPEC = "docs/runtime-api.md"


@dataclass(frozen=True)
class Verdict:
    check: str
    section: str
    status: str  # pass | fail | skip
    reason: str


def select(names: list[str] | None) -> list[CheckSpec]:
    """The checks named (all when None); an unknown name is a ValueError naming the known ones."""
    if not names:
        return list(CHECKS)
    known = {c.name: c for c in CHECKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def run_check(spec: CheckSpec, subject: Subject) -> Verdict:
    session: Callable[..., Session] = functools.partial(Session, subject)
    try:
        reason = spec.run(session)
    except Failed as exc:
        return Verdict(spec.name, spec.section, "fail", str(exc))
    except Skipped as exc:
        return Verdict(spec.name, spec.section, "skip", str(exc))
    except Exception as exc:  # the kit itself broke: say so rather than blame the runtime
        detail = traceback.format_exception_only(exc)[-1].strip()
        return Verdict(spec.name, spec.section, "fail", f"the check could not complete: {detail}")
    return Verdict(spec.name, spec.section, "pass", reason)


def run(
    command: list[str],
    env: dict[str, str] | None = None,
    names: list[str] | None = None,
    options: dict[str, Any] | None = None,
    on_verdict: Callable[[Verdict], None] = lambda _v: None,
) -> list[Verdict]:
    """Every selected check against the runtime ``command`` (``{handler}`` is substituted).

    ``options`` are further FunctionConfig fields (``layers``, ``runtime``...)."""
    chosen = select(names)
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="lambdaboot-conform-") as tmp:
        subject = Subject(command, dict(env or {}), functions.write(Path(tmp)), dict(options or {}))
        for spec in chosen:
            verdict = run_check(spec, subject)
            on_verdict(verdict)
            verdicts.append(verdict)
    return verdicts


def document(command: list[str], verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        "runtime_cmd": command,
        "spec": SPEC,
        "passed": sum(v.status == "pass" for v in verdicts),
        "failed": sum(v.status == "fail" for v in verdicts),
        "skipped": sum(v.status == "skip" for v in verdicts),
        "checks": [asdict(v) for v in verdicts],
    }
