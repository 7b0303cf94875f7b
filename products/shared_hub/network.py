"""The shared hub's network: the security group chain and the HTTPS load balancer.

The chain allows exactly: clients -> load balancer 443 (and 80, which only redirects);
load balancer -> hub 8000; hub -> users' servers 8888; users' servers -> hub API 8081;
hub -> EFS 2049; users' servers -> the tier's home file system 2049. Egress to 0.0.0.0/0 is
HTTPS only (AWS APIs, the identity provider, package indexes) plus LDAP ports when LDAP is
chosen. Rules that name another group are separate resources, so no two groups depend on each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from troposphere import GetAtt, If, Ref, Sub, Template
from troposphere.cloudformation import AWSCustomObject
from troposphere.ec2 import SecurityGroup
from troposphere.elasticloadbalancingv2 import (
    Action,
    Certificate,
    Condition,
    FixedResponseConfig,
    HostHeaderConfig,
    Listener,
    ListenerRule,
    ListenerRuleAction,
    LoadBalancer,
    LoadBalancerAttributes,
    Matcher,
    RedirectConfig,
    TargetGroup,
    TargetGroupAttribute,
)

from generator.cfn import names
from generator.cfn.network import ANYWHERE, egress, ingress, no_egress, tcp_in, tcp_out
from products.shared_hub import conditions, stack

HUB_PORT = 8000  # JupyterHub's proxy: what users reach through the load balancer
HUB_API_PORT = 8081  # the hub API that users' servers report to
SERVER_PORT = 8888  # a user's notebook server
NFS_PORT = 2049
HTTPS_PORT = 443
HTTP_PORT = 80
LDAP_PORTS = (389, 636)
# A modern TLS policy: TLS 1.3 and 1.2 only, forward-secret ciphers.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Jupyter keeps a websocket open per kernel; the default 60 s would cut quiet ones.
IDLE_TIMEOUT_SECONDS = 300
LOAD_BALANCER_LOG_BUCKET = stack.platform_value(names.LOAD_BALANCER_LOG_BUCKET_PARAMETER)


@dataclass(frozen=True)
class SecurityGroups:
    balancer: SecurityGroup  # only with a new load balancer
    hub: SecurityGroup
    servers: SecurityGroup  # only with Fargate servers
    state: SecurityGroup  # the hub state's EFS mount targets


class HubRoute(AWSCustomObject):
    """The host rule on the account's listener, made by the tier's route function
    (products/shared_hub/account_balancer.py)."""

    resource_type = "Custom::HubRoute"
    props: ClassVar[dict] = {
        "ServiceToken": (str, True),
        "HubName": (str, True),
        "TargetGroupArn": (str, True),
    }


@dataclass(frozen=True)
class LoadBalancing:
    target: TargetGroup
    balancer: LoadBalancer  # only with a new load balancer
    rule: ListenerRule  # only with a new load balancer or an existing listener
    route: HubRoute  # only with the account's load balancer


def balancer_attributes(deletion_protection, log_bucket, log_prefix) -> list:
    """A hub load balancer's attributes: deletion protection as set, invalid headers dropped,
    Jupyter's websockets kept open, access logs under `log_prefix` of `log_bucket`."""
    return [
        LoadBalancerAttributes(Key=key, Value=value)
        for key, value in [
            ("deletion_protection.enabled", deletion_protection),
            ("routing.http.drop_invalid_header_fields.enabled", "true"),
            ("idle_timeout.timeout_seconds", str(IDLE_TIMEOUT_SECONDS)),
            ("access_logs.s3.enabled", "true"),
            ("access_logs.s3.bucket", log_bucket),
            ("access_logs.s3.prefix", log_prefix),
        ]
    ]


def https_listener(title: str, balancer, certificate_arn, **extra) -> Listener:
    """HTTPS with a modern TLS policy; anything no host rule forwards gets 404."""
    return Listener(
        title,
        LoadBalancerArn=Ref(balancer),
        Port=HTTPS_PORT,
        Protocol="HTTPS",
        SslPolicy=TLS_POLICY,
        Certificates=[Certificate(CertificateArn=certificate_arn)],
        DefaultActions=[
            Action(
                Type="fixed-response",
                FixedResponseConfig=FixedResponseConfig(
                    StatusCode="404", ContentType="text/plain", MessageBody="Not found"
                ),
            )
        ],
        **extra,
    )


def http_redirect_listener(title: str, balancer, **extra) -> Listener:
    """HTTP, redirected to HTTPS."""
    return Listener(
        title,
        LoadBalancerArn=Ref(balancer),
        Port=HTTP_PORT,
        Protocol="HTTP",
        DefaultActions=[
            Action(
                Type="redirect",
                RedirectConfig=RedirectConfig(
                    Protocol="HTTPS", Port=str(HTTPS_PORT), StatusCode="HTTP_301"
                ),
            )
        ],
        **extra,
    )


def add_security_groups(t: Template, ldap: bool = False) -> SecurityGroups:
    """The groups of the load balancer (when created), the hub, users' servers and EFS."""
    clients = Ref("AllowedCidr")
    balancer = t.add_resource(
        SecurityGroup(
            "LoadBalancerSecurityGroup",
            Condition=conditions.NEW_LOAD_BALANCER,
            GroupDescription="Hub load balancer: HTTPS from the allowed CIDR",
            VpcId=stack.vpc(),
            SecurityGroupIngress=[
                tcp_in(HTTPS_PORT, "clients, HTTPS", cidr=clients),
                tcp_in(HTTP_PORT, "clients, redirected to HTTPS", cidr=clients),
            ],
            SecurityGroupEgress=[no_egress()],
            Tags=stack.tags("load-balancer"),
        )
    )
    hub = t.add_resource(
        SecurityGroup(
            "HubSecurityGroup",
            GroupDescription="JupyterHub: from the load balancer and the user servers only",
            VpcId=stack.vpc(),
            SecurityGroupEgress=[
                tcp_out(HTTPS_PORT, "AWS APIs and the identity provider", cidr=ANYWHERE)
            ],
            Tags=stack.tags("hub"),
        )
    )
    servers = t.add_resource(
        SecurityGroup(
            "ServerSecurityGroup",
            GroupDescription="User notebook servers: from the hub only",
            VpcId=stack.vpc(),
            SecurityGroupIngress=[tcp_in(SERVER_PORT, "the hub's proxy", group=hub)],
            SecurityGroupEgress=[
                tcp_out(
                    HTTPS_PORT,
                    "AWS APIs (S3 data and notebooks) and package indexes",
                    cidr=ANYWHERE,
                ),
                tcp_out(HUB_API_PORT, "report to the hub API", group=hub),
            ],
            Tags=stack.tags("servers"),
        )
    )
    state = t.add_resource(
        SecurityGroup(
            "FileSystemSecurityGroup",
            GroupDescription="Hub state on EFS: NFS from the hub only",
            VpcId=stack.vpc(),
            SecurityGroupIngress=[tcp_in(NFS_PORT, "the hub", group=hub)],
            SecurityGroupEgress=[no_egress()],
            Tags=stack.tags("hub-state"),
        )
    )
    t.add_resource(
        ingress(
            "HubFromLoadBalancer",
            hub,
            HUB_PORT,
            "the load balancer",
            group=balancer,
            Condition=conditions.NEW_LOAD_BALANCER,
        )
    )
    t.add_resource(
        ingress(
            "HubFromExistingLoadBalancer",
            hub,
            HUB_PORT,
            "the shared load balancer",
            group=Ref("ExistingLoadBalancerSecurityGroup"),
            Condition=conditions.EXISTING_LISTENER,
            # cfn-lint checks the Ref against the parameter's default, which is empty because
            # the parameter is unused with a new load balancer; the build binds it to the
            # tier's existing listener's sg-... id (validated) whenever this exists.
            Metadata={"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}},
        )
    )
    t.add_resource(
        egress(
            "LoadBalancerToHub",
            balancer,
            HUB_PORT,
            "the hub",
            group=hub,
            Condition=conditions.NEW_LOAD_BALANCER,
        )
    )
    t.add_resource(
        ingress(
            "HubApiFromServers",
            hub,
            HUB_API_PORT,
            "users' servers report to the hub API",
            group=servers,
        )
    )
    t.add_resource(
        egress(
            "HubToServers",
            hub,
            SERVER_PORT,
            "the proxy to users' servers",
            group=servers,
        )
    )
    for port in LDAP_PORTS if ldap else ():
        t.add_resource(
            egress(
                f"HubToLdap{port}",
                hub,
                port,
                "the LDAP directory (its address is not known here)",
                cidr=ANYWHERE,
            )
        )
    t.add_resource(egress("HubToFileSystem", hub, NFS_PORT, "hub state on EFS", group=state))
    # Users' homes: the tier's file system, made by the platform with its mount targets'
    # group; this stack adds (and removes with itself) the rule that lets its servers in.
    homes = stack.tier_value(names.HOMES_MOUNT_TARGET_SECURITY_GROUP_PARAMETER)
    t.add_resource(
        egress("ServersToHomes", servers, NFS_PORT, "users' homes on the tier's EFS", group=homes)
    )
    t.add_resource(
        ingress("HomesFromServers", homes, NFS_PORT, "this hub's users' servers", group=servers)
    )
    return SecurityGroups(balancer=balancer, hub=hub, servers=servers, state=state)


def add_load_balancing(t: Template, balancer_group: SecurityGroup) -> LoadBalancing:
    """The target group, the load balancer and its listeners (new mode), and the host rule."""
    target = t.add_resource(
        TargetGroup(
            "HubTargetGroup",
            TargetType="ip",
            Protocol="HTTP",
            Port=HUB_PORT,
            VpcId=stack.vpc(),
            HealthCheckPath="/hub/health",
            HealthCheckProtocol="HTTP",
            Matcher=Matcher(HttpCode="200"),
            TargetGroupAttributes=[
                # One hub task: no need to wait five minutes for connections to drain.
                TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
            ],
            Tags=stack.tags("hub"),
        )
    )
    balancer = t.add_resource(
        LoadBalancer(
            "HubLoadBalancer",
            Condition=conditions.NEW_LOAD_BALANCER,
            Type="application",
            Scheme=Ref("LoadBalancerScheme"),
            Subnets=stack.load_balancer_subnets(),
            SecurityGroups=[GetAtt(balancer_group, "GroupId")],
            LoadBalancerAttributes=balancer_attributes(
                Ref("DeletionProtection"),
                LOAD_BALANCER_LOG_BUCKET,
                Sub(f"{names.LOAD_BALANCER_LOG_PREFIX}/${{AWS::StackName}}"),
            ),
            Tags=stack.tags("hub"),
        )
    )
    https = t.add_resource(
        https_listener(
            "HttpsListener",
            balancer,
            stack.tier_value(names.CERTIFICATE_ARN_SETTING),
            Condition=conditions.NEW_LOAD_BALANCER,
            # The tier's tag: only this tier's launch role may add rules to it.
            Tags=stack.tags("https"),
        )
    )
    t.add_resource(
        http_redirect_listener(
            "HttpRedirectListener",
            balancer,
            Condition=conditions.NEW_LOAD_BALANCER,
            Tags=stack.tags("http"),
        )
    )
    rule = t.add_resource(
        ListenerRule(
            "HubListenerRule",
            Condition=conditions.OWN_RULE,
            ListenerArn=If(conditions.NEW_LOAD_BALANCER, Ref(https), Ref("ExistingListenerArn")),
            Priority=If(conditions.NEW_LOAD_BALANCER, 1, Ref("ExistingListenerRulePriority")),
            Conditions=[
                Condition(
                    Field="host-header",
                    HostHeaderConfig=HostHeaderConfig(Values=[stack.hub_host_name()]),
                )
            ],
            Actions=[ListenerRuleAction(Type="forward", TargetGroupArn=Ref(target))],
            Tags=stack.tags(),
        )
    )
    route = t.add_resource(
        HubRoute(
            "HubRoute",
            Condition=conditions.ACCOUNT_LOAD_BALANCER,
            ServiceToken=Sub(
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                + names.HUB_ROUTE_FUNCTION.format(tier="${Tier}")
            ),
            HubName=Ref("HubName"),
            TargetGroupArn=Ref(target),
        )
    )
    return LoadBalancing(target=target, balancer=balancer, rule=rule, route=route)
