"""Terminating a product from the console succeeds with the defaults, and its data stays.

Each product is launched in moto with its default parameters, then its stack is deleted, as
Service Catalog does on "Terminate". moto does not refuse to delete a load balancer with
deletion protection on (AWS does), so the shared hub's test reads that attribute of the
deployed load balancer. moto honours `DeletionPolicy: Retain` but takes no snapshot for
`Snapshot`; the template tests below name what holds data and how it is kept.
"""

from __future__ import annotations

import json

import pytest

from generator.cfn import names
from generator.engine.build import render
from products.personal_hub import template as personal_hub
from products.shared_hub import template as shared_hub
from tests.test_personal_hub_deploy import deploy as deploy_personal_hubs
from tests.test_shared_hub_deploy import deploy as deploy_shared_hub
from tests.test_shared_hub_deploy import network  # noqa: F401 (a fixture)

# What holds a user's or the hub's data in each product, and the policy that keeps it.
KEPT = {
    "shared-hub": {
        "HubStateFileSystem": "Retain",
        "HubLogGroup": "Retain",
        "ServersLogGroup": "Retain",
    },
    "personal-hub": {"DataVolume": "Snapshot"},
}


@pytest.mark.parametrize(
    "product,module", [("shared-hub", shared_hub), ("personal-hub", personal_hub)]
)
def test_data_lives_in_kept_resources(example, product, module):
    resources = json.loads(render(module.build(example)))["Resources"]
    for logical_id, policy in KEPT[product].items():
        assert resources[logical_id]["DeletionPolicy"] == policy, logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == policy, logical_id


def _file_systems(efs) -> dict[str, dict[str, str]]:
    return {
        fs["FileSystemId"]: {tag["Key"]: tag["Value"] for tag in fs.get("Tags", [])}
        for fs in efs.describe_file_systems()["FileSystems"]
    }


def _delete(aws, stack: str) -> None:
    cfn = aws.client("cloudformation")
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def test_shared_hub_terminates_with_the_defaults_and_keeps_its_state(
    aws,
    example,
    network,  # noqa: F811 (the fixture imported above)
    caplog,
):
    tier = example.tiers[0].name
    deploy_shared_hub(aws, example, network, caplog, "hub1", {"Tier": tier, "HubName": "team1"})
    elbv2, efs = aws.client("elbv2"), aws.client("efs")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]  # the account's
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )["Attributes"]
    }
    # The example's setting: the platform could not be deleted with "true" (AWS refuses).
    assert attributes["deletion_protection.enabled"] == "false"
    before = _file_systems(efs)
    # The platform's are the tiers' homes; the hub's own is its state.
    (state,) = [
        fs for fs, tags in before.items() if tags.get(names.BACKUP_TAG) != names.BACKUP_TAG_HOMES
    ]
    listener = aws.client("ssm").get_parameter(Name=names.ACCOUNT_LISTENER_ARN_PARAMETER)
    listener = listener["Parameter"]["Value"]

    def routes() -> list[str]:
        rules = elbv2.describe_rules(ListenerArn=listener)["Rules"]
        return [
            r["Conditions"][0]["HostHeaderConfig"]["Values"][0] for r in rules if r["Conditions"]
        ]

    assert routes() == [f"team1.{tier}.data.example.com"]
    _delete(aws, "hub1")
    # The account's load balancer stays (the platform's); the hub's route goes with the hub.
    assert [b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]] == [
        balancer["LoadBalancerArn"]
    ]
    assert routes() == []
    after = _file_systems(efs)
    assert state in after and after == before  # the hub's state kept, as the homes
    logs = aws.client("logs").describe_log_groups()["logGroups"]
    assert any(g["logGroupName"].endswith("hub1/hub") for g in logs)


def test_personal_hub_terminates_with_the_defaults(aws, example):
    _, launched = deploy_personal_hubs(aws, example)
    ec2 = aws.client("ec2")
    for tier in launched:
        _delete(aws, f"SC-123456789012-pp-{tier}")
    running = [
        i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    assert running == []
