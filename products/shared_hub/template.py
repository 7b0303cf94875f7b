"""The `shared-hub` product: JupyterHub for a tier on ECS Fargate behind an HTTPS load balancer.

A team lead launches it from the Service Catalog console, names it, and gets
`https://<HubName><the rest of the platform's host-name pattern for the tier>`.
The hub runs as exactly one Fargate task (its state on EFS); each user's notebook server is a
Fargate task of its own with the tier's notebook role, never a process inside the hub task.
Every IAM role comes from the platform stack, found through SSM parameters under
`/labcatalog/tiers/<Tier>/`: the launch role may not create IAM roles.

The parts: `parameters` (the console), `conditions` (what a launch creates, launch-time rules),
`network` (security groups, load balancer), `storage` (logs, hub state, crypt key), `compute`
(cluster, task definitions, hub service); this module puts them together.
"""

from __future__ import annotations

from troposphere import GetAtt, If, Output, Ref, Sub, Template
from troposphere.route53 import AliasTarget, RecordSetType

from generator.cfn import names
from generator.model.config import Portfolio
from products.shared_hub import compute, conditions, network, parameters, stack, storage
from products.shared_hub.network import LoadBalancing

DESCRIPTION = (
    "labcatalog shared-hub {version}: JupyterHub for one data tier on ECS Fargate behind an "
    "HTTPS load balancer; a Fargate task per user. Generated from portfolio.yaml; do not edit."
)


def add_dns(t: Template, load_balancing: LoadBalancing) -> RecordSetType:
    """The hub's name: an alias of its load balancer (its own, the account's or an existing one)."""
    balancer = load_balancing.balancer
    return t.add_resource(
        RecordSetType(
            "HubDnsRecord",
            HostedZoneId=stack.tier_value(names.HOSTED_ZONE_ID_SETTING),
            Name=stack.hub_host_name(),
            Type="A",
            AliasTarget=AliasTarget(
                DNSName=If(
                    conditions.NEW_LOAD_BALANCER,
                    GetAtt(balancer, "DNSName"),
                    If(
                        conditions.ACCOUNT_LOAD_BALANCER,
                        stack.platform_value(names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER),
                        Ref("ExistingLoadBalancerDnsName"),
                    ),
                ),
                HostedZoneId=If(
                    conditions.NEW_LOAD_BALANCER,
                    GetAtt(balancer, "CanonicalHostedZoneID"),
                    If(
                        conditions.ACCOUNT_LOAD_BALANCER,
                        stack.platform_value(names.ACCOUNT_LOAD_BALANCER_ZONE_ID_PARAMETER),
                        Ref("ExistingLoadBalancerZoneId"),
                    ),
                ),
                EvaluateTargetHealth=False,
            ),
        )
    )


def build(portfolio: Portfolio) -> Template:
    """The shared-hub template for a validated portfolio; pure, no I/O."""
    product = portfolio.products.shared_hub
    t = Template(Description=DESCRIPTION.format(version=product.version if product else ""))
    t.set_version("2010-09-09")
    parameters.declared(portfolio).add_to(t)
    conditions.add_conditions(t)
    conditions.add_rules(t)
    identity = portfolio.platform.identity
    groups = network.add_security_groups(t, ldap=identity.ldap is not None)
    load_balancing = network.add_load_balancing(t, groups.balancer)
    logs = storage.add_logs(t)
    state = storage.add_state(t, groups)
    crypt_key = storage.add_crypt_key(t)
    hub = compute.add_compute(t, groups, load_balancing, logs, state, crypt_key, identity)
    record = add_dns(t, load_balancing)
    # The record's Ref is its name: the host name CloudFormation resolved.
    t.add_output(
        Output("HubUrl", Description="Open this", Value=Sub(f"https://${{{record.title}}}"))
    )
    t.add_output(Output("ClusterName", Value=Ref(hub.cluster)))
    t.add_output(Output("HubServiceName", Value=GetAtt(hub.service, "Name")))
    t.add_output(Output("HubLogGroup", Value=Ref(logs.hub)))
    t.add_output(Output("ServerLogGroup", Value=Ref(logs.servers)))
    t.add_output(
        Output(
            "LoadBalancerDnsName",
            Condition=conditions.NEW_LOAD_BALANCER,
            Value=GetAtt(load_balancing.balancer, "DNSName"),
        )
    )
    return t
