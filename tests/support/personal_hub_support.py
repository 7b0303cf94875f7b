"""Helpers for the personal-hub tests: the template as CloudFormation reads it, and a small
evaluator of the intrinsic functions its user data uses, so a test can read the boot script
exactly as an instance of a given tier would receive it."""

from __future__ import annotations

import json
import re
from typing import Any

from generator.cfn import names
from generator.engine.build import render
from generator.model.config import Portfolio
from products.personal_hub import template

PSEUDO = {
    "AWS::StackName": "SC-123456789012-pp-abcdefghijklm",
    "AWS::Region": "eu-west-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
}
_DYNAMIC = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


def body(portfolio: Portfolio) -> dict:
    """The personal-hub template as CloudFormation will read it."""
    return json.loads(render(template.build(portfolio)))


def launch_values(body: dict, **given: str) -> dict[str, str]:
    """Parameter values of a launch: the defaults, then what the user typed."""
    values = {
        name: str(slot["Default"]) for name, slot in body["Parameters"].items() if "Default" in slot
    }
    values.update(given)
    missing = set(body["Parameters"]) - set(values)
    assert not missing, f"no value for {sorted(missing)}"
    return values


class Evaluator:
    """Ref, Fn::If, Fn::Join, Fn::Sub, Fn::FindInMap, Fn::Equals/Not, Fn::Base64, and SSM
    dynamic references from a given dict: what the personal-hub template uses, nothing more."""

    def __init__(self, body: dict, parameters: dict[str, str], ssm: dict[str, str]):
        self.body = body
        self.values = {**PSEUDO, **parameters}
        self.ssm = ssm
        self.conditions = {
            name: self.evaluate(expression) for name, expression in body["Conditions"].items()
        }

    def resolve_dynamic(self, text: str) -> str:
        return _DYNAMIC.sub(lambda m: self.ssm[m.group(1)], text)

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.resolve_dynamic(node)
        if isinstance(node, list):
            return [self.evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: self.evaluate(value) for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            return self.values[argument]
        if function == "Condition":
            return self.conditions[argument]
        if function == "Fn::If":
            name, yes, no = argument
            return self.evaluate(yes if self.conditions[name] else no)
        if function == "Fn::Equals":
            left, right = (str(self.evaluate(a)) for a in argument)
            return left == right
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(self.evaluate(i)) for i in items)
        if function == "Fn::FindInMap":
            mapping, key, field = (self.evaluate(a) for a in argument)
            return self.body["Mappings"][mapping][key][field]
        if function == "Fn::Base64":
            return self.evaluate(argument)
        if function == "Fn::Sub":
            return self.sub(argument)
        return {function: self.evaluate(argument)}

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: str(self.evaluate(value)) for name, value in variables.items()}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            return local[name] if name in local else str(self.values[name])

        return self.resolve_dynamic(_PLACEHOLDER.sub(replace, text))


def platform_ssm(tier: str) -> dict[str, str]:
    """The SSM values a launch of `tier` reads, as the platform and AWS publish them."""
    return {
        names.NOTEBOOK_BUCKET_PARAMETER: "labcatalog-notebooks-123456789012",
        names.HUB_REPOSITORY_URI_PARAMETER: (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/labcatalog/hub"
        ),
        names.HUB_IMAGE_TAG_PARAMETER: "sha-0123abcd",
        names.PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER.format(tier=tier): (
            f"labcatalog-{tier}-personal-hub"
        ),
    }


def oidc_launch(body: dict, tier: str, **more: str) -> dict[str, str]:
    """A complete OIDC launch of `tier`, as a data scientist would fill in the console."""
    values = {
        "Tier": tier,
        "Owner": "alice@example.com",
        "Collaborators": "bob@example.com,carol",
        "VpcId": "vpc-0123456789abcdef0",
        "SubnetId": "subnet-0123456789abcdef0",
        "OidcIssuerUrl": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
        "OidcClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
        "OidcClientSecretArn": (
            f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:labcatalog/{tier}/"
            "personal-hub/oidc-client-secret-AbCdEf"
        ),
        "TierGroup": f"ds-{tier}",
    }
    return launch_values(body, **{**values, **more})


def rendered_user_data(body: dict, parameters: dict[str, str]) -> str:
    """The boot script an instance launched with `parameters` receives."""
    evaluator = Evaluator(body, parameters, platform_ssm(parameters["Tier"]))
    return evaluator.evaluate(body["Resources"]["HubInstance"]["Properties"]["UserData"])
