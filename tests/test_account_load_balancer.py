"""The account's load balancer: one for every tier's shared hubs, routed by each tier's function.

Checked on the built templates (the platform's root and tier templates, each tier's shared hub),
and the access claims with the IAM evaluator (`tests/support/iam_evaluator.py`, conditions and
ARNs evaluated): no launch role may add, change or remove a rule on the account's listener; each
may invoke only its own tier's route function; the route functions' role may make rules on that
listener only, and change only rules a route function made. What the function itself does is
tested against moto's load balancers in tests/test_hub_route.py.
"""

from __future__ import annotations

import json

import pytest

from generator.cfn import names
from generator.engine.registry import load_portfolio
from generator.model.config import load_balancer_problems
from products.shared_hub import route_code
from tests.conftest import EXAMPLE, platform_body, platform_templates
from tests.support.cfn_values import ACCOUNT, Values
from tests.support.iam_evaluator import Request, decide
from tests.support.launch_check import Platform, arn
from tests.test_launch_role import EVALUATOR_DATA_GAPS, with_load_balancers_per_hub
from tests.test_shared_hub_template import built_body

LISTENER = arn(
    "elasticloadbalancing", "listener/app/labcatalog-hubs/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
OTHER_LISTENER = arn(
    "elasticloadbalancing", "listener/app/pii-hubs/0123456789abcdef/fedcba9876543210"
)


def rule_on(listener: str, rule_id: str) -> str:
    return listener.replace(":listener/", ":listener-rule/") + "/" + rule_id


def of_type(body: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in body["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def example():
    return load_portfolio(EXAMPLE)


@pytest.fixture(scope="module")
def root(example):
    return platform_body(example)


def test_one_https_load_balancer_for_the_account_and_none_in_any_hub(example, root):
    (balancer,) = of_type(root, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    network = example.platform.network
    props = balancer["Properties"]
    assert props["Scheme"] == network.load_balancer.scheme == "internal"
    assert props["Subnets"] == network.load_balancer_subnets[:2]
    attributes = {a["Key"]: a["Value"] for a in props["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "false"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "LoadBalancerLogBucket"}
    assert attributes["access_logs.s3.prefix"] == "shared-hub/account"
    listeners = {
        r["Properties"]["Port"]: r["Properties"]
        for r in of_type(root, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": example.platform.dns.certificate_arn}]
    (default,) = https["DefaultActions"]
    assert default["FixedResponseConfig"]["StatusCode"] == "404"
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert not of_type(root, "AWS::ElasticLoadBalancingV2::ListenerRule")
    for tier in example.tiers:
        hub = built_body(example, tier.name)
        kinds = {r["Type"] for r in hub["Resources"].values()}
        assert kinds & {t for t in kinds if t.startswith("AWS::ElasticLoadBalancingV2::")} == {
            "AWS::ElasticLoadBalancingV2::TargetGroup"
        }


def test_the_load_balancer_reaches_only_the_hubs_group_and_only_the_hub_port(example, root):
    groups = of_type(root, "AWS::EC2::SecurityGroup")
    balancer = groups["AccountLoadBalancerSecurityGroup"]["Properties"]
    hubs = groups["HubsBehindLoadBalancerSecurityGroup"]["Properties"]
    cidr = example.platform.network.load_balancer.allowed_cidr
    assert sorted((r["FromPort"], r["CidrIp"]) for r in balancer["SecurityGroupIngress"]) == [
        (80, cidr),
        (443, cidr),
    ]
    for group in (balancer, hubs):
        assert [r["CidrIp"] for r in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]
    assert "SecurityGroupIngress" not in hubs
    rules = {
        k: r["Properties"]
        for k, r in root["Resources"].items()
        if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and "LoadBalancer" in k
    }
    balancer_id = {"Fn::GetAtt": ["AccountLoadBalancerSecurityGroup", "GroupId"]}
    hubs_id = {"Fn::GetAtt": ["HubsBehindLoadBalancerSecurityGroup", "GroupId"]}
    assert rules == {
        "HubsFromAccountLoadBalancer": {
            "GroupId": hubs_id,
            "IpProtocol": "tcp",
            "FromPort": 8000,
            "ToPort": 8000,
            "SourceSecurityGroupId": balancer_id,
            "Description": "the load balancer",
        },
        "AccountLoadBalancerToHubs": {
            "GroupId": balancer_id,
            "IpProtocol": "tcp",
            "FromPort": 8000,
            "ToPort": 8000,
            "DestinationSecurityGroupId": hubs_id,
            "Description": "the hubs",
        },
    }
    published = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in of_type(root, "AWS::SSM::Parameter").values()
    }
    assert published[names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER] == hubs_id
    assert published[names.ACCOUNT_LISTENER_ARN_PARAMETER] == {"Ref": "AccountHubListener"}


def test_each_tier_has_a_route_function_for_its_own_host_names(example):
    templates = {p: json.loads(t) for p, t in platform_templates(example).items()}
    for tier in example.tiers:
        body = templates[f"platform/{tier.name}.template.json"]
        (function,) = of_type(body, "AWS::Lambda::Function").values()
        props = function["Properties"]
        assert props["FunctionName"] == f"labcatalog-{tier.name}-hub-route"
        assert props["Environment"]["Variables"] == {
            "TIER": tier.name,
            "LISTENER_ARN": {"Ref": "AccountHubListener"},
            "HOST_NAME_SUFFIX": f".{tier.name}.jupyter.example.com",
        }
        assert props["Code"] == {"ZipFile": route_code.inline_source()}
        assert props["Role"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${HubRouteRole}"
        }
        (logs,) = of_type(body, "AWS::Logs::LogGroup").values()
        assert logs["Properties"]["LogGroupName"] == f"/labcatalog/{tier.name}/hub-route"
        assert logs["Properties"]["KmsKeyId"] == {"Ref": "HubKeyArn"}
        assert props["LoggingConfig"] == {
            "LogGroup": {"Ref": next(iter(of_type(body, "AWS::Logs::LogGroup")))}
        }


def test_without_a_tier_on_it_there_is_no_account_load_balancer(example):
    portfolio = with_load_balancers_per_hub(example)
    assert not portfolio.account_load_balancer
    templates = {p: json.loads(t) for p, t in platform_templates(portfolio).items()}
    for path, body in templates.items():
        kinds = {r["Type"] for r in body["Resources"].values()}
        assert not kinds & {
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "AWS::Lambda::Function",
        }, path
        assert "AccountHubListener" not in body.get("Parameters", {}), path
    for tier in portfolio.tiers:
        hub = built_body(portfolio, tier.name)
        assert "HubRoute" not in hub["Resources"]
        assert "HubLoadBalancer" in hub["Resources"]


def test_a_tier_with_a_network_of_its_own_cannot_use_the_account_load_balancer(example):
    tier = example.tiers[1]
    own = tier.model_copy(update={"network": example.platform.network})
    portfolio = example.model_copy(update={"tiers": [example.tiers[0], own]})
    assert load_balancer_problems(portfolio) == [
        (
            ("tiers", 1, "network", "load_balancer"),
            "tier 'nonpii' has a network of its own, but the account's load balancer is in the "
            "platform's network; set per_hub: true (a load balancer per hub) or an "
            "existing_listener here",
        )
    ]
    settings = own.network.load_balancer.model_copy(update={"per_hub": True})
    fixed = own.model_copy(
        update={"network": own.network.model_copy(update={"load_balancer": settings})}
    )
    assert (
        load_balancer_problems(example.model_copy(update={"tiers": [example.tiers[0], fixed]}))
        == []
    )


# --- who may route -------------------------------------------------------------------------


def route_role_policy(portfolio) -> dict:
    """The route functions' role's policy as IAM sees it: the root template's values resolved,
    the listener's Ref its ARN."""
    root = json.loads(platform_templates(portfolio)["platform.template.json"])
    (policy,) = root["Resources"]["HubRouteRole"]["Properties"]["Policies"]
    values = Values(
        root,
        {},
        ref={"AccountHubListener": LISTENER}.__getitem__,
        getatt=lambda logical, attribute: pytest.fail(f"no GetAtt expected: {logical}"),
        ssm=lambda name: pytest.fail(f"no SSM parameter expected: {name}"),
    )
    return values.value(policy["PolicyDocument"])


def routed_rule_tags(tier: str) -> dict[str, str]:
    return {
        f"aws:ResourceTag/{names.ROUTE_TIER_TAG}": tier,
        f"aws:ResourceTag/{names.STACK_TAG}": "shared-hub",
    }


@pytest.mark.parametrize("tier", ["pii", "nonpii"])
def test_no_launch_role_may_make_or_change_a_rule_on_the_accounts_listener(tier):
    platform = Platform(load_portfolio(EXAMPLE))
    principal, context = platform.launch_principal(tier)
    policies = platform.launch_policies(tier)
    rule = rule_on(LISTENER, "0123456789abcdef")
    requests = [
        Request(
            principal,
            "elasticloadbalancing:CreateRule",
            LISTENER,
            {
                **context,
                f"aws:ResourceTag/{names.STACK_TAG}": "platform",
                f"aws:RequestTag/{names.TIER_TAG}": tier,
            },
            policies,
        ),
        *(
            Request(
                principal,
                action,
                rule,
                {**context, **routed_rule_tags(tier)},
                policies,
                unsafe=action in EVALUATOR_DATA_GAPS,
            )
            for action in (
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:SetRulePriorities",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            )
        ),
    ]
    assert decide(requests) == ["ImplicitlyDenied"] * len(requests)


def test_the_route_functions_role_makes_rules_on_the_accounts_listener_only(example):
    policy = route_role_policy(example)
    principal = f"arn:aws:iam::{ACCOUNT}:role/{names.HUB_ROUTE_ROLE}"
    routed = rule_on(LISTENER, "0123456789abcdef")
    other = rule_on(OTHER_LISTENER, "0123456789abcdef")
    cases = [
        ("elasticloadbalancing:CreateRule", LISTENER, {}, "Allowed"),
        ("elasticloadbalancing:CreateRule", OTHER_LISTENER, {}, "ImplicitlyDenied"),
        (
            "elasticloadbalancing:AddTags",
            routed,
            {"elasticloadbalancing:CreateAction": "CreateRule"},
            "Allowed",
        ),
        ("elasticloadbalancing:AddTags", routed, routed_rule_tags("pii"), "ImplicitlyDenied"),
        ("elasticloadbalancing:ModifyRule", routed, routed_rule_tags("pii"), "Allowed"),
        ("elasticloadbalancing:DeleteRule", routed, routed_rule_tags("nonpii"), "Allowed"),
        # A rule no route function made (a hub's on an existing listener): tier-tagged only.
        (
            "elasticloadbalancing:DeleteRule",
            other,
            {f"aws:ResourceTag/{names.TIER_TAG}": "pii"},
            "ImplicitlyDenied",
        ),
        (
            "elasticloadbalancing:ModifyRule",
            other,
            {f"aws:ResourceTag/{names.TIER_TAG}": "pii"},
            "ImplicitlyDenied",
        ),
    ]
    requests = [
        Request(
            principal, action, resource, context, (policy,), unsafe=action in EVALUATOR_DATA_GAPS
        )
        for action, resource, context, _ in cases
    ]
    assert decide(requests) == [expected for *_, expected in cases]
