"""A template's values as CloudFormation would make them in one account, for offline checks.

`Values` evaluates the intrinsic functions our templates use (Ref, Fn::Sub, Fn::GetAtt, Fn::If,
Fn::Select, Fn::Split, Fn::Join, Fn::FindInMap and the condition functions) and the `{{resolve:
ssm:...}}` dynamic references. What a resource's Ref or GetAtt returns, and what an SSM parameter
holds, are the caller's (`ref`, `getatt`, `ssm`): CloudFormation makes those up at deploy time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
# Service Catalog names a provisioned product's stack `SC-<account>-pp-<id>`.
STACK_NAME = f"SC-{ACCOUNT}-pp-abcdefghijklm"

_DYNAMIC = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")
_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def fake_id(prefix: str, seed: str, length: int = 17) -> str:
    """A stable AWS-looking id (`sg-0a1b...`) for a resource CloudFormation would create."""
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:length]


@dataclass
class Values:
    """One template's values for given parameters; see the module's docstring."""

    template: dict
    parameters: dict[str, object]
    ref: Callable[[str], object]
    getatt: Callable[[str, str], object]
    ssm: Callable[[str], str]
    pseudo: dict[str, str] = field(
        default_factory=lambda: {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }
    )

    def parameter(self, name: str):
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {})[name]
        value = declared.get("Default", "")
        if declared.get("Type", "").startswith("List<") or declared.get("Type") == (
            "CommaDelimitedList"
        ):
            return [v for v in str(value).split(",") if v]
        return value

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def active(self, logical: str) -> bool:
        """The resource exists with these parameters (its Condition holds, if any)."""
        name = self.template["Resources"][logical].get("Condition")
        return name is None or self.condition(name)

    def _lookup(self, name: str):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        if name == "AWS::NoValue":
            return None
        return self.ref(name)

    def _sub(self, text: str, variables: dict) -> str:
        def replace(match: re.Match) -> str:
            name = match[1]
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.getatt(logical, attribute))
            return str(self._lookup(name))

        return self.dynamic(_VARIABLE.sub(replace, text).replace("${!", "${"))

    def dynamic(self, text: str) -> str:
        return _DYNAMIC.sub(lambda m: self.ssm(m[1]), text)

    def value(self, node):
        """`node` with every intrinsic function evaluated."""
        if isinstance(node, str):
            return self.dynamic(node)
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref":
                return self._lookup(argument)
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Sub":
                if isinstance(argument, list):
                    text, variables = argument
                    return self._sub(text, {k: self.value(v) for k, v in variables.items()})
                return self._sub(argument, {})
            if function == "Fn::GetAtt":
                logical, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self.getatt(logical, attribute)
            if function == "Fn::If":
                name, then, otherwise = argument
                return self.value(then if self.condition(name) else otherwise)
            if function == "Fn::Select":
                index, items = argument
                return self.value(items)[int(self.value(index))]
            if function == "Fn::Split":
                separator, text = argument
                return str(self.value(text)).split(separator)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(v) for v in self.value(items))
            if function == "Fn::FindInMap":
                mapping, key, name = (self.value(a) for a in argument)
                return self.value(self.template["Mappings"][mapping][key][name])
            if function == "Fn::Equals":
                left, right = (self.value(a) for a in argument)
                return str(left) == str(right)
            if function == "Fn::Base64":
                return self.value(argument)
            if function == "Fn::Not":
                return not self.value(argument[0])
            if function == "Fn::And":
                return all(self.value(a) for a in argument)
            if function == "Fn::Or":
                return any(self.value(a) for a in argument)
            if function.startswith("Fn::"):
                raise NotImplementedError(f"{function} is not evaluated here")
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not None}


def tags_of(properties: dict) -> dict[str, str]:
    """A resource's tags, from whichever property its type keeps them in (evaluated)."""
    for key in ("Tags", "FileSystemTags", "AccessPointTags"):
        tags = properties.get(key)
        if isinstance(tags, list):
            return {t["Key"]: str(t["Value"]) for t in tags}
        if isinstance(tags, dict):
            return {k: str(v) for k, v in tags.items()}
    return {}
