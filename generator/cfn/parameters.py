"""Console parameters, each declared once: its CloudFormation settings, console group and label.

A product lists its parameters in console order, grouped; `add_to` emits the template's
`Parameters` and the `AWS::CloudFormation::Interface` metadata (groups and labels in that same
order), so a parameter's name, label and group cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from troposphere import Parameter, Template

Value = str | int  # a Default, AllowedValues entry, MinValue or MaxValue, written as given


@dataclass(frozen=True)
class Param:
    """One console parameter; fields left as None are not written to the template."""

    name: str
    label: str
    description: str
    type: str = "String"
    default: Value | None = None
    allowed_values: Sequence[Value] | None = None
    allowed_pattern: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    constraint: str | None = None  # ConstraintDescription: what a valid value looks like

    def parameter(self) -> Parameter:
        settings: dict[str, Any] = {
            "Type": self.type,
            "Description": self.description,
            "Default": self.default,
            "AllowedValues": list(self.allowed_values) if self.allowed_values else None,
            "AllowedPattern": self.allowed_pattern,
            "MinValue": self.min_value,
            "MaxValue": self.max_value,
            "ConstraintDescription": self.constraint,
        }
        return Parameter(self.name, **{k: v for k, v in settings.items() if v is not None})


class Group:
    """A labelled group of parameters in the console, in the order they are shown."""

    def __init__(self, label: str, *params: Param) -> None:
        self.label = label
        self.params = params


class Console:
    """Every parameter of a template, in its console groups, in the order they are shown."""

    def __init__(self, *groups: Group) -> None:
        self.groups = groups
        self.params = [param for group in groups for param in group.params]
        self._by_name = {param.name: param for param in self.params}
        if len(self._by_name) != len(self.params):
            names = [p.name for p in self.params]
            twice = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"parameters declared twice: {', '.join(twice)}")

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def label(self, name: str) -> str:
        return self[name].label

    def interface(self) -> dict:
        """The `AWS::CloudFormation::Interface` metadata: groups and labels in declared order."""
        return {
            "ParameterGroups": [
                {"Label": {"default": group.label}, "Parameters": [p.name for p in group.params]}
                for group in self.groups
            ],
            "ParameterLabels": {p.name: {"default": p.label} for p in self.params},
        }

    def add_to(self, t: Template) -> dict[str, Parameter]:
        """Add every parameter and the console metadata to `t`; returns the parameters by name."""
        added = {p.name: t.add_parameter(p.parameter()) for p in self.params}
        t.set_metadata({**t.metadata, "AWS::CloudFormation::Interface": self.interface()})
        return added
