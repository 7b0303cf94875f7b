"""Security-group rules: one TCP port, from or to a security group or a CIDR, always described.

Rules inside a group (`tcp_in`, `tcp_out`) suit peers that exist before the group; a rule that
names another group of the same stack is better a resource of its own (`ingress`, `egress`), so
no two groups depend on each other.
"""

from __future__ import annotations

from typing import Any

from troposphere import AWSHelperFn, GetAtt
from troposphere.ec2 import (
    SecurityGroup,
    SecurityGroupEgress,
    SecurityGroupIngress,
    SecurityGroupRule,
)

ANYWHERE = "0.0.0.0/0"

# A security group of this template, or its id as a value (a Ref, a parameter, a literal).
Group = SecurityGroup | AWSHelperFn | str
Cidr = AWSHelperFn | str


def group_id(group: Group) -> Any:
    """The id of a group: GetAtt of one built here, else the value as given."""
    return GetAtt(group, "GroupId") if isinstance(group, SecurityGroup) else group


def _peer(key: str, cidr: Cidr | None, group: Group | None) -> dict[str, Any]:
    if (cidr is None) == (group is None):
        raise ValueError("a rule names exactly one peer: a CIDR or a security group")
    return {"CidrIp": cidr} if cidr is not None else {key: group_id(group)}


def _tcp(port: int, description: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "Description": description}


def tcp_in(
    port: int, description: str, *, cidr: Cidr | None = None, group: Group | None = None
) -> SecurityGroupRule:
    """An ingress rule of a group: TCP `port` from `cidr` or from members of `group`."""
    return SecurityGroupRule(
        **_tcp(port, description), **_peer("SourceSecurityGroupId", cidr, group)
    )


def tcp_out(
    port: int, description: str, *, cidr: Cidr | None = None, group: Group | None = None
) -> SecurityGroupRule:
    """An egress rule of a group: TCP `port` to `cidr` or to members of `group`."""
    return SecurityGroupRule(
        **_tcp(port, description), **_peer("DestinationSecurityGroupId", cidr, group)
    )


def ingress(
    title: str,
    into: Group,
    port: int,
    description: str,
    *,
    cidr: Cidr | None = None,
    group: Group | None = None,
    **resource: Any,
) -> SecurityGroupIngress:
    """A rule of its own letting TCP `port` into `into`; `resource` adds Condition, Metadata..."""
    return SecurityGroupIngress(
        title,
        GroupId=group_id(into),
        **_tcp(port, description),
        **_peer("SourceSecurityGroupId", cidr, group),
        **resource,
    )


def egress(
    title: str,
    out_of: Group,
    port: int,
    description: str,
    *,
    cidr: Cidr | None = None,
    group: Group | None = None,
    **resource: Any,
) -> SecurityGroupEgress:
    """A rule of its own letting TCP `port` out of `out_of`; `resource` adds Condition..."""
    return SecurityGroupEgress(
        title,
        GroupId=group_id(out_of),
        **_tcp(port, description),
        **_peer("DestinationSecurityGroupId", cidr, group),
        **resource,
    )


def no_egress() -> SecurityGroupRule:
    """Nothing: replaces the default allow-all egress of a group that needs none."""
    return SecurityGroupRule(
        CidrIp="127.0.0.1/32", IpProtocol="-1", Description="no egress (replaces allow-all)"
    )
