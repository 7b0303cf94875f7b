"""The platform's settings (portfolio.yaml `platform:`, the tiers' groups) reach the products.

The platform's tier stacks publish them as SSM parameters (products/platform/settings.py); the
products read them with dynamic references (`{{resolve:ssm:...}}`) and the personal hub's boot
script at run time. These tests tie the three together: the values published are those of
portfolio.yaml, every parameter a product template reads exists in its tier's platform template,
and the roles that read them may read their own tier's only (the IAM evaluator decides).
They do not prove that CloudFormation resolves the references: the moto deploy tests do that
with moto's SSM, and only a real launch proves it in AWS.
"""

from __future__ import annotations

import json
import re

import pytest

from generator.cfn import names
from generator.engine import build as builder
from generator.engine.build import render
from tests.conftest import platform_templates
from tests.support.iam_evaluator import ACCOUNT, REGION, Request, decide

_REFERENCE = re.compile(r"\{\{resolve:ssm:(.+?)\}\}")
# AWS's own public parameters (the AMIs), which no platform publishes.
_AWS_PUBLIC = "/aws/service/"


def tier_parameters(portfolio, tier: str) -> dict[str, str]:
    """Name -> value of the SSM parameters in `tier`'s platform template (literal values)."""
    template = json.loads(platform_templates(portfolio)[f"{builder.PLATFORM}/{tier}.template.json"])
    return {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    }


def published(portfolio) -> set[str]:
    """Every SSM parameter name the platform's templates (root and tiers) publish."""
    found = set()
    for text in platform_templates(portfolio).values():
        for resource in json.loads(text)["Resources"].values():
            if resource["Type"] == "AWS::SSM::Parameter":
                found.add(resource["Properties"]["Name"])
    return found


def test_each_tiers_settings_are_portfolio_yamls(portfolio):
    platform = portfolio.platform
    for tier in portfolio.tiers:
        values = tier_parameters(portfolio, tier.name)

        def setting(pattern: str, values=values, tier=tier) -> str:
            return values[pattern.format(tier=tier.name)]

        network = tier.network or platform.network
        assert setting(names.VPC_ID_SETTING) == network.vpc_id
        assert setting(names.SERVER_SUBNETS_SETTING) == ",".join(network.server_subnets)
        assert setting(names.FIRST_SERVER_SUBNET_SETTING) == network.server_subnets[0]
        assert setting(names.SECOND_SERVER_SUBNET_SETTING) == network.server_subnets[1]
        assert [
            setting(names.FIRST_LOAD_BALANCER_SUBNET_SETTING),
            setting(names.SECOND_LOAD_BALANCER_SUBNET_SETTING),
        ] == network.load_balancer_subnets[:2]
        assert setting(names.IDENTITY_GROUP_SETTING) == tier.identity_group
        assert setting(names.ADMIN_GROUP_SETTING) == tier.admin_group
        assert setting(names.HOSTED_ZONE_ID_SETTING) == platform.dns.hosted_zone_id
        assert setting(names.CERTIFICATE_ARN_SETTING) == platform.dns.certificate_arn
        host = "team1" + setting(names.HUB_HOST_NAME_SUFFIX_SETTING)
        pattern = platform.dns.hub_host_name
        assert host == pattern.replace("{hub}", "team1").replace("{tier}", tier.name)
        assert setting(names.OWNER_PRINCIPAL_PATTERN_SETTING) == platform.owner.principal_pattern
        identity = platform.identity
        assert setting(names.AUTH_MODE_SETTING) == identity.mode
        if identity.oidc is not None:
            assert setting(names.OIDC_ISSUER_SETTING) == identity.oidc.issuer_url
            assert setting(names.OIDC_CLIENT_ID_SETTING) == identity.oidc.client_id
            secret = setting(names.OIDC_CLIENT_SECRET_SETTING)
        else:
            assert setting(names.LDAP_URL_SETTING) == identity.ldap.url
            assert setting(names.LDAP_BIND_DN_TEMPLATE_SETTING) == identity.ldap.bind_dn_template
            secret = setting(names.LDAP_BIND_PASSWORD_SECRET_SETTING)
        # One secret per tier, under the tier's own path (only its roles may read it).
        assert secret.startswith(names.PERSONAL_HUB_SECRETS.format(tier=tier.name))


def test_a_tier_with_a_network_of_its_own_publishes_it(portfolio):
    own = [tier for tier in portfolio.tiers if tier.network is not None]
    for tier in own:
        values = tier_parameters(portfolio, tier.name)
        vpc = values[names.VPC_ID_SETTING.format(tier=tier.name)]
        assert vpc == tier.network.vpc_id != portfolio.platform.network.vpc_id
    assert own or portfolio.tiers[0].network is None  # the three-tier fixture has one


def product_references(portfolio) -> dict[tuple[str, str], set[str]]:
    """(product key, tier) -> the SSM names its tier's template reads by dynamic reference."""
    found = {}
    for stack in builder.stacks(portfolio):
        if stack.tier is None or stack.product is None:
            continue  # the platform's templates
        body = builder.template_body(stack.build(portfolio), stack)
        found[(stack.product, stack.tier)] = set(_REFERENCE.findall(render(body)))
    return found


def test_every_parameter_a_product_reads_is_published_for_each_tier(portfolio):
    available = published(portfolio)
    references = product_references(portfolio)
    products = ("personal-hub", "shared-hub")
    assert set(references) == {(p, tier.name) for p in products for tier in portfolio.tiers}
    for (product, tier), referenced in references.items():
        settings_read = {name for name in referenced if "/settings/" in name}
        assert settings_read, f"{product} reads none of the tier's settings"
        for name in referenced:
            if name.startswith(_AWS_PUBLIC) or name.startswith("${"):
                continue  # AWS's public AMI parameters (the name comes from a mapping)
            assert "${Tier}" not in name, (product, tier, name)  # bound by the build
            assert name in available, (product, tier, name)


def test_the_personal_hub_boot_script_reads_the_path_the_platform_publishes(portfolio):
    """The boot script reads the settings by path; each tier publishes them under it."""
    hubs = [s for s in builder.stacks(portfolio) if s.product == "personal-hub"]
    assert sorted(h.tier for h in hubs) == sorted(t.name for t in portfolio.tiers)
    for hub in hubs:
        path = names.TIER_SETTINGS.format(tier=hub.tier).rstrip("/")
        body = json.loads(render(builder.template_body(hub.build(portfolio), hub)))
        user_data = body["Resources"]["HubInstance"]["Properties"]["UserData"]["Fn::Base64"]
        assert user_data["Fn::Sub"][1]["Settings"] == path
        under = [n for n in published(portfolio) if n.startswith(path + "/")]
        assert len(under) >= 13


def _resolved(value) -> str:
    """An ARN the template builds with Fn::Sub, for this account and region."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return (
        text.replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", REGION)
        .replace("${AWS::AccountId}", ACCOUNT)
    )


def _policy(template: dict, role: str, name: str) -> dict:
    policies = template["Resources"][role]["Properties"]["Policies"]
    document = next(p["PolicyDocument"] for p in policies if p["PolicyName"] == name)
    statements = []
    for statement in document["Statement"]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if any(not isinstance(r, str) and "Fn::Sub" not in r for r in resources):
            continue  # ARNs from GetAtt/Ref: not about parameters
        statements.append({**statement, "Resource": [_resolved(r) for r in resources]})
    return {"Version": "2012-10-17", "Statement": statements}


def _parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"


@pytest.fixture(scope="module")
def two_tiers(example):
    pii, nonpii = (
        json.loads(platform_templates(example)[f"{builder.PLATFORM}/{t}.template.json"])
        for t in ("pii", "nonpii")
    )
    return example, pii, nonpii


def test_a_launch_role_reads_its_own_tiers_settings_only(two_tiers):
    example, pii, _ = two_tiers
    policy = _policy(pii, "PiiLaunchRole", "launch-products")
    principal = f"arn:aws:iam::{ACCOUNT}:role/" + names.LAUNCH_ROLE.format(tier="pii")
    own = [_parameter_arn(n) for n in tier_parameters(example, "pii") if "/settings/" in n]
    other = [_parameter_arn(n) for n in tier_parameters(example, "nonpii") if "/settings/" in n]
    requests = [
        Request(principal, "ssm:GetParameters", arn, identity_policies=(policy,))
        for arn in own + other
    ]
    decisions = decide(requests)
    assert decisions[: len(own)] == ["Allowed"] * len(own)
    assert decisions[len(own) :] == ["ImplicitlyDenied"] * len(other)


def test_a_personal_hub_reads_its_tiers_settings_and_nothing_else_of_ssm(two_tiers):
    _, pii, _ = two_tiers
    policy = _policy(pii, "PiiPersonalHubRole", "personal-hub-instance")
    principal = f"arn:aws:iam::{ACCOUNT}:role/" + names.PERSONAL_HUB_ROLE.format(tier="pii")
    cases = {
        # What the boot script asks: the settings' path (and, by path, each one under it).
        names.TIER_SETTINGS.format(tier="pii").rstrip("/"): "Allowed",
        names.IDENTITY_GROUP_SETTING.format(tier="pii"): "Allowed",
        names.TIER_SETTINGS.format(tier="nonpii").rstrip("/"): "ImplicitlyDenied",
        # The tier's other parameters (roles, file systems) are not settings.
        names.tier_parameter("pii", "").rstrip("/"): "ImplicitlyDenied",
        names.NOTEBOOK_ROLE_ARN_PARAMETER.format(tier="pii"): "ImplicitlyDenied",
    }
    requests = [
        Request(
            principal, "ssm:GetParametersByPath", _parameter_arn(name), identity_policies=(policy,)
        )
        for name in cases
    ]
    assert dict(zip(cases, decide(requests), strict=True)) == cases
