"""The shared hub survives a restart: a stable name for its servers, and one hub at a time.

Proves, on the template as data: the hub's ECS service registers its task in a Cloud Map
service of a private DNS namespace in the hub's VPC, and the hub's LABCATALOG_HUB_CONNECT_URL is
exactly that name and the hub API port (so servers never call a task's own address); the
deployment configuration never runs two hubs on the one SQLite database (MaximumPercent 100,
MinimumHealthyPercent 0, one task); the launch role may create and delete the namespace
(the statements AWS's Cloud Map permission reference lists). Against moto: the deployed ECS
service names the deployed Cloud Map service as its registry, in the stack's VPC.
Does not prove: that ECS registers the task in Cloud Map, or DNS resolution inside a VPC;
tests/test_hub_restart.py runs a real hub restart behind a stand-in for the name.
"""

from __future__ import annotations

import logging

from generator.cfn import names
from products.shared_hub import discovery, launch
from products.shared_hub import network as hub_network
from tests.test_shared_hub_deploy import deploy, network  # noqa: F401 (fixture)
from tests.test_shared_hub_template import conditional_items, hub_body, hub_container, props


def test_servers_reach_the_hub_by_its_cloud_map_name(example):
    body = hub_body(example)
    service = props(body, "HubService")
    (registry,) = service["ServiceRegistries"]
    assert registry == {"RegistryArn": {"Fn::GetAtt": ["HubDiscoveryService", "Arn"]}}

    discovery = props(body, "HubDiscoveryService")
    assert discovery["NamespaceId"] == {"Fn::GetAtt": ["HubNamespace", "Id"]}
    assert discovery["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    assert discovery["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    namespace = props(body, "HubNamespace")
    # The tier's VPC, from the platform's settings.
    vpc = names.VPC_ID_SETTING.format(tier="${Tier}")
    assert namespace["Vpc"] == {"Fn::Sub": names.resolved(vpc)}
    assert body["Resources"]["HubNamespace"]["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"

    env = conditional_items(hub_container(body)["Environment"])
    condition, variable = env["LABCATALOG_HUB_CONNECT_URL"]
    assert condition is None  # every hub has the name
    name = f"{discovery['Name']}.{namespace['Name']['Fn::Sub']}"
    assert variable["Value"] == {"Fn::Sub": f"http://{name}:{hub_network.HUB_API_PORT}"}


def test_the_deployment_never_runs_two_hubs_on_one_database(example):
    service = props(hub_body(example), "HubService")
    assert service["DesiredCount"] == 1
    deployment = service["DeploymentConfiguration"]
    assert (deployment["MaximumPercent"], deployment["MinimumHealthyPercent"]) == (100, 0)


def test_the_launch_role_may_create_the_namespace():
    """What AWS's Cloud Map API permissions reference lists for a private DNS namespace."""
    granted = {
        action
        for statements in launch.shared_launch_policies("key").values()
        for statement in statements
        for action in (a.JSONrepr() for a in statement.Action)
    }
    assert {
        "servicediscovery:CreatePrivateDnsNamespace",
        "servicediscovery:DeleteNamespace",
        "servicediscovery:GetNamespace",
        "servicediscovery:GetOperation",
        "servicediscovery:CreateService",
        "servicediscovery:DeleteService",
        "servicediscovery:GetService",
        "route53:CreateHostedZone",
        "route53:GetHostedZone",
        "route53:ListHostedZonesByName",
        "ec2:DescribeVpcs",
        "ec2:DescribeRegions",
    } <= granted


def test_the_deployed_hub_service_registers_in_the_stacks_namespace(
    aws,
    example,
    network,  # noqa: F811 (the deploy tests' fixture)
    caplog,
):
    tier = example.tiers[0].name
    caplog.set_level(logging.WARNING, logger="moto")
    outputs = deploy(aws, example, network, caplog, "hub1", {"Tier": tier, "HubName": "team1"})
    cloud_map = aws.client("servicediscovery")
    (namespace,) = cloud_map.list_namespaces()["Namespaces"]
    assert namespace["Name"] == f"hub1.{discovery.DISCOVERY_DOMAIN}"
    assert namespace["Type"] == "DNS_PRIVATE"
    (service,) = cloud_map.list_services()["Services"]
    assert service["Name"] == discovery.HUB_DISCOVERY_NAME
    (hub_service,) = aws.client("ecs").describe_services(
        cluster=outputs["ClusterName"], services=[outputs["HubServiceName"]]
    )["services"]
    assert hub_service["serviceRegistries"] == [{"registryArn": service["Arn"]}]
