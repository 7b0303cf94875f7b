"""Deploy the platform and then the shared hub to a moto server; read the result back.

What this proves: the template parses, its conditions, references and `{{resolve:ssm:...}}`
references resolve against what the platform stack really publishes, both load balancer modes
and both server modes reach CREATE_COMPLETE, and the resources moto supports exist with the
tier's roles, the security group chain, log retention and the DNS record.
What it does not prove: that AWS accepts the template, or anything about the resource types
moto skips (EXPECTED_SKIPPED; asserted as data in test_shared_hub_template.py instead). moto
also keeps a security group's default allow-all egress even when the template replaces it, and
drops a service's deployment settings, a log group's KMS key and the load balancer's canonical
hosted zone id; all are asserted on the template.
"""

from __future__ import annotations

import functools
import logging
import re

import pytest

from generator.cfn import names
from generator.engine import build as builder
from generator.model.config import ExistingListener, LoadBalancer, Portfolio
from products.hub_image.content import image_tag
from tests.conftest import deploy_platform, with_platform_settings
from tests.support.moto_server import deploy_stack

# Resource types moto 5.2 cannot create from CloudFormation (tests/support/moto_cfn.py adds the
# rest).
# A new type in the template that moto skips fails the test until it is listed here.
EXPECTED_SKIPPED = {"AWS::SecretsManager::Secret"}
SKIPPED = re.compile(r"No Moto CloudFormation support for (\S+)")


def skipped_types(caplog) -> set[str]:
    return {
        match.group(1)
        for record in caplog.records
        if (match := SKIPPED.search(record.getMessage()))
    }


@pytest.fixture
def network(aws):
    """A VPC with two public and two private subnets, a hosted zone and a certificate."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("abab")
    ]
    zone = aws.client("route53").create_hosted_zone(
        Name="data.example.com", CallerReference="labcatalog-test"
    )["HostedZone"]["Id"]
    certificate = aws.client("acm").request_certificate(DomainName="*.pii.data.example.com")
    return {
        "VpcId": vpc,
        "LoadBalancerSubnets": subnets[:2],
        "TaskSubnets": subnets[2:],
        "HostedZoneId": zone.split("/")[-1],
        "CertificateArn": certificate["CertificateArn"],
    }


# What the platform's image build publishes as the current release (products/hub_image).
PUBLISHED_TAG = "src-0123456789abcdef"


def built(portfolio: Portfolio, tier: str) -> str:
    """The shared-hub template of `tier` as the build makes it: its tier and the tier's
    load-balancer settings bound."""
    key = builder.product_stack("shared-hub", tier)
    (stack,) = [s for s in builder.stacks(portfolio) if s.key == key]
    return builder.render(builder.template_body(stack.build(portfolio), stack))


def with_load_balancer(portfolio: Portfolio, load_balancer: LoadBalancer) -> Portfolio:
    """`portfolio` whose platform network's load-balancer settings are `load_balancer`."""
    platform = portfolio.platform
    network = platform.network.model_copy(update={"load_balancer": load_balancer})
    return portfolio.model_copy(
        update={"platform": platform.model_copy(update={"network": network})}
    )


def deploy(
    aws,
    portfolio,
    network,
    caplog,
    name: str,
    parameters: dict,
    load_balancer: LoadBalancer | None = None,
) -> dict[str, str]:
    """The platform with `network` (and `load_balancer`, when given) in its settings (as the
    platform team writes them in portfolio.yaml), then the shared hub of the tier
    `parameters["Tier"]` (as built for it) launched with the other `parameters`: the
    console's only."""
    portfolio = with_platform_settings(portfolio, network)
    if load_balancer is not None:
        portfolio = with_load_balancer(portfolio, load_balancer)
    parameters = dict(parameters)
    tier = parameters.pop("Tier")
    # The tier's homes get their mount targets in the hub's VPC (products/platform/homes.py).
    homes = {"HomesVpcId": network["VpcId"], "HomesSubnetIds": network["TaskSubnets"]}
    deploy_platform(aws, portfolio, PUBLISHED_TAG, homes)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="moto")
    outputs = deploy_stack(aws, name, built(portfolio, tier), parameters)
    assert skipped_types(caplog) == EXPECTED_SKIPPED
    return outputs


def stack_groups(ec2, network: dict, stack: str) -> dict[str, dict]:
    """The security groups of `stack` in the network's VPC, by logical id."""
    return {
        g["GroupName"].split("-")[1]: g
        for g in ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [network["VpcId"]]}]
        )["SecurityGroups"]
        if g["GroupName"].startswith(f"{stack}-")
    }


def group_peers(groups: dict[str, dict], group: str, direction: str, port: int) -> set[str]:
    """The groups `group` lets in (or out to) on `port`."""
    return {
        pair["GroupId"]
        for rule in groups[group][direction]
        if rule.get("FromPort") == port
        for pair in rule["UserIdGroupPairs"]
    }


def task_definition(aws, family: str) -> dict:
    return aws.client("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]


def test_account_load_balancer_and_fargate_servers(aws, example, network, caplog):
    """The example's default: the hub's host rule on the account's load balancer, made by the
    tier's route function (the platform's, run as moto stores it: tests/support/moto_cfn.py)."""
    tier = example.tiers[0].name
    outputs = deploy(aws, example, network, caplog, "hub1", {"Tier": tier, "HubName": "team1"})
    iam, ecs, ec2 = aws.client("iam"), aws.client("ecs"), aws.client("ec2")

    assert outputs["HubUrl"] == f"https://team1.{tier}.data.example.com"
    assert outputs["ClusterName"] == f"labcatalog-{tier}_hub1"
    (cluster,) = ecs.describe_clusters(clusters=[outputs["ClusterName"]])["clusters"]
    assert cluster["status"] == "ACTIVE"

    role = iam.get_role(RoleName=f"labcatalog-{tier}-hub")["Role"]["Arn"]
    notebook = iam.get_role(RoleName=f"labcatalog-{tier}-notebook")["Role"]["Arn"]
    execution = iam.get_role(RoleName=f"labcatalog-{tier}-task-execution")["Role"]["Arn"]
    hub = task_definition(aws, f"labcatalog-{tier}_hub_hub1")
    assert (hub["taskRoleArn"], hub["executionRoleArn"]) == (role, execution)
    assert hub["networkMode"] == "awsvpc" and hub["cpu"] == "512"  # HubSize's default
    (container,) = hub["containerDefinitions"]
    repository = aws.client("ecr").describe_repositories()["repositories"][0]["repositoryUri"]
    # The image this product version was built with, not the latest build in SSM.
    assert container["image"] == f"{repository}:{image_tag()}", "the version's own image"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["LABCATALOG_TIER"] == tier
    # The tier's settings, as the platform published them from portfolio.yaml.
    assert env["LABCATALOG_PUBLIC_URL"] == outputs["HubUrl"]
    assert env["LABCATALOG_TIER_GROUP"] == example.tiers[0].identity_group
    assert env["LABCATALOG_OIDC_ISSUER"] == example.platform.identity.oidc.issuer_url
    assert env["LABCATALOG_ECS_SUBNETS"] == ",".join(network["TaskSubnets"])
    (secret,) = [s for s in container["secrets"] if s["name"] == "LABCATALOG_OIDC_CLIENT_SECRET"]
    assert secret["valueFrom"] == f"labcatalog/{tier}/personal-hub/oidc-client-secret"
    assert env["LABCATALOG_ECS_CLUSTER"] == cluster["clusterArn"]
    servers = task_definition(aws, f"labcatalog-{tier}_user_hub1")
    assert env["LABCATALOG_ECS_TASK_DEFINITION"] == servers["taskDefinitionArn"]
    assert (servers["taskRoleArn"], servers["executionRoleArn"]) == (notebook, execution)
    bucket = aws.client("ssm").get_parameter(Name=names.NOTEBOOK_BUCKET_PARAMETER)
    assert env["LABCATALOG_NOTEBOOK_BUCKET"] == bucket["Parameter"]["Value"]

    (service,) = ecs.describe_services(
        cluster=outputs["ClusterName"], services=[outputs["HubServiceName"]]
    )["services"]
    assert service["desiredCount"] == 1
    assert service["launchType"] == "FARGATE"
    vpc = service["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["assignPublicIp"] == "DISABLED"
    assert vpc["subnets"] == network["TaskSubnets"][:2]

    groups = stack_groups(ec2, network, "hub1")
    peers = functools.partial(group_peers, groups)
    ids = {name: g["GroupId"] for name, g in groups.items()}
    ssm = aws.client("ssm")

    def platform(name: str) -> str:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]

    # Reached through the platform's group of hubs behind the account's load balancer only.
    behind = platform(names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER)
    assert vpc["securityGroups"] == [ids["HubSecurityGroup"], behind]
    assert peers("HubSecurityGroup", "IpPermissions", 8000) == set()
    assert "LoadBalancerSecurityGroup" not in ids
    assert peers("HubSecurityGroup", "IpPermissions", 8081) == {ids["ServerSecurityGroup"]}
    assert peers("ServerSecurityGroup", "IpPermissions", 8888) == {ids["HubSecurityGroup"]}
    assert peers("FileSystemSecurityGroup", "IpPermissions", 2049) == {ids["HubSecurityGroup"]}
    assert peers("HubSecurityGroup", "IpPermissionsEgress", 8888) == {ids["ServerSecurityGroup"]}
    assert peers("HubSecurityGroup", "IpPermissionsEgress", 2049) == {
        ids["FileSystemSecurityGroup"]
    }

    (log_group,) = aws.client("logs").describe_log_groups(
        logGroupNamePrefix=outputs["HubLogGroup"]
    )["logGroups"]
    assert log_group["retentionInDays"] == 30  # moto drops KmsKeyId: asserted on the template

    records = aws.client("route53").list_resource_record_sets(HostedZoneId=network["HostedZoneId"])
    (alias,) = [r for r in records["ResourceRecordSets"] if r["Type"] == "A"]
    assert alias["Name"].rstrip(".") == f"team1.{tier}.data.example.com"
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == platform(
        names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER
    )
    assert "LoadBalancerDnsName" not in outputs

    # The route: one rule on the account's listener for the hub's name, to its target group,
    # tagged with the route's tier; gone with the hub.
    elb = aws.client("elbv2")
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1, "the account's only"
    listener = platform(names.ACCOUNT_LISTENER_ARN_PARAMETER)
    (rule,) = [r for r in elb.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]]
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [f"team1.{tier}.data.example.com"]
    (target,) = service["loadBalancers"]
    assert rule["Actions"][0]["TargetGroupArn"] == target["targetGroupArn"]
    (described,) = elb.describe_tags(ResourceArns=[rule["RuleArn"]])["TagDescriptions"]
    assert {t["Key"]: t["Value"] for t in described["Tags"]}[names.ROUTE_TIER_TAG] == tier
    aws.client("cloudformation").delete_stack(StackName="hub1")
    assert [
        r for r in elb.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]
    ] == []


def test_a_load_balancer_per_hub(aws, example, network, caplog):
    tier = example.tiers[0].name
    settings = LoadBalancer(per_hub=True)
    outputs = deploy(
        aws, example, network, caplog, "hub1", {"Tier": tier, "HubName": "team1"}, settings
    )
    ec2, elb = aws.client("ec2"), aws.client("elbv2")
    groups = stack_groups(ec2, network, "hub1")
    ids = {name: g["GroupId"] for name, g in groups.items()}
    peers = functools.partial(group_peers, groups)

    assert peers("HubSecurityGroup", "IpPermissions", 8000) == {ids["LoadBalancerSecurityGroup"]}
    assert peers("LoadBalancerSecurityGroup", "IpPermissionsEgress", 8000) == {
        ids["HubSecurityGroup"]
    }
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1, "the hub's own only"
    records = aws.client("route53").list_resource_record_sets(HostedZoneId=network["HostedZoneId"])
    (alias,) = [r for r in records["ResourceRecordSets"] if r["Type"] == "A"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == outputs["LoadBalancerDnsName"]


def test_existing_listener_and_a_pinned_image(aws, example, network, caplog):
    """Attach to a load balancer that someone else owns; users' servers run in the hub task."""
    elb, ec2 = aws.client("elbv2"), aws.client("ec2")
    shared_group = ec2.create_security_group(
        GroupName="shared-alb", Description="shared", VpcId=network["VpcId"]
    )["GroupId"]
    balancer = elb.create_load_balancer(
        Name="shared", Subnets=network["LoadBalancerSubnets"], SecurityGroups=[shared_group]
    )["LoadBalancers"][0]
    listener = elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": network["CertificateArn"]}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]
    tier = example.tiers[-1].name
    # The listener is the tier's setting in portfolio.yaml; the rule's priority is the one
    # load-balancer value a launch gives.
    settings = LoadBalancer(
        existing_listener=ExistingListener(
            arn=listener["ListenerArn"],
            security_group=shared_group,
            dns_name=balancer["DNSName"],
            hosted_zone_id=balancer["CanonicalHostedZoneId"],
        )
    )
    parameters = {
        "Tier": tier,
        "HubName": "team2",
        "ExistingListenerRulePriority": 7,
        "HubImageRepository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/own/hub",
        "HubImageTag": "pinned-2",
    }
    outputs = deploy(aws, example, network, caplog, "hub2", parameters, settings)

    assert "LoadBalancerDnsName" not in outputs
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1, "no load balancer of its own"
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    (rule,) = [r for r in rules if r["Priority"] == "7"]
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [f"team2.{tier}.data.example.com"]

    hub = task_definition(aws, f"labcatalog-{tier}_hub_hub2")
    image = hub["containerDefinitions"][0]["image"]
    assert image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/own/hub:pinned-2", "as given"
    notebook = aws.client("iam").get_role(RoleName=f"labcatalog-{tier}-notebook")["Role"]["Arn"]
    assert hub["taskRoleArn"] != notebook, "users' code runs in its own tasks, never the hub's"
    hub_group = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["hub2-HubSecurityGroup-*"]}]
    )["SecurityGroups"][0]
    sources = {
        pair["GroupId"]
        for rule in hub_group["IpPermissions"]
        if rule.get("FromPort") == 8000
        for pair in rule["UserIdGroupPairs"]
    }
    assert sources == {shared_group}


def test_every_tier_of_every_portfolio_deploys(aws, portfolio, network, caplog):
    homes = {"HomesVpcId": network["VpcId"], "HomesSubnetIds": network["TaskSubnets"]}
    portfolio = with_platform_settings(portfolio, network)
    deploy_platform(aws, portfolio, PUBLISHED_TAG, homes)
    for n, tier in enumerate(portfolio.tiers):
        caplog.clear()
        caplog.set_level(logging.WARNING, logger="moto")
        deploy_stack(aws, f"hub{n}", built(portfolio, tier.name), {"HubName": "team"})
        assert skipped_types(caplog) == EXPECTED_SKIPPED
        servers = task_definition(aws, f"labcatalog-{tier.name}_user_hub{n}")
        assert servers["taskRoleArn"].endswith(f":role/labcatalog-{tier.name}-notebook")


def test_hub_hours_deploy(aws, example, network, caplog):
    """With hub hours the template still deploys; moto has no CloudFormation support for
    Application Auto Scaling, so the schedule itself is checked on the template
    (tests/test_shared_hub_template.py) and by cfn-lint, not here."""
    tier = example.tiers[0].name
    portfolio = with_platform_settings(example, network)
    homes = {"HomesVpcId": network["VpcId"], "HomesSubnetIds": network["TaskSubnets"]}
    deploy_platform(aws, portfolio, PUBLISHED_TAG, homes)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="moto")
    parameters = {"HubName": "team1", "HubHours": "7-20"}
    outputs = deploy_stack(aws, "hub1", built(portfolio, tier), parameters)
    assert skipped_types(caplog) == {
        *EXPECTED_SKIPPED,
        "AWS::ApplicationAutoScaling::ScalableTarget",
    }
    container = task_definition(aws, f"labcatalog-{tier}_hub_hub1")["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert (env["LABCATALOG_HUB_HOURS"], env["LABCATALOG_HUB_TIME_ZONE"]) == ("7-20", "UTC")
    assert outputs["ClusterName"] == f"labcatalog-{tier}_hub1"
