"""Bind a template parameter to a value, as CloudFormation does when it is given one.

`bind(template, "Tier", "pii")` returns a template that no longer declares `Tier`: every
`{"Ref": "Tier"}` is the value, every `${Tier}` in an `Fn::Sub` string is the value (`${!Tier}`
stays literal, as does a `${Tier}` that the `Fn::Sub`'s own variable map defines), and the
console's groups and labels (`AWS::CloudFormation::Interface`) no longer list it. The value is
checked against the parameter's own constraints first, as CloudFormation checks it.

What cannot be bound by substitution fails loudly (`BindError`): a rule that tests the
parameter (rules validate the values a user gives; a bound parameter is given by no one), and
the functions that read a parameter by name (`Fn::ValueOf`, `Fn::ValueOfAll`). After binding,
nothing in the template may still refer to the parameter.
"""

from __future__ import annotations

import copy
import re
from typing import Any

INTERFACE = "AWS::CloudFormation::Interface"
# Parameter types whose value is the text given: an SSM or list type would resolve or split it.
_SCALAR_TYPES = ("String", "Number")
# Functions whose first argument is a parameter's name (template rules only).
_BY_NAME = ("Fn::ValueOf", "Fn::ValueOfAll")
# A `${...}` variable of an Fn::Sub string; `${!...}` is a literal, not a variable.
_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")


class BindError(ValueError):
    """The parameter cannot be bound: the value breaks its constraints, or something refers to
    it in a way substitution cannot resolve."""


def bind(template: dict, name: str, value: str) -> dict:
    """A copy of `template` with parameter `name` bound to `value` (see the module docstring)."""
    parameters = template.get("Parameters", {})
    if name not in parameters:
        raise BindError(f"the template declares no parameter {name!r}")
    _check_value(name, parameters[name], value)
    if _refers(template.get("Rules", {}), name):
        raise BindError(
            f"a rule tests parameter {name!r}; a bound parameter is given by no one, so "
            "evaluate or remove the rule before binding"
        )
    bound = copy.deepcopy(template)
    del bound["Parameters"][name]
    if not bound["Parameters"]:
        del bound["Parameters"]
    _drop_from_interface(bound, name)
    bound = _substitute(bound, name, value)
    if _refers(bound, name):
        raise BindError(f"parameter {name!r} is still referred to after binding")
    return bound


def _check_value(name: str, declared: dict, value: str) -> None:
    kind = declared.get("Type", "String")
    if kind not in _SCALAR_TYPES:
        raise BindError(f"parameter {name!r} is of type {kind}; only String and Number bind")
    problems = []
    allowed = declared.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        problems.append(f"not one of {allowed}")
    pattern = declared.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        problems.append(f"does not match {pattern!r}")
    if kind == "String":
        if "MinLength" in declared and len(value) < int(declared["MinLength"]):
            problems.append(f"shorter than {declared['MinLength']}")
        if "MaxLength" in declared and len(value) > int(declared["MaxLength"]):
            problems.append(f"longer than {declared['MaxLength']}")
    else:
        try:
            number = float(value)
        except ValueError:
            problems.append("not a number")
        else:
            if "MinValue" in declared and number < float(declared["MinValue"]):
                problems.append(f"under {declared['MinValue']}")
            if "MaxValue" in declared and number > float(declared["MaxValue"]):
                problems.append(f"over {declared['MaxValue']}")
    if problems:
        raise BindError(f"{value!r} cannot be bound to parameter {name!r}: {'; '.join(problems)}")


def _drop_from_interface(template: dict, name: str) -> None:
    interface = template.get("Metadata", {}).get(INTERFACE)
    if interface is None:
        return
    groups = []
    for group in interface.get("ParameterGroups", []):
        kept = [p for p in group.get("Parameters", []) if p != name]
        if kept:
            groups.append({**group, "Parameters": kept})
    if "ParameterGroups" in interface:
        if groups:
            interface["ParameterGroups"] = groups
        else:
            del interface["ParameterGroups"]
    interface.get("ParameterLabels", {}).pop(name, None)
    if "ParameterLabels" in interface and not interface["ParameterLabels"]:
        del interface["ParameterLabels"]
    if not interface:
        del template["Metadata"][INTERFACE]
        if not template["Metadata"]:
            del template["Metadata"]


def _substitute(node: Any, name: str, value: str) -> Any:
    if isinstance(node, list):
        return [_substitute(item, name, value) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref" and argument == name:
            return value
        if key == "Fn::Sub":
            return _sub(argument, name, value)
    return {key: _substitute(item, name, value) for key, item in node.items()}


def _sub(argument: Any, name: str, value: str) -> Any:
    """`Fn::Sub` with `${name}` replaced; a plain string once it has no variables left."""
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        text, variables = argument
        variables = {k: _substitute(v, name, value) for k, v in variables.items()}
        if name not in variables and isinstance(text, str):
            text = _replace(text, name, value)
        return {"Fn::Sub": [text, variables]}
    if not isinstance(argument, str):
        return {"Fn::Sub": _substitute(argument, name, value)}
    text = _replace(argument, name, value)
    if _VARIABLE.search(text) is None:
        return text.replace("${!", "${")  # the literal that Fn::Sub would have made
    return {"Fn::Sub": text}


def _replace(text: str, name: str, value: str) -> str:
    # The value enters a Sub string, where `${` would start a variable: keep it literal.
    literal = value.replace("${", "${!")
    return _VARIABLE.sub(lambda m: literal if m.group(1) == name else m.group(0), text)


def _refers(node: Any, name: str) -> bool:
    """Whether anything in `node` reads parameter `name` (Ref, Fn::Sub, Fn::ValueOf...)."""
    if isinstance(node, list):
        return any(_refers(item, name) for item in node)
    if not isinstance(node, dict):
        return False
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref" and argument == name:
            return True
        if key in _BY_NAME and isinstance(argument, list) and argument[:1] == [name]:
            return True
        if key == "Fn::Sub":
            if isinstance(argument, str):
                return _in_sub(argument, name)
            if isinstance(argument, list) and len(argument) == 2:
                text, variables = argument
                shadowed = isinstance(variables, dict) and name in variables
                own = isinstance(text, str) and not shadowed and _in_sub(text, name)
                return own or _refers(variables, name) or _refers(text, name)
    return any(_refers(item, name) for item in node.values())


def _in_sub(text: str, name: str) -> bool:
    return any(m.group(1) == name for m in _VARIABLE.finditer(text))
