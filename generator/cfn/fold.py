"""Fold the conditions that binding made constant, as CloudFormation would evaluate them.

After `generator.cfn.bind` binds a parameter, a condition such as
`{"Fn::Equals": [{"Ref": "LoadBalancer"}, "new"]}` compares two literals: its value is known
when the template is built. `fold_conditions` evaluates every such condition (`Fn::Equals` of
two strings, and `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition` of known ones) and applies it:
a resource or output under a false condition is left out, one under a true condition loses its
`Condition`, and each `Fn::If` on a known condition becomes the branch it picks (a property or
list item whose branch is `AWS::NoValue` is left out). The folded conditions are removed.

A still unknown condition loses its known parts (a known part of an `Fn::And` is true, of an
`Fn::Or` false, or the whole would be known). What refers to a left-out resource fails loudly
(`FoldError`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from generator.cfn.bind import BindError

NO_VALUE = {"Ref": "AWS::NoValue"}
_DROP = object()  # a value that folding removed: its key or list item goes
_VARIABLE = re.compile(r"\$\{(?!!)([^}.]*)[^}]*\}")


class FoldError(BindError):
    """Something still refers to a resource that a false condition left out."""


def fold_conditions(template: dict) -> dict:
    """A copy of `template` with its constant conditions applied (see the module docstring)."""
    conditions = template.get("Conditions", {})
    known = _known(conditions)
    if not known:
        return template
    folded = copy.deepcopy(template)
    for name in known:
        del folded["Conditions"][name]
    remaining = folded.get("Conditions", {})
    for name, expression in remaining.items():
        remaining[name] = _simplify(expression, known)
    for name, expression in remaining.items():
        # A condition that became another one alone is written out: a condition's definition
        # is a function (Fn::Equals, And, Or, Not), not a bare Condition.
        seen = {name}
        while isinstance(expression, dict) and list(expression) == ["Condition"]:
            if expression["Condition"] in seen:
                break
            seen.add(expression["Condition"])
            expression = remaining[expression["Condition"]]
        remaining[name] = expression
    if not folded["Conditions"]:
        del folded["Conditions"]
    dropped = set()
    for section in ("Resources", "Outputs"):
        for logical_id, entry in list(folded.get(section, {}).items()):
            condition = entry.get("Condition")
            if condition in known:
                if known[condition]:
                    del entry["Condition"]
                else:
                    del folded[section][logical_id]
                    if section == "Resources":
                        dropped.add(logical_id)
    for section in [s for s in folded if s != "Conditions"]:
        folded[section] = _apply(folded[section], known)
    for resource in folded.get("Resources", {}).values():
        depends = resource.get("DependsOn")
        if depends is None:
            continue
        kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in dropped]
        if not kept:
            del resource["DependsOn"]
        elif isinstance(depends, list):
            resource["DependsOn"] = kept
    still = _referred(folded, dropped)
    if still:
        raise FoldError(
            f"resources left out by a false condition are still referred to: {sorted(still)}"
        )
    return folded


def _known(conditions: dict) -> dict[str, bool]:
    values: dict[str, bool | None] = {}

    def condition(name: str) -> bool | None:
        if name not in values:
            values[name] = None  # a cycle stays unknown
            values[name] = evaluate(conditions.get(name))
        return values[name]

    def evaluate(node: Any) -> bool | None:
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((key, argument),) = node.items()
        if key == "Condition" and isinstance(argument, str):
            return condition(argument)
        if not isinstance(argument, list):
            return None
        if key == "Fn::Equals" and len(argument) == 2:
            if all(isinstance(a, str) for a in argument):
                return argument[0] == argument[1]
            return None
        found = [evaluate(a) for a in argument]
        if key == "Fn::Not" and len(found) == 1:
            return None if found[0] is None else not found[0]
        if key == "Fn::And":
            return False if False in found else (True if None not in found else None)
        if key == "Fn::Or":
            return True if True in found else (False if None not in found else None)
        return None

    for name in conditions:
        condition(name)
    return {n: v for n, v in values.items() if v is not None}


def _simplify(node: Any, known: dict[str, bool]) -> Any:
    """An unknown condition without its known parts: in `Fn::And` a known one is true, in
    `Fn::Or` false (otherwise the whole would be known), so it goes; one part left is the
    whole."""
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((key, argument),) = node.items()
    if key in ("Fn::And", "Fn::Or") and isinstance(argument, list):
        parts = [
            _simplify(a, known)
            for a in argument
            if not (isinstance(a, dict) and a.get("Condition") in known)
        ]
        return parts[0] if len(parts) == 1 else {key: parts}
    if key == "Fn::Not" and isinstance(argument, list):
        return {key: [_simplify(a, known) for a in argument]}
    return node


def _apply(node: Any, known: dict[str, bool]) -> Any:
    if isinstance(node, list):
        items = [_apply(item, known) for item in node]
        return [item for item in items if item is not _DROP]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and isinstance(node.get("Fn::If"), list):
        condition, yes, no = node["Fn::If"]
        if condition in known:
            chosen = _apply(yes if known[condition] else no, known)
            return _DROP if chosen == NO_VALUE else chosen
        # An unknown condition's branches keep their place: a left-out one is AWS::NoValue.
        branches = [_apply(branch, known) for branch in (yes, no)]
        return {"Fn::If": [condition, *[NO_VALUE if b is _DROP else b for b in branches]]}
    items = {key: _apply(item, known) for key, item in node.items()}
    return {key: item for key, item in items.items() if item is not _DROP}


def _referred(node: Any, names: set[str]) -> set[str]:
    """Which of `names` anything in `node` refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    if not names:
        return set()
    if isinstance(node, list):
        return {n for item in node for n in _referred(item, names)}
    if not isinstance(node, dict):
        return set()
    found = set()
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref" and argument in names:
            found.add(argument)
        if key == "Fn::GetAtt":
            target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
            if target in names:
                found.add(target)
        if key == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) else argument
            if isinstance(text, str):
                found |= {m.group(1) for m in _VARIABLE.finditer(text)} & names
    return found | {n for item in node.values() for n in _referred(item, names)}
