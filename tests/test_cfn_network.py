"""generator.cfn.network: security-group rules with one TCP port, a described peer, and no slack."""

from __future__ import annotations

import pytest
from troposphere import Ref
from troposphere.ec2 import SecurityGroup

from generator.cfn.network import ANYWHERE, egress, ingress, no_egress, tcp_in, tcp_out

HUB = SecurityGroup("HubSecurityGroup", GroupDescription="hub")
HUB_ID = {"Fn::GetAtt": ["HubSecurityGroup", "GroupId"]}


@pytest.mark.parametrize(
    "rule,peer",
    [
        (tcp_in(443, "why", cidr=Ref("AllowedCidr")), {"CidrIp": {"Ref": "AllowedCidr"}}),
        (tcp_in(443, "why", group=HUB), {"SourceSecurityGroupId": HUB_ID}),
        (tcp_out(443, "why", cidr=ANYWHERE), {"CidrIp": "0.0.0.0/0"}),
        (tcp_out(443, "why", group=HUB), {"DestinationSecurityGroupId": HUB_ID}),
    ],
)
def test_a_rule_is_one_tcp_port_to_or_from_one_peer(rule, peer):
    tcp = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": "why"}
    assert rule.to_dict() == {**tcp, **peer}


def test_a_rule_of_its_own_names_both_groups_and_keeps_its_condition():
    servers = SecurityGroup("ServerSecurityGroup", GroupDescription="servers")
    resource = ingress("HubApiFromServers", HUB, 8081, "report", group=servers, Condition="C")
    assert resource.to_dict() == {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Condition": "C",
        "Properties": {
            "GroupId": HUB_ID,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["ServerSecurityGroup", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 8081,
            "ToPort": 8081,
            "Description": "report",
        },
    }


def test_a_group_given_as_a_value_is_used_as_it_is():
    resource = egress("Ldap636", Ref("HubSecurityGroup"), 636, "LDAPS", cidr=ANYWHERE)
    properties = resource.to_dict()["Properties"]
    assert properties["GroupId"] == {"Ref": "HubSecurityGroup"}
    assert properties["CidrIp"] == "0.0.0.0/0"
    assert "DestinationSecurityGroupId" not in properties


@pytest.mark.parametrize("peers", [{}, {"cidr": ANYWHERE, "group": HUB}])
def test_a_rule_names_exactly_one_peer(peers):
    with pytest.raises(ValueError, match="exactly one peer"):
        tcp_in(443, "clients", **peers)


def test_no_egress_allows_only_loopback():
    assert no_egress().to_dict()["CidrIp"] == "127.0.0.1/32"
