"""The shared-hub template as data: the relations issue 3 asks for, for every test portfolio.

These prove that the intended properties are in the template; cfn-lint, checkov and the moto
deploy (test_shared_hub_deploy.py) check the rest. They do not prove that AWS accepts it.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from generator.cfn import names
from generator.engine import build as builder
from generator.engine.build import render
from generator.model.config import ExistingListener, LoadBalancer
from products.shared_hub import compute, parameters
from products.shared_hub import template as shared_hub
from tests.conftest import ROOT, assert_cfn_lint_clean, platform_body
from tests.test_platform_template import role_policy, statements

CONTRACT = ROOT / "products" / "hub_image" / "environment.md"
# Valid Fargate (cpu, memory) pairs, as AWS documents them.
FARGATE_MEMORY = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}


def hub_body(portfolio) -> dict:
    return json.loads(render(shared_hub.build(portfolio)))


def resources_of(body: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in body["Resources"].items() if r["Type"] == kind}


def props(body: dict, logical_id: str) -> dict:
    return body["Resources"][logical_id]["Properties"]


def hub_container(body: dict) -> dict:
    (container,) = props(body, "HubTaskDefinition")["ContainerDefinitions"]
    return container


def conditional_items(items: list) -> dict[str, tuple[str | None, dict]]:
    """`[{...}, {"Fn::If": [cond, {...}, NoValue]}]` -> {Name: (condition or None, item)}."""
    found = {}
    for item in items:
        if "Fn::If" in item:
            condition, value, otherwise = item["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            found[value["Name"]] = (condition, value)
        else:
            found[item["Name"]] = (None, item)
    return found


# The hub's host name: its name, then the rest of the platform's pattern for the tier.
HOST_NAME = {
    "Fn::Sub": "${HubName}"
    + names.resolved(names.HUB_HOST_NAME_SUFFIX_SETTING.format(tier="${Tier}"))
}
# What the platform knows and a launch must never ask: the network, the identity provider, the
# tier's groups, DNS (issue 14; their values are the tier's settings, published by the platform).
PLATFORM_SETTING = re.compile(
    r"Vpc|Subnet|Oidc|Ldap|Auth|TierGroup|AdminGroup|HostedZone|Certificate|Domain", re.IGNORECASE
)


def test_the_console_asks_only_the_hubs_name(portfolio):
    """One parameter without a default, the hub's name; Tier, whose value the portfolio fixes,
    is bound to each tier's product when the templates are built per tier."""
    body = hub_body(portfolio)
    without_default = {n for n, slot in body["Parameters"].items() if "Default" not in slot}
    assert without_default - {"Tier"} == {"HubName"}
    asked = [name for name in body["Parameters"] if PLATFORM_SETTING.search(name)]
    assert asked == []


def test_the_hub_finds_its_network_sign_in_and_name_in_the_tiers_settings(portfolio):
    body = hub_body(portfolio)
    tier_setting = lambda pattern: {  # noqa: E731
        "Fn::Sub": names.resolved(pattern.format(tier="${Tier}"))
    }
    vpc = tier_setting(names.VPC_ID_SETTING)
    groups = resources_of(body, "AWS::EC2::SecurityGroup")
    assert {g["Properties"]["VpcId"]["Fn::Sub"] for g in groups.values()} == {vpc["Fn::Sub"]}
    assert props(body, "HubLoadBalancer")["Subnets"] == [
        tier_setting(names.FIRST_LOAD_BALANCER_SUBNET_SETTING),
        tier_setting(names.SECOND_LOAD_BALANCER_SUBNET_SETTING),
    ]
    record = props(body, "HubDnsRecord")
    assert record["HostedZoneId"] == tier_setting(names.HOSTED_ZONE_ID_SETTING)
    assert record["Name"] == HOST_NAME
    env = {e["Name"]: e["Value"] for e in hub_container(body)["Environment"]}
    assert env["LABCATALOG_TIER_GROUP"] == tier_setting(names.IDENTITY_GROUP_SETTING)
    assert env["LABCATALOG_ADMIN_GROUP"] == tier_setting(names.ADMIN_GROUP_SETTING)
    assert env["LABCATALOG_ECS_SUBNETS"] == tier_setting(names.SERVER_SUBNETS_SETTING)
    assert env["LABCATALOG_PUBLIC_URL"] == {"Fn::Join": ["", ["https://", HOST_NAME]]}
    identity = portfolio.platform.identity
    assert env["LABCATALOG_AUTH"] == identity.mode
    if identity.ldap is not None:
        assert env["LABCATALOG_LDAP_URL"] == tier_setting(names.LDAP_URL_SETTING)
        assert not [name for name in env if "OIDC" in name]
    else:
        assert env["LABCATALOG_OIDC_ISSUER"] == tier_setting(names.OIDC_ISSUER_SETTING)
        assert not [name for name in env if "LDAP" in name]


def test_tier_parameter_offers_exactly_the_portfolios_tiers(portfolio):
    tier = hub_body(portfolio)["Parameters"]["Tier"]
    assert tier["AllowedValues"] == [t.name for t in portfolio.tiers]
    assert "Default" not in tier  # the publisher pins it per portfolio


@pytest.mark.parametrize("name", ["DefaultServerSize", "ServerSizes", "HubSize"])
def test_sizes_are_valid_fargate_pairs_only(example, name):
    allowed = hub_body(example)["Parameters"][name]["AllowedValues"]
    assert allowed
    for size in allowed:
        cpu, memory = map(int, size.split(":"))
        assert memory in FARGATE_MEMORY[cpu], size


@pytest.mark.parametrize(
    "case,name,value,matches",
    [
        ("hub name", "HubName", "churn-team", True),
        ("hub name required", "HubName", "", False),
        ("hub name is one DNS label", "HubName", "hub.data", False),
        ("hub name lowercase", "HubName", "Churn", False),
        ("hub name not ending with -", "HubName", "churn-", False),
        ("CIDR", "AllowedCidr", "10.0.0.0/8", True),
        ("not a CIDR", "AllowedCidr", "10.0.0.0", False),
        ("listener", "ExistingListenerArn", "arn:aws:elasticloadbalancing:us-east-1:"
         "123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2", True),
        ("security group", "ExistingLoadBalancerSecurityGroup", "sg-0123456789abcdef0", True),
    ],
)  # fmt: skip
def test_parameter_patterns(example, case, name, value, matches):
    pattern = hub_body(example)["Parameters"][name]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is matches, case


def test_hub_service_runs_exactly_one_task_and_never_two_at_once(portfolio):
    body = hub_body(portfolio)
    service = props(body, "HubService")
    assert service["DesiredCount"] == 1
    assert service["LaunchType"] == "FARGATE"
    deployment = service["DeploymentConfiguration"]
    assert deployment["MaximumPercent"] == 100
    assert deployment["MinimumHealthyPercent"] == 0
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    vpc = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    assert vpc["SecurityGroups"] == [
        {"Fn::GetAtt": ["HubSecurityGroup", "GroupId"]},
        {
            "Fn::If": [
                "UseAccountLoadBalancer",
                names.resolved(names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER),
                {"Ref": "AWS::NoValue"},
            ]
        },
    ]
    # JupyterHub cannot run twice: the only scaling of the hub service is the optional hub
    # hours' schedule, between 0 and 1 task, and no scaling policy anywhere.
    scaling = {
        name: r
        for name, r in body["Resources"].items()
        if r["Type"].startswith("AWS::ApplicationAutoScaling::")
    }
    assert list(scaling) == ["HubScheduleTarget"]
    target = scaling["HubScheduleTarget"]
    assert target["Condition"] == "HubRunsOnSchedule"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (0, 1)
    actions = target["Properties"]["ScheduledActions"]
    assert {a["ScalableTargetAction"]["MaxCapacity"] for a in actions} <= {0, 1}


def test_hub_sits_behind_the_load_balancer_with_a_health_check(example):
    body = hub_body(example)
    (balancing,) = props(body, "HubService")["LoadBalancers"]
    assert balancing == {
        "ContainerName": "hub",
        "ContainerPort": 8000,
        "TargetGroupArn": {"Ref": "HubTargetGroup"},
    }
    target = props(body, "HubTargetGroup")
    assert target["TargetType"] == "ip"
    assert target["HealthCheckPath"] == "/hub/health"
    assert target["Port"] == 8000


def test_new_load_balancer_is_https_only_tls12_plus_logged_and_drops_bad_headers(example):
    body = hub_body(example)
    https = props(body, "HttpsListener")
    assert https["Protocol"] == "HTTPS" and https["Port"] == 443
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    certificate = names.CERTIFICATE_ARN_SETTING.format(tier="${Tier}")
    assert https["Certificates"] == [{"CertificateArn": {"Fn::Sub": names.resolved(certificate)}}]
    (redirect,) = props(body, "HttpRedirectListener")["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    attributes = {
        a["Key"]: a["Value"] for a in props(body, "HubLoadBalancer")["LoadBalancerAttributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == (
        names.resolved(names.LOAD_BALANCER_LOG_BUCKET_PARAMETER)
    )
    assert attributes["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}
    rule = props(body, "HubListenerRule")
    assert rule["Conditions"] == [
        {"Field": "host-header", "HostHeaderConfig": {"Values": [HOST_NAME]}}
    ]


# Who may reach whom: (resource, kind, group, port, peer). A peer is a group or a CIDR.
CHAIN = [
    ("HubFromLoadBalancer", "ingress", "HubSecurityGroup", 8000, "LoadBalancerSecurityGroup"),
    ("HubFromExistingLoadBalancer", "ingress", "HubSecurityGroup", 8000,
     {"Ref": "ExistingLoadBalancerSecurityGroup"}),
    ("LoadBalancerToHub", "egress", "LoadBalancerSecurityGroup", 8000, "HubSecurityGroup"),
    ("HubToServers", "egress", "HubSecurityGroup", 8888, "ServerSecurityGroup"),
    ("HubApiFromServers", "ingress", "HubSecurityGroup", 8081, "ServerSecurityGroup"),
    ("HubToFileSystem", "egress", "HubSecurityGroup", 2049, "FileSystemSecurityGroup"),
]  # fmt: skip


@pytest.mark.parametrize("logical_id,kind,group,port,peer", CHAIN)
def test_security_group_chain(example, logical_id, kind, group, port, peer):
    rule = props(hub_body(example), logical_id)
    assert rule["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
    assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (port, port, "tcp")
    key = "SourceSecurityGroupId" if kind == "ingress" else "DestinationSecurityGroupId"
    expected = peer if isinstance(peer, dict) else {"Fn::GetAtt": [peer, "GroupId"]}
    assert rule[key] == expected


@pytest.mark.parametrize(
    "group,port,peer",
    [
        ("ServerSecurityGroup", 8888, "HubSecurityGroup"),
        ("FileSystemSecurityGroup", 2049, "HubSecurityGroup"),
    ],
)
def test_inline_ingress_only_from_the_hub(example, group, port, peer):
    (rule,) = props(hub_body(example), group)["SecurityGroupIngress"]
    assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": [peer, "GroupId"]}
    assert (rule["FromPort"], rule["ToPort"]) == (port, port)


def all_rules(body: dict):
    """Every security group rule: (resource, direction, rule)."""
    for logical_id, resource in body["Resources"].items():
        p = resource["Properties"]
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            for direction in ("SecurityGroupIngress", "SecurityGroupEgress"):
                for rule in p.get(direction, []):
                    yield logical_id, direction, rule
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            yield logical_id, "SecurityGroupIngress", p
        elif resource["Type"] == "AWS::EC2::SecurityGroupEgress":
            yield logical_id, "SecurityGroupEgress", p


def test_nothing_is_open_to_the_world_except_the_load_balancer_to_the_allowed_cidr(portfolio):
    body = hub_body(portfolio)
    for logical_id, direction, rule in all_rules(body):
        if direction == "SecurityGroupIngress":
            assert rule.get("CidrIp") in (None, {"Ref": "AllowedCidr"}), logical_id
            if "CidrIp" in rule:
                assert logical_id == "LoadBalancerSecurityGroup"
                assert rule["FromPort"] in (443, 80)  # 80 only redirects to HTTPS
        elif rule.get("CidrIp") == "0.0.0.0/0":
            # Outbound to anywhere: HTTPS (AWS APIs, identity provider) and LDAP when chosen.
            assert rule["FromPort"] in (443, 389, 636), (logical_id, rule)
            if rule["FromPort"] != 443:
                assert portfolio.platform.identity.ldap is not None
    for group in ("LoadBalancerSecurityGroup", "FileSystemSecurityGroup"):
        (no_egress,) = props(body, group)["SecurityGroupEgress"]
        assert no_egress["CidrIp"] == "127.0.0.1/32"  # replaces the default allow-all


def tier_value(parameter: str) -> dict:
    """A value the platform publishes for each tier, read for the launch's Tier."""
    return {"Fn::Sub": names.resolved(parameter.format(tier="${Tier}"))}


def test_task_roles_come_from_the_platform_for_the_chosen_tier(example):
    body = hub_body(example)
    hub = props(body, "HubTaskDefinition")
    assert hub["TaskRoleArn"] == tier_value(names.HUB_TASK_ROLE_ARN_PARAMETER)
    assert hub["ExecutionRoleArn"] == tier_value(names.TASK_EXECUTION_ROLE_ARN_PARAMETER)
    servers = props(body, "ServerTaskDefinition")
    assert servers["TaskRoleArn"] == tier_value(names.NOTEBOOK_ROLE_ARN_PARAMETER)
    assert not resources_of(body, "AWS::IAM::Role"), "product stacks create no IAM roles"
    assert not resources_of(body, "AWS::IAM::Policy")


def test_servers_are_always_fargate_tasks(example):
    """One server mode: a Fargate task per user. Nothing is conditional on a mode."""
    body = hub_body(example)
    assert "ServerMode" not in body["Parameters"]
    for logical_id in (
        "ServerTaskDefinition",
        "ServerSecurityGroup",
        "ServersLogGroup",
        "HubApiFromServers",
        "HubToServers",
    ):
        assert "Condition" not in body["Resources"][logical_id], logical_id
    assert "Condition" not in body["Outputs"]["ServerLogGroup"]
    env = conditional_items(hub_container(body)["Environment"])
    for name in ("LABCATALOG_ECS_CLUSTER", "LABCATALOG_ECS_TASK_DEFINITION"):
        assert env[name][0] is None, name
    assert env["LABCATALOG_ECS_TASK_DEFINITION"][1]["Value"] == {"Ref": "ServerTaskDefinition"}
    assert env["LABCATALOG_SERVER_MODE"] == (
        None,
        {"Name": "LABCATALOG_SERVER_MODE", "Value": "fargate"},
    )


def test_the_three_load_balancer_modes(example):
    body = hub_body(example)
    new = "CreateLoadBalancer"
    # The account's load balancer: the tier's route function makes the host rule.
    route = body["Resources"]["HubRoute"]
    assert route["Type"] == "Custom::HubRoute"
    assert route["Condition"] == "UseAccountLoadBalancer"
    assert route["Properties"] == {
        "ServiceToken": {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
            "labcatalog-${Tier}-hub-route"
        },
        "HubName": {"Ref": "HubName"},
        "TargetGroupArn": {"Ref": "HubTargetGroup"},
    }
    assert body["Resources"]["HubListenerRule"]["Condition"] == "MakeListenerRule"
    assert body["Conditions"]["MakeListenerRule"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LoadBalancer"}, "account"]}]
    }
    assert {"HubRoute", "HubListenerRule"} <= set(body["Resources"]["HubService"]["DependsOn"])
    for logical_id in (
        "HubLoadBalancer",
        "HttpsListener",
        "HttpRedirectListener",
        "LoadBalancerSecurityGroup",
    ):
        assert body["Resources"][logical_id]["Condition"] == new
    assert body["Resources"]["HubFromExistingLoadBalancer"]["Condition"] == (
        "AttachToExistingListener"
    )
    rule = props(body, "HubListenerRule")
    assert rule["ListenerArn"] == {
        "Fn::If": [new, {"Ref": "HttpsListener"}, {"Ref": "ExistingListenerArn"}]
    }
    assert rule["Priority"] == {"Fn::If": [new, 1, {"Ref": "ExistingListenerRulePriority"}]}
    alias = props(body, "HubDnsRecord")["AliasTarget"]
    assert alias["DNSName"] == {
        "Fn::If": [
            new,
            {"Fn::GetAtt": ["HubLoadBalancer", "DNSName"]},
            {
                "Fn::If": [
                    "UseAccountLoadBalancer",
                    names.resolved(names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER),
                    {"Ref": "ExistingLoadBalancerDnsName"},
                ]
            },
        ]
    }
    # The load balancer's parameters are the tier's settings: no rule may test them (the build
    # binds them), and portfolio.yaml's validation checks an existing listener's.
    for rule in body["Rules"].values():
        for name in parameters.LOAD_BALANCER_SETTINGS:
            assert f'"Ref": "{name}"' not in json.dumps(rule), name


LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/hubs/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)


def with_existing_listener(portfolio, tier: str):
    """`portfolio` whose `tier` has its own network, naming an existing listener."""
    found = portfolio.tier(tier)
    network = portfolio.network(found)
    load_balancer = LoadBalancer(
        existing_listener=ExistingListener(
            arn=LISTENER,
            security_group="sg-0123456789abcdef0",
            dns_name="hubs-1234.us-east-1.elb.amazonaws.com",
            hosted_zone_id="Z35SXDOTRQ7X7K",
        )
    )
    own = found.model_copy(
        update={"network": network.model_copy(update={"load_balancer": load_balancer})}
    )
    tiers = [own if t.name == tier else t for t in portfolio.tiers]
    return portfolio.model_copy(update={"tiers": tiers})


def built_body(portfolio, tier: str) -> dict:
    """The shared-hub template of `tier` as the build makes it (tier and settings bound)."""
    key = builder.product_stack("shared-hub", tier)
    (stack,) = [s for s in builder.stacks(portfolio) if s.key == key]
    return json.loads(render(builder.template_body(stack.build(portfolio), stack)))


def test_no_tiers_template_asks_for_its_load_balancer(portfolio):
    """The load balancer is each tier's setting: the built template of every tier asks none of
    it, and only the hub's name has no default."""
    for tier in portfolio.tiers:
        body = built_body(portfolio, tier.name)
        asked = set(body["Parameters"])
        assert not asked & {*parameters.LOAD_BALANCER_SETTINGS, parameters.RULE_PRIORITY}
        assert {n for n, slot in body["Parameters"].items() if "Default" not in slot} == {"HubName"}
        text = json.dumps(body)
        for name in parameters.LOAD_BALANCER_SETTINGS:
            assert f'"Ref": "{name}"' not in text, name
        # The settings' values, and the conditions they decided, are in the template itself.
        settings = portfolio.network(tier).load_balancer
        assert "Conditions" not in body or not {
            "CreateLoadBalancer",
            "AttachToExistingListener",
            "UseAccountLoadBalancer",
            "MakeListenerRule",
        } & set(body["Conditions"])
        if settings.account_wide:
            # The account's: no load balancer, listener or rule of its own; the route, the
            # group behind the account's load balancer, its alias.
            kinds = {r["Type"] for r in body["Resources"].values()}
            assert not {t for t in kinds if t.startswith("AWS::ElasticLoadBalancingV2::")} - {
                "AWS::ElasticLoadBalancingV2::TargetGroup"
            }
            route = props(body, "HubRoute")
            assert route["ServiceToken"] == {
                "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                f"function:labcatalog-{tier.name}-hub-route"
            }
            groups = props(body, "HubService")["NetworkConfiguration"]["AwsvpcConfiguration"]
            assert groups["SecurityGroups"][1] == names.resolved(
                names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER
            )
            alias = props(body, "HubDnsRecord")["AliasTarget"]
            assert alias["DNSName"] == names.resolved(
                names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER
            )
            assert alias["HostedZoneId"] == names.resolved(
                names.ACCOUNT_LOAD_BALANCER_ZONE_ID_PARAMETER
            )
        elif settings.existing_listener is None:
            assert "HubRoute" not in body["Resources"]
            assert props(body, "HubLoadBalancer")["Scheme"] == settings.scheme
            ingress = props(body, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
            assert {rule["CidrIp"] for rule in ingress} == {settings.allowed_cidr}
            assert "HubFromExistingLoadBalancer" not in body["Resources"]
            assert props(body, "HubListenerRule")["ListenerArn"] == {"Ref": "HttpsListener"}


def test_a_tier_with_an_existing_listener_gets_a_rule_on_it_and_no_load_balancer(example, tmp_path):
    tier = example.tiers[-1].name
    portfolio = with_existing_listener(example, tier)
    body = built_body(portfolio, tier)
    kinds = {r["Type"] for r in body["Resources"].values()}
    assert "AWS::ElasticLoadBalancingV2::LoadBalancer" not in kinds
    assert "AWS::ElasticLoadBalancingV2::Listener" not in kinds
    for logical_id in ("LoadBalancerSecurityGroup", "LoadBalancerToHub", "HubFromLoadBalancer"):
        assert logical_id not in body["Resources"], logical_id
    assert "LoadBalancerDnsName" not in body["Outputs"]
    rule = props(body, "HubListenerRule")
    assert rule["ListenerArn"] == LISTENER
    assert rule["Priority"] == {"Ref": parameters.RULE_PRIORITY}
    ingress = props(body, "HubFromExistingLoadBalancer")
    assert ingress["SourceSecurityGroupId"] == "sg-0123456789abcdef0"
    assert "Condition" not in body["Resources"]["HubFromExistingLoadBalancer"]
    alias = props(body, "HubDnsRecord")["AliasTarget"]
    assert alias["DNSName"] == "hubs-1234.us-east-1.elb.amazonaws.com"
    assert alias["HostedZoneId"] == "Z35SXDOTRQ7X7K"
    # The one load-balancer value a launch gives: the rule's priority (README, why).
    assert set(body["Parameters"]) & {
        *parameters.LOAD_BALANCER_SETTINGS,
        parameters.RULE_PRIORITY,
    } == {parameters.RULE_PRIORITY}
    assert "HubRoute" not in body["Resources"]
    # The other tier keeps the account's load balancer.
    other = built_body(portfolio, example.tiers[0].name)
    assert "HubRoute" in other["Resources"]
    assert_cfn_lint_clean(body, tmp_path, "existing.template.json")


def contract_names() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", CONTRACT.read_text(), re.MULTILINE))


def test_hub_variables_are_named_as_the_image_contract_says(example):
    container = hub_container(hub_body(example))
    names = set(conditional_items(container["Environment"])) | set(
        conditional_items(container["Secrets"])
    )
    assert names <= contract_names(), names - contract_names()
    assert "LABCATALOG_ALLOW_LOCAL_AUTH" not in names  # never set by a template


def test_secrets_come_from_secrets_manager_never_plain_text(example):
    container = hub_container(hub_body(example))
    secrets = conditional_items(container["Secrets"])
    assert secrets["JUPYTERHUB_CRYPT_KEY"][1]["ValueFrom"] == {"Ref": "HubCryptKeySecret"}
    # The identity provider's secret, by the name in the tier's settings.
    secret = names.OIDC_CLIENT_SECRET_SETTING.format(tier="${Tier}")
    assert secrets["LABCATALOG_OIDC_CLIENT_SECRET"][1]["ValueFrom"] == {
        "Fn::Sub": names.resolved(secret)
    }
    assert "LABCATALOG_LDAP_BIND_PASSWORD" not in secrets  # the example signs in with OIDC
    env = conditional_items(container["Environment"])
    assert not [n for n in env if re.search("SECRET|PASSWORD|CRYPT_KEY", n)]


def test_crypt_key_is_generated_under_the_tiers_secret_path(example):
    body = hub_body(example)
    secret = props(body, "HubCryptKeySecret")
    assert secret["Name"] == {"Fn::Sub": "labcatalog/${Tier}/${AWS::StackName}/crypt-key"}
    generated = secret["GenerateSecretString"]
    assert generated["PasswordLength"] == 64
    alphabet = set("0123456789abcdefABCDEF")
    excluded = set(generated["ExcludeCharacters"])
    letters = {chr(c) for c in range(ord("a"), ord("z") + 1)}
    letters |= {c.upper() for c in letters}
    assert letters - excluded <= alphabet, "only hex digits remain"


def test_hub_state_is_on_encrypted_efs_through_an_access_point(example):
    body = hub_body(example)
    fs = props(body, "HubStateFileSystem")
    assert fs["Encrypted"] is True
    (allow,) = fs["FileSystemPolicy"]["Statement"]
    assert allow["Condition"]["Bool"]["aws:SecureTransport"] == "true"
    volume = props(body, "HubTaskDefinition")["Volumes"][0]["EFSVolumeConfiguration"]
    assert volume["TransitEncryption"] == "ENABLED"
    assert volume["AuthorizationConfig"] == {
        "AccessPointId": {"Ref": "HubStateAccessPoint"},
        "IAM": "ENABLED",
    }
    (mount,) = hub_container(body)["MountPoints"]
    assert mount["ContainerPath"] == compute.STATE_DIR
    env = conditional_items(hub_container(body)["Environment"])
    assert env["LABCATALOG_STATE_DIR"][1]["Value"] == compute.STATE_DIR


def test_log_groups_have_retention_and_the_hub_key(example):
    body = hub_body(example)
    groups = resources_of(body, "AWS::Logs::LogGroup")
    assert sorted(groups) == ["HubLogGroup", "ServersLogGroup"]
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["Properties"]["KmsKeyId"] == names.resolved(names.HUB_KEY_ARN_PARAMETER)
        log_groups = names.TIER_LOG_GROUPS.format(tier="${Tier}")
        assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith(log_groups)


def test_outputs_give_the_url_cluster_and_logs(example):
    outputs = hub_body(example)["Outputs"]
    assert outputs["HubUrl"]["Value"] == {"Fn::Sub": "https://${HubDnsRecord}"}
    assert outputs["ClusterName"]["Value"] == {"Ref": "HubCluster"}
    assert {"HubLogGroup", "ServerLogGroup"} <= set(outputs)


def test_the_hubs_names_are_the_ones_the_platform_lets_its_tier_use(portfolio):
    """The product names its cluster and task families; the platform's hub role allows names.

    Fill the product's names in for each tier and check they match the ARNs the platform's hub
    task role allows for that tier, and no other tier's.
    """
    body = hub_body(portfolio)
    platform = platform_body(portfolio)
    cluster = props(body, "HubCluster")["ClusterName"]["Fn::Sub"]
    family = props(body, "ServerTaskDefinition")["Family"]["Fn::Sub"]
    for tier in portfolio.tiers:
        found = statements(
            role_policy(platform, f"{tier.logical_id}HubTaskRole", "spawn-user-servers")
        )
        run = found["RunUserServersInThisTiersClusters"]
        (definitions,) = run["Resource"]
        allowed_cluster = run["Condition"]["ArnLike"]["ecs:cluster"]["Fn::Sub"]
        for other in portfolio.tiers:
            name = cluster.replace("${Tier}", other.name).replace("${AWS::StackName}", "SC-1-pp-x")
            arn = f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:cluster/{name}"
            assert fnmatch.fnmatchcase(arn, allowed_cluster) is (other == tier)
            fam = family.replace("${Tier}", other.name).replace("${AWS::StackName}", "SC-1-pp-x")
            task_definition = arn.replace(f"cluster/{name}", f"task-definition/{fam}:3")
            assert fnmatch.fnmatchcase(task_definition, definitions["Fn::Sub"]) is (other == tier)
        passing = found["PassOnlyThisTiersTaskRoles"]
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        }
        assert sorted(r["Fn::GetAtt"][0] for r in passing["Resource"]) == sorted(
            [f"{tier.logical_id}NotebookRole", f"{tier.logical_id}TaskExecutionRole"]
        )


def test_rules_check_modes_at_launch(example):
    rules = hub_body(example)["Rules"]
    # The identity provider and the certificate are the platform's settings: nothing to check.
    assert set(rules) == {"DefaultSizeIsOffered"}


def test_parameter_groups_follow_the_declared_order(example):
    groups = hub_body(example)["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert [g["Label"]["default"] for g in groups] == [
        "Your hub",
        "Load balancer",
        "Users' notebook servers",
        "Hub image",
        "Operations",
    ]
    console = parameters.declared(example)
    assert [g["Parameters"] for g in groups] == [[p.name for p in g.params] for g in console.groups]


# --- cost defaults (issue 16): each one's reason is in the README ---


def test_cost_defaults(portfolio):
    body = hub_body(portfolio)
    defaults = {name: spec.get("Default") for name, spec in body["Parameters"].items()}
    assert defaults["FargateSpot"] == "true"  # with regular Fargate when Spot has no capacity
    assert defaults["CpuArchitecture"] == "ARM64"
    assert body["Parameters"]["CpuArchitecture"]["AllowedValues"] == ["ARM64", "X86_64"]
    assert defaults["IdleTimeoutMinutes"] == 20
    assert defaults["LogRetentionDays"] == 30
    assert defaults["ContainerInsights"] == "disabled"
    assert defaults["HubSize"] == "512:1024"  # bench/hub.py load: README, the hub's size
    assert defaults["HubHours"] == ""  # always on unless the launch sets hours


def test_hub_and_servers_run_on_the_chosen_architecture(portfolio):
    body = hub_body(portfolio)
    for name in ("HubTaskDefinition", "ServerTaskDefinition"):
        assert props(body, name)["RuntimePlatform"] == {
            "CpuArchitecture": {"Ref": "CpuArchitecture"},
            "OperatingSystemFamily": "LINUX",
        }


def test_container_insights_follows_its_parameter(portfolio):
    settings = props(hub_body(portfolio), "HubCluster")["ClusterSettings"]
    assert settings == [{"Name": "containerInsights", "Value": {"Ref": "ContainerInsights"}}]


def test_the_hub_hours_schedule_scales_the_hub_service_between_zero_and_one(portfolio):
    body = hub_body(portfolio)
    assert body["Conditions"]["HubRunsOnSchedule"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HubHours"}, ""]}]
    }
    target = props(body, "HubScheduleTarget")
    assert target["ResourceId"] == {
        "Fn::Join": [
            "/",
            ["service", {"Ref": "HubCluster"}, {"Fn::GetAtt": ["HubService", "Name"]}],
        ]
    }
    assert (target["ServiceNamespace"], target["ScalableDimension"]) == (
        "ecs",
        "ecs:service:DesiredCount",
    )
    actions = {a["ScheduledActionName"]: a for a in target["ScheduledActions"]}
    hour = {i: {"Fn::Select": [i, {"Fn::Split": ["-", {"Ref": "HubHours"}]}]} for i in (0, 1)}
    for name, index, count in (("hub-starts", 0, 1), ("hub-stops", 1, 0)):
        action = actions[name]
        assert action["Schedule"] == {"Fn::Join": ["", ["cron(0 ", hour[index], " ? * MON-FRI *)"]]}
        assert action["Timezone"] == {"Ref": "HubTimeZone"}
        assert action["ScalableTargetAction"] == {"MinCapacity": count, "MaxCapacity": count}
    pattern = re.compile(body["Parameters"]["HubHours"]["AllowedPattern"])
    assert all(pattern.fullmatch(v) for v in ("", "7-20", "0-23", "9-17"))
    assert not any(pattern.fullmatch(v) for v in ("07-20", "7-24", "7", "7:00-20:00"))
    environment = {e["Name"]: e["Value"] for e in hub_container(body)["Environment"] if "Name" in e}
    assert environment["LABCATALOG_HUB_HOURS"] == {"Ref": "HubHours"}
    assert environment["LABCATALOG_HUB_TIME_ZONE"] == {"Ref": "HubTimeZone"}
