"""Deploy the platform, then a personal hub per tier, to a moto server; read the result back.

What this proves: the template parses, its parameters, mappings, conditions and SSM dynamic
references resolve (the instance profile and notebook bucket from the platform stack, the AMI
from AWS's public parameters), and the resources moto supports are created with these settings.
What it does not prove: that the instance boots (moto runs no user data) or that AWS accepts the
template. moto also drops some properties: the instance's metadata options and network interface
settings, a volume's encryption and type, a security group's egress rules; the template tests
check those as data. It skips the types listed in SKIPPED_BY_MOTO.
"""

from __future__ import annotations

import base64
import json

from moto.cloudformation import parsing
from moto.ssm.models import ssm_backends

from generator.engine.build import render
from products.hub_image.content import image_tag
from products.personal_hub import names, template
from tests import conftest
from tests.support.moto_server import deploy_stack
from tests.support.personal_hub_support import a_launch, body

# Types in the template that moto's CloudFormation does not create. A new one must be added here
# on purpose, with what checks it instead: the wait condition and the alarm are checked as data
# in test_personal_hub_template.py.
SKIPPED_BY_MOTO = {"AWS::CloudFormation::WaitCondition", "AWS::CloudWatch::Alarm"}
IMAGE_TAG = "sha-0123abcd"


def deploy_platform(aws, portfolio) -> dict[str, str]:
    """The platform (which holds the personal hub's roles and documents) and the image release."""
    outputs = conftest.deploy_platform(aws, portfolio, IMAGE_TAG)
    _repair_document_content()
    return outputs


def _repair_document_content() -> None:
    """moto 5.2.5's CloudFormation keeps an `AWS::SSM::Document`'s JSON Content as a dict, and
    its API handlers then fail (HTTP 500) hashing it; store it as text, as its API would."""
    for by_region in ssm_backends.values():
        for backend in by_region.values():
            for documents in backend._documents.values():
                for document in documents.versions.values():
                    if isinstance(document.content, dict):
                        document.content = json.dumps(document.content)


def deploy(aws, portfolio) -> tuple[dict, dict[str, dict]]:
    """Platform outputs, and each tier's personal-hub outputs and launch parameters. The
    platform's settings name a network of the moto server, as the platform team writes its
    own in portfolio.yaml; a launch names none."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"]
        for i in (1, 2)
    ]
    portfolio = conftest.with_platform_settings(portfolio, {"VpcId": vpc, "TaskSubnets": subnets})
    outputs = deploy_platform(aws, portfolio)
    outputs["network"] = {"VpcId": vpc, "TaskSubnets": subnets}
    hub = body(portfolio)
    launched = {}
    for i, tier in enumerate(portfolio.tiers):
        # The last tier gets a Graviton type: the arm64 image parameter must resolve too.
        instance_type = "m7g.large" if i == len(portfolio.tiers) - 1 else "m7i.xlarge"
        parameters = a_launch(hub, tier.name, InstanceType=instance_type)
        stack_outputs = deploy_stack(
            aws, f"SC-123456789012-pp-{tier.name}", render(template.build(portfolio)), parameters
        )
        launched[tier.name] = {"outputs": stack_outputs, "parameters": parameters}
    return outputs, launched


def stack_resources(cfn, stack: str) -> dict[str, str]:
    """Logical id -> physical id of what moto created (skipped types have neither)."""
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if "PhysicalResourceId" in r and "LogicalResourceId" in r
    }


def test_only_the_expected_types_are_skipped_by_moto(example):
    supported = set(parsing.get_model_map())
    types = {r["Type"] for r in body(example)["Resources"].values()}
    assert types - supported <= SKIPPED_BY_MOTO, (
        f"newly skipped: {types - supported - SKIPPED_BY_MOTO}"
    )


def test_each_tiers_hub_deploys_with_its_profile_and_user_data(aws, portfolio):
    platform_outputs, launched = deploy(aws, portfolio)
    ec2 = aws.client("ec2")
    for tier in portfolio.tiers:
        outputs = launched[tier.name]["outputs"]
        parameters = launched[tier.name]["parameters"]
        instance_id = outputs["InstanceId"]
        (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        (instance,) = reservation["Instances"]
        assert instance["InstanceType"] == parameters["InstanceType"]
        assert instance["IamInstanceProfile"]["Arn"].endswith(
            f":instance-profile/labcatalog-{tier.name}-personal-hub"
        )
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags[names.TIER_TAG] == tier.name
        assert tags[names.OWNER_TAG] == "alice@example.com"

        encoded = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        script = base64.b64decode(encoded["UserData"]["Value"]).decode()
        assert script.startswith("#!/bin/bash\n")
        assert f"readonly env_tier='{tier.name}'" in script
        bucket = platform_outputs["NotebookBucketName"]
        assert f"readonly env_notebook_bucket='{bucket}'" in script
        image = f"{platform_outputs['HubRepositoryUri']}:{image_tag()}"  # the version's own
        assert f"readonly hub_image='{image}'" in script
        assert f"readonly stack='SC-123456789012-pp-{tier.name}'" in script
        assert "{{resolve:" not in script and "${" not in script

        assert outputs["PortForwardCommand"] == (
            f"aws ssm start-session --region us-east-1 --target {instance_id} "
            "--document-name AWS-StartPortForwardingSession "
            "--parameters portNumber=8000,localPortNumber=8000"
        )
        assert outputs["HubUrl"] == "http://localhost:8000"


def test_graviton_and_x86_hubs_boot_their_own_architectures_image(aws, portfolio):
    _, launched = deploy(aws, portfolio)
    ec2 = aws.client("ec2")
    ssm = aws.client("ssm")
    for launch in launched.values():
        instance_type = launch["parameters"]["InstanceType"]
        arch = "arm64" if instance_type == "m7g.large" else "x86_64"
        expected = ssm.get_parameter(
            Name=f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
        )["Parameter"]["Value"]
        (reservation,) = ec2.describe_instances(InstanceIds=[launch["outputs"]["InstanceId"]])[
            "Reservations"
        ]
        assert reservation["Instances"][0]["ImageId"] == expected


def test_data_volume_is_created_and_attached(aws, example):
    _, launched = deploy(aws, example)
    cfn = aws.client("cloudformation")
    ec2 = aws.client("ec2")
    for tier, launch in launched.items():
        resources = stack_resources(cfn, f"SC-123456789012-pp-{tier}")
        (volume,) = ec2.describe_volumes(VolumeIds=[resources["DataVolume"]])["Volumes"]
        assert volume["Size"] == 100  # moto keeps size and zone, drops encryption and type
        (reservation,) = ec2.describe_instances(InstanceIds=[launch["outputs"]["InstanceId"]])[
            "Reservations"
        ]
        zone = reservation["Instances"][0]["Placement"]["AvailabilityZone"]
        assert volume["AvailabilityZone"] == zone
        (attachment,) = volume["Attachments"]
        assert attachment["InstanceId"] == launch["outputs"]["InstanceId"]
        assert attachment["Device"] == template.DATA_DEVICE


def test_security_group_allows_nothing_in(aws, example):
    platform, launched = deploy(aws, example)
    cfn = aws.client("cloudformation")
    ec2 = aws.client("ec2")
    for tier in launched:
        group_id = stack_resources(cfn, f"SC-123456789012-pp-{tier}")["HubSecurityGroup"]
        (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert group["IpPermissions"] == []
        # The tier's VPC, from the platform's settings.
        assert group["VpcId"] == platform["network"]["VpcId"]
        # moto drops SecurityGroupEgress properties: the egress rules are checked as data.


def test_platform_publishes_the_instance_profile_and_documents(aws, portfolio):
    deploy_platform(aws, portfolio)
    ssm = aws.client("ssm")
    iam = aws.client("iam")
    for tier in portfolio.tiers:
        name = ssm.get_parameter(Name=names.INSTANCE_PROFILE_PARAMETER.format(tier=tier.name))
        profile = iam.get_instance_profile(InstanceProfileName=name["Parameter"]["Value"])
        (role,) = profile["InstanceProfile"]["Roles"]
        assert role["RoleName"] == f"labcatalog-{tier.name}-personal-hub"
        # No data: the hub gets its owner's session of the tier's data role.
        assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
            "personal-hub-instance",
        ]
    for action in ("Start", "Stop", "Resize"):
        document = ssm.describe_document(Name=f"labcatalog-PersonalHub-{action}")["Document"]
        assert document["DocumentType"] == "Automation"
        assert document["TargetType"] == "/AWS::EC2::Instance"
