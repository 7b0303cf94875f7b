"""The account's load balancer, shared by every tier's shared hubs, and each tier's route function.

One application load balancer costs one load-balancer hour for the account instead of one per hub
(README, cost). Each hub adds a rule for its host name to the account's HTTPS listener. IAM cannot
limit the host name of a rule a role creates, so no launch role may create rules on this listener:
each tier has a route function (`names.HUB_ROUTE_FUNCTION`), which only that tier's launch role
may invoke and which a hub's template calls as a custom resource (`Custom::HubRoute`). The
function makes the rule for the hub's name followed by its own tier's host-name suffix, forwarding
only to a target group of its own tier, and tags the rule with `names.ROUTE_TIER_TAG` (not the tier
tag, which would let launch roles change it). So no tier can take another tier's host names.

A hub task joins the platform's group of hubs behind the load balancer (`HubsBehindLoadBalancer`):
the load balancer's group may reach that group on the hub port and nothing else, and members of
the group cannot reach each other through it. No hub stack changes a group the platform owns.
"""

from __future__ import annotations

import awacs.elasticloadbalancing as elb
import awacs.logs as logs
from awacs.aws import Allow, Condition, Null, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, Output, Ref, Sub, Template
from troposphere.awslambda import Code, Environment, Function, LoggingConfig
from troposphere.ec2 import SecurityGroup
from troposphere.elasticloadbalancingv2 import (
    LoadBalancer,
)
from troposphere.iam import Role
from troposphere.logs import LogGroup

from generator.cfn import names, policies
from generator.cfn.checks import skip_checks
from generator.cfn.network import egress, ingress, no_egress, tcp_in
from generator.cfn.product import PlatformContext, SsmValue, TierContext
from generator.cfn.tags import stack_tags
from products.shared_hub import network, route_code
from products.shared_hub.network import HTTP_PORT, HTTPS_PORT, HUB_PORT

LISTENER = "AccountHubListener"  # its Ref (the listener's ARN) is handed to each tier
ROUTE_ROLE = "HubRouteRole"  # its Ref (the role's name) is handed to each tier
LAMBDA = "lambda.amazonaws.com"
ROUTE_LOG_DAYS = 365  # a record of which hub got which host name, kept a year
ROUTE_TIMEOUT_SECONDS = 120


def _tags(**extra):
    return stack_tags("platform", **extra)


def add_account_load_balancer(t: Template, platform: PlatformContext) -> list[SsmValue]:
    """The account's load balancer, its two listeners and groups, and the route functions' role;
    returns the SSM parameters through which hubs find it."""
    portfolio = platform.portfolio
    network_settings = portfolio.platform.network
    settings = network_settings.load_balancer
    balancer_group = t.add_resource(
        SecurityGroup(
            "AccountLoadBalancerSecurityGroup",
            GroupDescription="Hub load balancer of the account: HTTPS from the allowed CIDR",
            VpcId=network_settings.vpc_id,
            SecurityGroupIngress=[
                tcp_in(HTTPS_PORT, "clients, HTTPS", cidr=settings.allowed_cidr),
                tcp_in(HTTP_PORT, "clients, redirected to HTTPS", cidr=settings.allowed_cidr),
            ],
            SecurityGroupEgress=[no_egress()],
            Tags=_tags(name="labcatalog-hub-load-balancer"),
        )
    )
    hubs = t.add_resource(
        SecurityGroup(
            "HubsBehindLoadBalancerSecurityGroup",
            GroupDescription="Shared hubs behind the account load balancer: from it only",
            VpcId=network_settings.vpc_id,
            SecurityGroupEgress=[no_egress()],
            Tags=_tags(name="labcatalog-hubs-behind-load-balancer"),
        )
    )
    t.add_resource(
        ingress(
            "HubsFromAccountLoadBalancer", hubs, HUB_PORT, "the load balancer", group=balancer_group
        )
    )
    t.add_resource(
        egress("AccountLoadBalancerToHubs", balancer_group, HUB_PORT, "the hubs", group=hubs)
    )
    balancer = t.add_resource(
        LoadBalancer(
            "AccountLoadBalancer",
            # The load balancer checks that it may write its logs when it is created.
            DependsOn=["LoadBalancerLogBucketPolicy"],
            Type="application",
            Scheme=settings.scheme,
            Subnets=network_settings.load_balancer_subnets[:2],
            SecurityGroups=[GetAtt(balancer_group, "GroupId")],
            LoadBalancerAttributes=network.balancer_attributes(
                str(settings.deletion_protection).lower(),
                platform.load_balancer_logs,
                f"{names.LOAD_BALANCER_LOG_PREFIX}/{names.ACCOUNT_LOAD_BALANCER_LOG_PREFIX}",
            ),
            Tags=_tags(name="labcatalog-hubs"),
        )
    )
    # Only hubs' host names are forwarded (by their tiers' route functions' rules).
    listener = t.add_resource(
        network.https_listener(
            LISTENER, balancer, portfolio.platform.dns.certificate_arn, Tags=_tags()
        )
    )
    t.add_resource(
        network.http_redirect_listener("AccountHubRedirectListener", balancer, Tags=_tags())
    )
    t.add_resource(
        Role(
            ROUTE_ROLE,
            RoleName=names.HUB_ROUTE_ROLE,
            Description="The tiers' route functions: host rules on the account's hub listener",
            AssumeRolePolicyDocument=policies.service_trust_policy(LAMBDA),
            Policies=[policies.inline("route-hubs", route_policy(Ref(listener)))],
            Tags=_tags(),
        )
    )
    published = {
        "AccountHubListenerArn": (names.ACCOUNT_LISTENER_ARN_PARAMETER, Ref(listener)),
        "AccountLoadBalancerDnsName": (
            names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER,
            GetAtt(balancer, "DNSName"),
        ),
        "AccountLoadBalancerZoneId": (
            names.ACCOUNT_LOAD_BALANCER_ZONE_ID_PARAMETER,
            GetAtt(balancer, "CanonicalHostedZoneID"),
        ),
        "HubsBehindLoadBalancerGroup": (
            names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER,
            GetAtt(hubs, "GroupId"),
        ),
    }
    for output, (_, value) in published.items():
        t.add_output(Output(output, Value=value))
    return [
        SsmValue(f"{output}Parameter", name, value, f"labcatalog platform: {output}")
        for output, (name, value) in published.items()
    ]


def route_policy(listener_arn) -> PolicyDocument:
    """What the route functions do: rules on the account's listener, each tagged with the tier of
    the function that made it; reads; their own logs."""
    rules = policies.regional_arn("elasticloadbalancing", "listener-rule/app/*")
    routed = Condition(Null(f"aws:ResourceTag/{names.ROUTE_TIER_TAG}", "false"))
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="RulesOnTheAccountsHubListener",
                Effect=Allow,
                Action=[elb.CreateRule],
                Resource=[listener_arn],
            ),
            Statement(
                Sid="TagRulesAsTheyAreMade",
                Effect=Allow,
                Action=[elb.AddTags],
                Resource=[rules],
                Condition=Condition(
                    StringEquals("elasticloadbalancing:CreateAction", "CreateRule")
                ),
            ),
            Statement(
                Sid="ChangeRoutedRulesOnly",
                Effect=Allow,
                # The function checks that the rule's tier is its own before it changes one.
                Action=[elb.ModifyRule, elb.DeleteRule],
                Resource=[rules],
                Condition=routed,
            ),
            Statement(
                Sid="ReadLoadBalancing",
                Effect=Allow,
                # Elastic Load Balancing's Describe calls accept no resource-level permissions.
                Action=[elb.DescribeRules, elb.DescribeTags, elb.DescribeTargetGroups],
                Resource=["*"],
            ),
            Statement(
                Sid="WriteOwnLogs",
                Effect=Allow,
                Action=[logs.CreateLogStream, logs.PutLogEvents],
                Resource=[
                    policies.regional_arn(
                        "logs",
                        "log-group:" + names.HUB_ROUTE_LOG_GROUP.format(tier="*") + ":log-stream:*",
                    )
                ],
            ),
        ],
    )


def add_route_function(t: Template, tier: TierContext) -> Function:
    """`tier`'s route function (see the module docstring), in the tier's template, which gets
    the listener and the role from the root (`ROUTE_ROLE`, `LISTENER` as parameters)."""
    tid = tier.logical_id
    dns = tier.platform.portfolio.platform.dns
    log_group = t.add_resource(
        LogGroup(
            f"{tid}HubRouteLogs",
            LogGroupName=names.HUB_ROUTE_LOG_GROUP.format(tier=tier.name),
            RetentionInDays=ROUTE_LOG_DAYS,
            KmsKeyId=tier.platform.hub_key_arn,
        )
    )
    function = Function(
        f"{tid}HubRouteFunction",
        FunctionName=names.HUB_ROUTE_FUNCTION.format(tier=tier.name),
        Description=f"Routes tier {tier.name}'s shared hubs' host names on the account's listener",
        Runtime="python3.12",
        Architectures=["arm64"],
        Handler="index.handler",
        MemorySize=128,
        Timeout=ROUTE_TIMEOUT_SECONDS,
        Role=Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/${{{ROUTE_ROLE}}}"),
        Code=Code(ZipFile=route_code.inline_source()),
        Environment=Environment(
            Variables={
                "TIER": tier.name,
                "LISTENER_ARN": Ref(LISTENER),
                "HOST_NAME_SUFFIX": dns.host_name_suffix(tier.name),
            }
        ),
        LoggingConfig=LoggingConfig(LogGroup=Ref(log_group)),
        Tags=_tags(**{names.TIER_TAG: tier.name}),
    )
    return t.add_resource(
        skip_checks(
            function, "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_272"
        )
    )
