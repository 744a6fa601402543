"""CloudFormation's intrinsic functions, evaluated the way a deployment would, locally.

A template's properties are data with functions in them (``Ref``, ``Fn::Sub``,
``Fn::If`` ...). What CloudFormation would know at deploy time and this machine knows
too is resolved: parameters (their defaults or ``--parameter-overrides``), pseudo
parameters (Region, account, stack name), conditions, mappings, and the names and ARNs
of the functions and layers the template itself defines. What only a deployed stack
knows (another resource's generated attributes, ``Fn::ImportValue``) raises
:class:`Unresolvable`, naming the function, so the caller can say it in one line.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .template import Template

# AWS::NoValue: a property set to it is removed, as CloudFormation does.
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


class Unresolvable(Exception):
    """A value only a deployed stack has, e.g. ``Fn::GetAtt Table.StreamArn``."""


@dataclass
class Stack:
    """What the template's functions are evaluated against: a local stand-in for a stack."""

    template: Template
    parameters: Mapping[str, str] = field(default_factory=dict)  # --parameter-overrides
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "local"
    _conditions: dict[str, bool] = field(default_factory=dict, init=False)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def function_name(self, logical_id: str) -> str:
        """The name a function is invoked by: its FunctionName where it resolves, else its
        logical id (as ``sam local`` does; CloudFormation would generate one)."""
        props = self.resources[logical_id].get("Properties") or {}
        if "FunctionName" in props:
            try:
                name = resolve(props["FunctionName"], self)
            except Unresolvable:
                return logical_id
            if isinstance(name, str) and name:
                return name
        return logical_id

    def parameter(self, name: str) -> Any:
        declared = (self.template.get("Parameters") or {}).get(name)
        if declared is None:
            raise Unresolvable(f"Ref {name}: no such parameter or resource in the template")
        if name in self.parameters:
            value: Any = self.parameters[name]
        elif "Default" in declared:
            value = declared["Default"]
        else:
            raise Unresolvable(
                f"parameter {name} has no Default: give it with --parameter-overrides {name}=VALUE"
            )
        allowed = declared.get("AllowedValues")
        if isinstance(allowed, list) and str(value) not in map(str, allowed):
            shown = ", ".join(map(str, allowed))
            raise Unresolvable(
                f"parameter {name} is {value!r}, not one of its AllowedValues {shown}"
            )
        kind = str(declared.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [part.strip() for part in value.split(",")] if isinstance(value, str) else value
        return str(value) if isinstance(value, int | float) else value

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        resource = self.resources.get(name)
        if resource is None:
            return self.parameter(name)
        kind = resource["Type"]
        if kind in FUNCTION_TYPES:
            return self.function_name(name)
        if kind in LAYER_TYPES:
            return self.layer_arn(name)
        raise Unresolvable(f"Ref {name}: the physical id of a {kind} exists only once deployed")

    def layer_arn(self, logical_id: str) -> str:
        """The ARN a layer the template defines stands for (version 1 of it, locally)."""
        return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{logical_id}:1"

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.resources.get(name)
        if resource is None:
            raise Unresolvable(f"Fn::GetAtt {name}.{attribute}: no resource {name} in the template")
        if resource["Type"] in FUNCTION_TYPES and attribute == "Arn":
            function = self.function_name(name)
            return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function}"
        raise Unresolvable(
            f"Fn::GetAtt {name}.{attribute}: "
            f"a {resource['Type']}'s attribute exists only once deployed"
        )

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            declared = (self.template.get("Conditions") or {}).get(name)
            if declared is None:
                raise Unresolvable(f"condition {name} is not in the template's Conditions")
            self._conditions[name] = bool(resolve(declared, self))
        return self._conditions[name]


def resolve(value: Any, stack: Stack) -> Any:
    """``value`` with every intrinsic function evaluated; NO_VALUE entries removed."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return stack.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return stack.condition(argument)
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(argument, stack)
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not evaluated locally")
        resolved = {k: resolve(v, stack) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(value, list):
        items = [resolve(item, stack) for item in value]
        return [item for item in items if item is not NO_VALUE]
    return value


def _args(name: str, argument: Any, count: int) -> list[Any]:
    if not isinstance(argument, list) or len(argument) != count:
        raise Unresolvable(f"{name} takes a list of {count} items, not {json.dumps(argument)}")
    return argument


def _sub(argument: Any, stack: Stack) -> str:
    if isinstance(argument, list):
        text, variables = _args("Fn::Sub", argument, 2)
        variables = resolve(variables, stack)
    else:
        text, variables = argument, {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} is written out as ${Literal}
        if name in variables:
            found = variables[name]
        elif "." in name:
            found = stack.get_att(*name.split(".", 1))
        else:
            found = stack.ref(name)
        if not isinstance(found, str):
            raise Unresolvable(f"Fn::Sub ${{{name}}} is not a string")
        return found

    return re.sub(r"\$\{([^}]+)\}", substitute, str(text))


def _get_att(argument: Any, stack: Stack) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    name, attribute = _args("Fn::GetAtt", resolve(argument, stack), 2)
    return stack.get_att(name, attribute)


def _join(argument: Any, stack: Stack) -> str:
    delimiter, items = _args("Fn::Join", argument, 2)
    items = resolve(items, stack)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise Unresolvable("Fn::Join: the items must resolve to strings")
    return str(delimiter).join(items)


def _select(argument: Any, stack: Stack) -> Any:
    index, items = _args("Fn::Select", resolve(argument, stack), 2)
    try:
        return items[int(index)]
    except (IndexError, ValueError, TypeError) as exc:
        raise Unresolvable(f"Fn::Select {index}: no such item") from exc


def _split(argument: Any, stack: Stack) -> list[str]:
    delimiter, text = _args("Fn::Split", resolve(argument, stack), 2)
    return str(text).split(str(delimiter))


def _if(argument: Any, stack: Stack) -> Any:
    name, yes, no = _args("Fn::If", argument, 3)
    return resolve(yes if stack.condition(name) else no, stack)


def _equals(argument: Any, stack: Stack) -> bool:
    left, right = _args("Fn::Equals", resolve(argument, stack), 2)
    return bool(str(left) == str(right))


def _not(argument: Any, stack: Stack) -> bool:
    (condition,) = _args("Fn::Not", argument, 1)
    return not resolve(condition, stack)


def _and(argument: Any, stack: Stack) -> bool:
    return all(resolve(item, stack) for item in argument)


def _or(argument: Any, stack: Stack) -> bool:
    return any(resolve(item, stack) for item in argument)


def _find_in_map(argument: Any, stack: Stack) -> Any:
    name, top, second = _args("Fn::FindInMap", resolve(argument, stack), 3)
    try:
        return stack.template["Mappings"][name][top][second]
    except (KeyError, TypeError) as exc:
        raise Unresolvable(f"Fn::FindInMap [{name}, {top}, {second}]: no such entry") from exc


def _base64(argument: Any, stack: Stack) -> str:
    return base64.b64encode(str(resolve(argument, stack)).encode()).decode()


def _get_azs(argument: Any, stack: Stack) -> list[str]:
    region = resolve(argument, stack) or stack.region
    return [f"{region}{zone}" for zone in "abc"]


def _import_value(argument: Any, stack: Stack) -> Any:
    raise Unresolvable(
        f"Fn::ImportValue {json.dumps(resolve(argument, stack))}: another stack's export"
    )


_FUNCTIONS = {
    "Fn::Sub": _sub,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
    "Fn::ImportValue": _import_value,
}
