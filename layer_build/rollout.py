"""``lambdaboot rollout``: move every function of a fleet to a layer version, or none.

A plan is read first: for each function that uses the layer, its current layer list and
the list it will get (the layer's entry swapped in place, the others kept in their order),
or why it is refused (a runtime or architecture the new version does not declare). The
plan can be saved and applied later. Applying updates ``$LATEST`` with the plan's
``RevisionId`` (and checks the layer list it read), waits for ``LastUpdateStatus``, can
publish a version and move aliases to it, and can run a canary batch first. On the first
failure it stops and puts back, function by function, exactly what this run changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from layer_build.aws import AwsError, Target, describe, is_not_found
from layer_build.fleet import (
    FleetFunction,
    Selection,
    VersionSpec,
    check_found,
    check_layer,
    functions_using,
    layer_arns,
    layer_versions,
)

UPDATE_TIMEOUT_S = 300.0


@dataclass
class Change:
    """One function in the plan, and what happened to it when applied."""

    account: str
    region: str
    function: str
    arn: str
    action: str  # update | current | refused
    current_version: int
    target_version: int | None
    layers_before: list[str]
    layers_after: list[str]
    revision_id: str | None = None
    reason: str = ""
    # Filled in by apply:
    status: str = "planned"  # updated | failed | rolled back | rollback failed | not started ...
    detail: str = ""
    published_version: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict)  # name -> [before, after]
    canary: str | None = None  # "ok" or the failure

    def key(self) -> tuple[str, str]:
        return (self.account, self.region)


@dataclass
class Plan:
    layer: str
    to: str
    changes: list[Change]

    def as_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "to": self.to, "changes": [asdict(c) for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        try:
            return cls(data["layer"], data["to"], [Change(**c) for c in data["changes"]])
        except (KeyError, TypeError):
            raise AwsError("not a plan written by `lambdaboot rollout --plan-out`") from None


def make_plan(layer: str, to: VersionSpec, targets: list[Target], selection: Selection) -> Plan:
    """Read the fleet and decide, per function, update, current or refused."""
    check_layer(layer)
    found: list[FleetFunction] = []
    for target in targets:
        found.extend(functions_using(target, layer, selection))
    check_found(layer, targets, selection, found)
    versions_cache: dict[tuple[str, str, str], dict[int, dict[str, Any]]] = {}
    changes = []
    for fn in found:
        cache_key = (fn.target.account, fn.target.region, fn.ours.base)
        if cache_key not in versions_cache:
            versions_cache[cache_key] = layer_versions(fn.target, fn.ours, to)
        changes.append(_change(fn, to, versions_cache[cache_key]))
    return Plan(layer, to.text, changes)


def _change(fn: FleetFunction, to: VersionSpec, versions: dict[int, dict[str, Any]]) -> Change:
    target = to.resolve(fn.ours, versions)
    change = Change(
        account=fn.target.account,
        region=fn.target.region,
        function=fn.name,
        arn=fn.arn,
        action="update",
        current_version=fn.ours.version,
        target_version=target,
        layers_before=list(fn.layers),
        layers_after=list(fn.layers),
        revision_id=fn.revision_id,
    )
    if target is None:
        named = f"version {to.text}" if to.by_place is None else f"the version {to.text} names"
        change.action, change.reason = "refused", f"{fn.ours.name} has no {named} here"
        return change
    change.layers_after = [fn.ours.at(target).arn if a == fn.ours.arn else a for a in fn.layers]
    info = versions[target]
    runtimes = info.get("CompatibleRuntimes") or []
    arches = info.get("CompatibleArchitectures") or []
    if runtimes and fn.runtime not in runtimes:
        change.action = "refused"
        change.reason = (
            f"runtime {fn.runtime} is not among version {target}'s compatible runtimes "
            f"({', '.join(runtimes)})"
        )
    elif arches and not set(fn.architectures) <= set(arches):
        change.action = "refused"
        change.reason = (
            f"architecture {', '.join(fn.architectures)} is not among version {target}'s "
            f"compatible architectures ({', '.join(arches)})"
        )
    elif target == fn.ours.version:
        change.action = "current"
    return change


def plan_lines(plan: Plan) -> list[str]:
    """The plan as a person reads it: function, region, version change, the whole layer list."""
    lines = []
    for c in plan.changes:
        where = f"{c.account}/{c.region} {c.function}"
        if c.action == "refused":
            lines.append(f"{where}: refused: {c.reason}")
        elif c.action == "current":
            lines.append(f"{where}: already on version {c.current_version}")
        else:
            layers = ", ".join(
                f"[{_short(b)} -> {a.rsplit(':', 1)[1]}]" if a != b else _short(b)
                for b, a in zip(c.layers_before, c.layers_after, strict=True)
            )
            lines.append(
                f"{where}: version {c.current_version} -> {c.target_version}   layers: {layers}"
            )
    return lines


def _short(arn: str) -> str:
    parts = arn.split(":")
    return f"{parts[6]}:{parts[7]}" if len(parts) == 8 else arn


@dataclass
class ApplyOptions:
    concurrency: int = 1
    publish: bool = False
    aliases: list[str] = field(default_factory=list)
    canary: int = 0  # size of the first batch that is invoked before going on
    canary_event: bytes = b"{}"
    canary_qualifier: str | None = None
    invoke_endpoint_url: str | None = None
    update_timeout_s: float = UPDATE_TIMEOUT_S


def apply(
    plan: Plan,
    targets: dict[tuple[str, str], Target],
    options: ApplyOptions,
    say: Callable[[Change, str], None] = lambda change, text: None,
) -> bool:
    """Apply the plan's updates; on the first failure roll back. True if all were applied."""
    todo = [c for c in plan.changes if c.action == "update"]
    for c in plan.changes:
        c.status = {"update": "not started", "current": "unchanged", "refused": "refused"}[c.action]
        c.detail = c.reason
        if c.action == "update" and c.key() not in targets:
            raise AwsError(
                f"the plan changes {c.function} in account {c.account}, {c.region}: give the "
                "--region and --role-arn that reach it"
            )
    batches = []
    rest = todo
    if options.canary:
        batches.append((todo[: options.canary], True))
        rest = todo[options.canary :]
    size = max(1, options.concurrency)
    batches += [(rest[i : i + size], False) for i in range(0, len(rest), size)]
    ok = True
    try:
        for batch, is_canary in batches:
            with ThreadPoolExecutor(max_workers=len(batch) or 1) as pool:
                results = list(
                    pool.map(lambda c: _update(c, targets[c.key()], options, say), batch)
                )
            if not all(results):
                ok = False
                break
            if is_canary:
                ok = all([_canary(c, targets[c.key()], options, say) for c in batch])
                if not ok:
                    break
    except KeyboardInterrupt:  # Ctrl-C, or a cancelled CI job (SIGTERM): still put things back
        ok = False
        for c in todo:
            if c.status == "not started":
                c.detail = "interrupted before it started"
    if not ok:
        for c in reversed([c for c in todo if c.status == "updated"]):
            _roll_back(c, targets[c.key()], options, say)
    return ok


def _update(change: Change, target: Target, options: ApplyOptions, say: Any) -> bool:
    client = target.client("lambda")
    try:
        say(change, "checking it is as planned")
        config = client.get_function_configuration(FunctionName=change.function)
        layers = layer_arns(config)
        revision = config.get("RevisionId")
        if layers != change.layers_before or (
            change.revision_id and revision != change.revision_id
        ):
            change.status = "failed"
            change.detail = "changed since the plan (not overwritten): plan again"
            return False
        say(change, "updating")
        update: dict[str, Any] = {"FunctionName": change.function, "Layers": change.layers_after}
        if change.revision_id:
            update["RevisionId"] = change.revision_id
        client.update_function_configuration(**update)
        change.status = "updated"
        config = _wait(client, change.function, options.update_timeout_s, say, change)
        if options.publish:
            say(change, "publishing a version")
            published = client.publish_version(
                FunctionName=change.function,
                **({"RevisionId": config["RevisionId"]} if config.get("RevisionId") else {}),
            )
            change.published_version = str(published["Version"])
            for alias in options.aliases:
                _move_alias(client, change, alias)
        say(change, "updated")
        return True
    except Exception as exc:
        if change.status != "updated":
            change.status = "failed"
            change.detail = "deleted since the plan" if is_not_found(exc) else describe(exc)
        else:
            change.detail = describe(exc)
        say(change, f"failed: {change.detail}")
        return False


def _wait(client: Any, name: str, timeout: float, say: Any, change: Change) -> dict[str, Any]:
    """Until ``LastUpdateStatus`` leaves InProgress: Successful, or the update failed."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        config: dict[str, Any] = client.get_function_configuration(FunctionName=name)
        status = config.get("LastUpdateStatus", "Successful")
        if status == "Successful":
            return config
        if status == "Failed":
            raise AwsError(
                f"update failed: {config.get('LastUpdateStatusReasonCode', '')} "
                f"{config.get('LastUpdateStatusReason', '')}".strip()
            )
        if time.monotonic() > deadline:
            raise AwsError(f"update still {status} after {timeout:.0f} s")
        say(change, f"waiting ({status})")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _move_alias(client: Any, change: Change, alias: str) -> None:
    try:
        found = client.get_alias(FunctionName=change.function, Name=alias)
    except Exception as exc:
        if is_not_found(exc):
            return  # this function has no such alias: nothing to move
        raise
    move: dict[str, Any] = {
        "FunctionName": change.function,
        "Name": alias,
        "FunctionVersion": change.published_version,
    }
    if found.get("RevisionId"):
        move["RevisionId"] = found["RevisionId"]
    client.update_alias(**move)
    change.aliases[alias] = [str(found["FunctionVersion"]), str(change.published_version)]


def _canary(change: Change, target: Target, options: ApplyOptions, say: Any) -> bool:
    """Invoke the updated function once with the test event; a function error stops the run."""
    client = target.client("lambda", options.invoke_endpoint_url)
    qualifier = options.canary_qualifier or change.published_version
    if qualifier in options.aliases and qualifier not in change.aliases:
        # One of the --alias names, which this function does not have: through its new version.
        qualifier = change.published_version
    say(change, f"canary invocation{f' of {qualifier}' if qualifier else ''}")
    try:
        answer = client.invoke(
            FunctionName=change.function,
            Payload=options.canary_event,
            **({"Qualifier": qualifier} if qualifier else {}),
        )
        payload = answer["Payload"].read()
        if answer.get("FunctionError") or int(answer.get("StatusCode", 200)) >= 300:
            change.canary = f"{answer.get('FunctionError', 'error')}: {_error_text(payload)}"
    except Exception as exc:
        change.canary = describe(exc)
    if change.canary is None:
        change.canary = "ok"
        return True
    change.detail = f"canary failed: {change.canary}"
    say(change, change.detail)
    return False


def _error_text(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return f"{error.get('errorType', '')}: {error.get('errorMessage', '')}".strip(": ")
    except (ValueError, AttributeError):
        return payload[:200].decode(errors="replace")


def _roll_back(change: Change, target: Target, options: ApplyOptions, say: Any) -> None:
    """Put back the exact layer list and aliases this run changed."""
    client = target.client("lambda")
    try:
        say(change, "rolling back")
        for alias, (before, _after) in change.aliases.items():
            client.update_alias(FunctionName=change.function, Name=alias, FunctionVersion=before)
        config = client.get_function_configuration(FunctionName=change.function)
        layers = layer_arns(config)
        if layers != change.layers_after:
            raise AwsError("changed by someone else after this run's update: left as it is")
        update: dict[str, Any] = {"FunctionName": change.function, "Layers": change.layers_before}
        if config.get("RevisionId"):
            update["RevisionId"] = config["RevisionId"]
        client.update_function_configuration(**update)
        _wait(client, change.function, options.update_timeout_s, say, change)
        change.status = "rolled back"
        say(change, "rolled back")
    except Exception as exc:
        change.status = "rollback failed"
        change.detail = describe(exc)
        say(change, f"rollback failed: {change.detail}")


def result_line(c: Change) -> str:
    """What happened to one function, in one line."""
    parts = {
        "updated": f"updated to version {c.target_version}",
        "rolled back": "rolled back to its previous layers",
        "rollback failed": "ROLLBACK FAILED, check it by hand",
    }.get(c.status, c.status)
    notes = [c.detail] if c.detail else []
    if c.published_version:
        stays = " (it stays)" if c.status != "updated" else ""
        notes.append(f"published version {c.published_version}{stays}")
    for alias, (before, after) in c.aliases.items():
        moved = f"{before} -> {after}" if c.status == "updated" else f"back on {before}"
        notes.append(f"alias {alias} {moved}")
    return f"{c.account}/{c.region} {c.function}: {parts}" + "".join(f"; {n}" for n in notes)


def report_json(plan: Plan, applied: bool | None) -> dict[str, Any]:
    """``--report``: the plan and what happened to each function."""
    outcome = "planned" if applied is None else "applied" if applied else "rolled back"
    return {"outcome": outcome, **plan.as_json()}
