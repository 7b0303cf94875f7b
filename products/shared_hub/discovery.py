"""The hub's stable name for its users' servers: a Cloud Map private DNS name in the VPC.

Servers reach the hub's API at `hub.<stack>.labcatalog.internal`, a name ECS keeps pointed at
whichever hub task runs (registered when it starts, removed when it stops), so the servers
outlive a hub restart, a redeployment or a Fargate task retirement.
"""

from __future__ import annotations

from troposphere import GetAtt, Sub, Template
from troposphere.servicediscovery import (
    DnsConfig,
    DnsRecord,
    HealthCheckCustomConfig,
    PrivateDnsNamespace,
)
from troposphere.servicediscovery import Service as DiscoveryService

from products.shared_hub import network, stack

DISCOVERY_DOMAIN = "labcatalog.internal"
HUB_DISCOVERY_NAME = "hub"
DISCOVERY_TTL_SECONDS = 10  # how long a server may keep calling a hub task that has gone
HUB_CONNECT_URL = Sub(
    f"http://{HUB_DISCOVERY_NAME}.${{AWS::StackName}}.{DISCOVERY_DOMAIN}:{network.HUB_API_PORT}"
)


def add_hub_name(t: Template) -> DiscoveryService:
    """A private DNS namespace in the VPC and a service whose A record ECS keeps pointed at the
    running hub task."""
    namespace = t.add_resource(
        PrivateDnsNamespace(
            "HubNamespace",
            Name=Sub(f"${{AWS::StackName}}.{DISCOVERY_DOMAIN}"),
            Vpc=stack.vpc(),
            Description="Names of this shared hub inside its VPC",
            Tags=stack.tags(),
        )
    )
    return t.add_resource(
        DiscoveryService(
            "HubDiscoveryService",
            Name=HUB_DISCOVERY_NAME,
            Description="The running hub task, for users' servers (hub API)",
            NamespaceId=GetAtt(namespace, "Id"),
            DnsConfig=DnsConfig(
                DnsRecords=[DnsRecord(Type="A", TTL=DISCOVERY_TTL_SECONDS)],
                RoutingPolicy="MULTIVALUE",
            ),
            # ECS reports the task's health; no Route 53 health check (and its cost) is needed.
            HealthCheckCustomConfig=HealthCheckCustomConfig(FailureThreshold=1),
            Tags=stack.tags(),
        )
    )
