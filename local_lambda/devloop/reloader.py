"""The development loop: serve a template's functions, and reload them when files change.

``serve_plan`` keeps a :class:`~local_lambda.devloop.function_set.FunctionSet` serving what
``load`` returns; with ``watch``, each batch of changes reloads the template and renews
the functions it touched (their code or layers changed, or the template changed how
they run), with one line saying so. A template that no longer reads keeps the old
functions serving and says why in one line. ``changes`` is the loop both ``serve
--watch`` and ``invoke --watch`` are built on.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .envfile import EnvFileError
from .function_set import FunctionSet
from .template import TemplateError
from .template_configs import Plan
from .watch import Watcher

Say = Callable[[str], None]
# Errors a reload reports and survives (the files are mid-edit).
RELOAD_ERRORS = (TemplateError, EnvFileError, ValueError, OSError)


def changes(
    paths: Callable[[], list[Path]], stop: threading.Event, watching: Callable[[int], None]
) -> Iterator[set[Path]]:
    """Each batch of changed files under ``paths()`` until ``stop`` is set; ``paths`` is
    asked again after each batch, since a reload may add or drop folders. ``watching`` is
    told how many paths are watched once the watch is in place."""
    batches: queue.Queue[set[Path]] = queue.Queue()
    watched = sorted(set(paths()))
    watcher = Watcher(watched, batches.put).start()
    watching(len(watched))
    try:
        while not stop.is_set():
            try:
                batch = batches.get(timeout=0.2)
            except queue.Empty:
                continue
            while not batches.empty():  # one reload for changes that came together
                batch |= batches.get_nowait()
            yield batch
            now = sorted(set(paths()))
            if now != watched:
                watcher.stop()
                watched = now
                watcher = Watcher(watched, batches.put).start()
    finally:
        watcher.stop()


def shown(paths: set[Path]) -> str:
    """Changed files as a reader wants them: relative to here, the first few."""
    names = sorted(os.path.relpath(p) if p.is_absolute() else str(p) for p in paths)
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def watching(say: Say) -> Callable[[int], None]:
    """The line saying the watch is in place (changes from then on are seen)."""
    return lambda count: say(f"Watching {count} paths for changes (Ctrl-C to stop)")


def describe(plan: Plan, endpoint: str) -> list[str]:
    """What ``serve`` prints once it is up: the endpoint, then each function."""
    lines = [f"Invoke API: {endpoint} (boto3: endpoint_url={endpoint!r})"]
    for function in plan.functions:
        config = function.config
        names = " or ".join(function.names)
        lines.append(
            f"  {names}: {config.handler}, {config.memory_mb} MB, {config.timeout:g} s,"
            f" up to {function.limit} environment{'s' if function.limit > 1 else ''}"
        )
    lines.extend(f"  {name}: not served: {why}" for name, why in plan.refusals.items())
    return lines


def renewed(old: Plan, new: Plan, changed: set[Path]) -> set[str]:
    """The logical ids whose environments must be replaced: their files changed, or the
    template now runs them differently (new, changed or gone)."""
    before = {f.names[0]: f for f in old.functions}
    after = {f.names[0]: f for f in new.functions}
    touched = {
        name
        for name, sources in new.sources.items()
        if any(p == s or p.is_relative_to(s) for p in changed for s in sources)
    }
    differ = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    return touched | differ


def serve_plan(
    load: Callable[[], Plan],
    functions: FunctionSet,
    watch: list[Path] | None,
    stop: threading.Event,
    say: Say,
    warn: Say,
) -> None:
    """Serve ``load()`` until ``stop``; with ``watch`` (extra files such as the template),
    reload on change."""
    plan = load()
    for note in plan.notes:
        warn(note)
    functions.replace(plan.functions, plan.refusals)
    for line in describe(plan, functions.endpoint):
        say(line)
    if watch is None:
        stop.wait()
        return
    latest = [plan]  # read by the watch loop after each reload: the folders may change
    for batch in changes(lambda: latest[0].watched(*watch), stop, watching(say)):
        current = latest[0]
        try:
            new = load()
        except RELOAD_ERRORS as exc:
            warn(f"reload failed, still serving the previous version: {exc}")
            continue
        renew = renewed(current, new, batch)
        for note in new.notes:
            if note not in current.notes:
                warn(note)
        functions.replace(new.functions, new.refusals, renew)
        latest[0] = new
        which = ", ".join(sorted(renew)) or "nothing to renew"
        say(f"Reloaded {which}: {shown(batch)} changed")
