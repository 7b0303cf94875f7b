"""Deploy the platform template to a moto server and read the result back with describe calls.

What this proves: the template parses, its references resolve and the resources moto supports
are created with these settings. moto drops several S3 settings and bucket policies from
CloudFormation; tests/support/moto_cfn.py maps them onto moto's own S3 calls (see its docstring).
What it does not prove: that AWS itself accepts the template (cfn-lint checks it against the
resource specifications; only a real account run proves it).
"""

from __future__ import annotations

import json

from generator.cfn import names
from tests.conftest import deploy_platform, platform_templates


def body_of_root(portfolio) -> dict:
    return json.loads(platform_templates(portfolio)["platform.template.json"])


def test_notebook_bucket_is_versioned_encrypted_private_and_tls_only(aws, example):
    outputs = deploy_platform(aws, example)
    s3 = aws.client("s3")
    bucket = outputs["NotebookBucketName"]

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == outputs["NotebookKeyArn"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]

    key = aws.client("kms").describe_key(KeyId=outputs["NotebookKeyArn"])["KeyMetadata"]
    assert key["Enabled"]
    assert aws.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


def test_tier_roles_exist_with_their_policies(aws, portfolio):
    outputs = deploy_platform(aws, portfolio)
    iam = aws.client("iam")
    bucket = outputs["NotebookBucketName"]
    for tier in portfolio.tiers:
        role = iam.get_role(RoleName=names.NOTEBOOK_ROLE.format(tier=tier.name))["Role"]
        assert role["Arn"] == outputs[f"{tier.logical_id}NotebookRoleArn"]
        # The servers' own role: their home only; their data comes from their hub.
        assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [
            "mount-homes",  # the tier's home file system (products/platform/homes.py)
        ]
        data = iam.get_role(RoleName=names.DATA_ROLE.format(tier=tier.name))["Role"]
        assert data["Arn"] == outputs[f"{tier.logical_id}DataRoleArn"]
        assert sorted(iam.list_role_policies(RoleName=data["RoleName"])["PolicyNames"]) == [
            "data-access",
            "require-tls",
        ]
        document = iam.get_role_policy(RoleName=data["RoleName"], PolicyName="data-access")
        resources = {r for s in document["PolicyDocument"]["Statement"] for r in s["Resource"]}
        # References were resolved to this stack's real bucket and this tier's prefix.
        assert f"arn:aws:s3:::{bucket}/{tier.name}/*" in resources
        launch = iam.get_role(RoleName=names.LAUNCH_ROLE.format(tier=tier.name))["Role"]
        passing = iam.get_role_policy(RoleName=launch["RoleName"], PolicyName="launch-products")
        passed = next(
            s["Resource"]
            for s in passing["PolicyDocument"]["Statement"]
            if s.get("Sid") == "PassOnlyThisTiersRolesToEcsTasks"
        )
        assert role["Arn"] in passed

        ssm = aws.client("ssm")
        parameter = ssm.get_parameter(Name=names.NOTEBOOK_ROLE_ARN_PARAMETER.format(tier=tier.name))
        assert parameter["Parameter"]["Value"] == role["Arn"]


def test_hub_repository_and_execution_role_exist(aws, example):
    outputs = deploy_platform(aws, example)
    (repo,) = aws.client("ecr").describe_repositories(repositoryNames=["labcatalog/hub"])[
        "repositories"
    ]
    assert repo["repositoryUri"] == outputs["HubRepositoryUri"]
    for tier in example.tiers:
        role = aws.client("iam").get_role(RoleName=names.TASK_EXECUTION_ROLE.format(tier=tier.name))
        assert role["Role"]["Arn"] == outputs[f"{tier.logical_id}TaskExecutionRoleArn"]
        hub = aws.client("iam").get_role(RoleName=names.HUB_TASK_ROLE.format(tier=tier.name))[
            "Role"
        ]
        assert hub["Arn"] == outputs[f"{tier.logical_id}HubTaskRoleArn"]


def test_each_tier_is_a_nested_stack_created_from_the_packaged_template(aws, portfolio):
    """The root, packaged as `aws cloudformation package` does, runs one stack per tier from S3,
    given the root's real values (moto names a nested stack by its logical id)."""
    outputs = deploy_platform(aws, portfolio)
    cfn = aws.client("cloudformation")
    nested = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="labcatalog-platform")["StackResources"]
        if r.get("ResourceType") == "AWS::CloudFormation::Stack"
    }
    assert sorted(nested) == sorted(f"{t.logical_id}TierStack" for t in portfolio.tiers)
    policies = aws.client("iam").list_policies(Scope="Local")["Policies"]
    root = body_of_root(portfolio)
    local_policies = {
        logical_id: next(
            p["Arn"] for p in policies if p["PolicyName"] == r["Properties"]["ManagedPolicyName"]
        )
        for logical_id, r in root["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    }
    for tier in portfolio.tiers:
        (stack,) = cfn.describe_stacks(StackName=nested[f"{tier.logical_id}TierStack"])["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert given["NotebookBucket"] == outputs["NotebookBucketName"]
        assert given["NotebookKeyArn"] == outputs["NotebookKeyArn"]
        # The account-wide launch policies reach each tier by ARN (moto attaches no managed
        # policy from a template, so the ARNs are checked where the tier's stack receives them).
        launch_policies = {k: v for k, v in given.items() if k.startswith("Launch")}
        assert launch_policies, "the shared hub's launch policies"
        for name, arn in launch_policies.items():
            assert arn == local_policies[name], name
        assert aws.client("iam").get_role(RoleName=names.LAUNCH_ROLE.format(tier=tier.name))
