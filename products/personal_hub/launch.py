"""What a tier's Service Catalog launch role may do for a personal hub, scoped as EC2 allows.

They form a managed policy of the tier's launch role (`platform.add_to_tier`). The launch
role's own policy already runs the stack, reads this tier's `/labcatalog/` parameters and passes
the personal hub's instance role to EC2; these statements add the EC2, CloudWatch and SSM actions
of the personal-hub template and of its self-service actions (which run with the launch role).

The scope, by resource:
- what the stack creates (instances, volumes, security groups) must carry this tier's tag when
  it is created (`aws:RequestTag`), and only resources that carry it can be changed or deleted
  (`aws:ResourceTag`); an instance must also use this tier's instance profile, require IMDSv2 and
  have no public address, and volumes must be encrypted;
- the subnet, VPC and network interface of a launch are the user's choice or made by the launch
  itself, and EC2 scopes them no further than account and region;
- images only from Amazon (`ec2:Owner`), which owns the public AL2023 and Deep Learning AMIs;
- `Describe*` actions have no resource-level permissions in EC2, so they are on `*` (read-only
  metadata, no data);
- no `AuthorizeSecurityGroupIngress` at all: nothing this role launches can be opened inbound.
"""

from __future__ import annotations

import awacs.cloudwatch as cloudwatch
import awacs.ec2 as ec2
import awacs.ssm as ssm
from awacs.aws import Allow, Bool, Condition, Statement, StringEquals
from troposphere import Sub

from generator.cfn.policies import regional_arn
from products.personal_hub import names

TEMPLATE_ALARM_SUFFIX = "-idle-stop"  # the template names its alarm `${AWS::StackName}-idle-stop`
# Service Catalog names the stacks of provisioned products `SC-<account>-pp-<id>`.
STACK_PREFIX = "SC-"
PUBLIC_AMI_PARAMETERS = (
    "/aws/service/ami-amazon-linux-latest/*",
    "/aws/service/deeplearning/ami/*",
)


def _ec2(resource: str) -> Sub:
    return regional_arn("ec2", resource)


def launch_policies(tier: str) -> dict[str, list[Statement]]:
    """The personal-hub statements of `tier`'s launch role, as managed policies that each fit
    IAM's 6,144 characters: what it makes and changes, and what it reads and runs."""
    statements = launch_statements(tier)
    support = [s for s in statements if s.Sid in SUPPORT]
    return {
        "personal-hub": [s for s in statements if s.Sid not in SUPPORT],
        "personal-hub-support": support,
    }


# The statements that only read, or run the self-service actions (the second policy).
SUPPORT = {
    "PersonalHubDescribe",
    "PersonalHubReadInstanceAssociations",
    "PersonalHubListAssociations",
    "PersonalHubIdleStopAlarm",
    "PersonalHubReadPublicAmiParameters",
    "PersonalHubRunSelfServiceActions",
    "PersonalHubWatchSelfServiceActions",
}


def launch_statements(tier: str) -> list[Statement]:
    """The personal-hub statements of `tier`'s launch role."""
    request_tag = f"aws:RequestTag/{names.TIER_TAG}"
    tagged_at_creation = StringEquals(request_tag, tier)
    tagged = Condition(StringEquals(f"aws:ResourceTag/{names.TIER_TAG}", tier))
    profile = Sub(
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/"
        + names.INSTANCE_ROLE.format(tier=tier)
    )
    return [
        Statement(
            Sid="PersonalHubLaunchInstances",
            Effect=Allow,
            Action=[ec2.RunInstances],
            Resource=[_ec2("instance/*")],
            # One StringEquals with three keys: all must match.
            Condition=Condition(
                StringEquals(
                    {
                        request_tag: tier,
                        "ec2:InstanceProfile": profile,
                        "ec2:MetadataHttpTokens": "required",
                    }
                )
            ),
        ),
        Statement(
            Sid="PersonalHubLaunchEncryptedVolumes",
            Effect=Allow,
            Action=[ec2.RunInstances, ec2.CreateVolume],
            Resource=[_ec2("volume/*")],
            Condition=Condition([tagged_at_creation, Bool("ec2:Encrypted", "true")]),
        ),
        Statement(
            Sid="PersonalHubLaunchWithoutPublicAddress",
            Effect=Allow,
            Action=[ec2.RunInstances],
            # Created by the launch itself, before CloudFormation could tag it.
            Resource=[_ec2("network-interface/*")],
            Condition=Condition(Bool("ec2:AssociatePublicIpAddress", "false")),
        ),
        Statement(
            Sid="PersonalHubLaunchIntoChosenSubnet",
            Effect=Allow,
            Action=[ec2.RunInstances],
            # The user chooses the subnet at launch: any subnet of the account and region.
            Resource=[_ec2("subnet/*")],
        ),
        Statement(
            Sid="PersonalHubLaunchWithThisTiersSecurityGroup",
            Effect=Allow,
            Action=[ec2.RunInstances],
            Resource=[_ec2("security-group/*")],
            Condition=tagged,
        ),
        Statement(
            Sid="PersonalHubLaunchAmazonImages",
            Effect=Allow,
            Action=[ec2.RunInstances],
            Resource=[regional_arn("ec2", "image/*", account=False)],
            Condition=Condition(StringEquals("ec2:Owner", "amazon")),
        ),
        Statement(
            Sid="PersonalHubTagOnCreate",
            Effect=Allow,
            Action=[ec2.CreateTags],
            Resource=[_ec2("instance/*"), _ec2("volume/*"), _ec2("security-group/*")],
            Condition=Condition(
                StringEquals(
                    "ec2:CreateAction", ["RunInstances", "CreateVolume", "CreateSecurityGroup"]
                )
            ),
        ),
        Statement(
            Sid="PersonalHubManageThisTiersInstances",
            Effect=Allow,
            Action=[
                ec2.StartInstances,
                ec2.StopInstances,
                ec2.TerminateInstances,
                ec2.ModifyInstanceAttribute,
                ec2.MonitorInstances,
                ec2.UnmonitorInstances,
                ec2.AttachVolume,
                ec2.DetachVolume,
                ec2.DeleteVolume,
                ec2.ModifyVolume,
                ec2.CreateSnapshot,
                ec2.CreateTags,
                ec2.DeleteTags,
                ec2.DescribeVolumeAttribute,
            ],
            Resource=[_ec2("instance/*"), _ec2("volume/*")],
            Condition=tagged,
        ),
        Statement(
            Sid="PersonalHubRestoreDataVolumesFromThisAccountsSnapshots",
            Effect=Allow,
            # A launch with DataVolumeSnapshotId creates the volume from the snapshot.
            Action=[ec2.CreateVolume],
            Resource=[regional_arn("ec2", "snapshot/*", account=False)],
            Condition=Condition(StringEquals("ec2:Owner", Sub("${AWS::AccountId}"))),
        ),
        Statement(
            Sid="PersonalHubSnapshotOnDelete",
            Effect=Allow,
            # DeletionPolicy Snapshot: CloudFormation does not tag the snapshot it takes.
            Action=[ec2.CreateSnapshot],
            Resource=[regional_arn("ec2", "snapshot/*", account=False)],
        ),
        Statement(
            Sid="PersonalHubCreateSecurityGroups",
            Effect=Allow,
            Action=[ec2.CreateSecurityGroup],
            Resource=[_ec2("security-group/*")],
            Condition=Condition(tagged_at_creation),
        ),
        Statement(
            Sid="PersonalHubSecurityGroupsInChosenVpc",
            Effect=Allow,
            Action=[ec2.CreateSecurityGroup],
            # The user chooses the VPC at launch.
            Resource=[_ec2("vpc/*")],
        ),
        Statement(
            Sid="PersonalHubManageThisTiersSecurityGroups",
            Effect=Allow,
            # Egress only: this role can never open a security group inbound.
            Action=[
                ec2.AuthorizeSecurityGroupEgress,
                ec2.RevokeSecurityGroupEgress,
                ec2.DeleteSecurityGroup,
                ec2.CreateTags,
                ec2.DeleteTags,
            ],
            Resource=[_ec2("security-group/*")],
            Condition=tagged,
        ),
        Statement(
            Sid="PersonalHubSecurityGroupRules",
            Effect=Allow,
            # Rules created by AuthorizeSecurityGroupEgress are untagged; their group is checked.
            Action=[ec2.AuthorizeSecurityGroupEgress, ec2.RevokeSecurityGroupEgress],
            Resource=[_ec2("security-group-rule/*")],
        ),
        Statement(
            Sid="PersonalHubDescribe",
            Effect=Allow,
            # EC2's Describe actions support no resource-level permissions: metadata, not data.
            Action=[
                ec2.DescribeAccountAttributes,
                ec2.DescribeAvailabilityZones,
                ec2.DescribeIamInstanceProfileAssociations,
                ec2.DescribeImages,
                ec2.DescribeInstanceAttribute,
                ec2.DescribeInstanceCreditSpecifications,
                ec2.DescribeInstanceStatus,
                ec2.DescribeInstanceTypes,
                ec2.DescribeInstances,
                ec2.DescribeKeyPairs,
                ec2.DescribeLaunchTemplates,
                ec2.DescribeLaunchTemplateVersions,
                ec2.DescribeNetworkInterfaces,
                ec2.DescribeSecurityGroupRules,
                ec2.DescribeSecurityGroups,
                ec2.DescribeSnapshots,
                ec2.DescribeSubnets,
                ec2.DescribeTags,
                ec2.DescribeVolumes,
                ec2.DescribeVolumesModifications,
                ec2.DescribeVpcs,
            ],
            Resource=["*"],
        ),
        Statement(
            Sid="PersonalHubReadInstanceAssociations",
            Effect=Allow,
            # CloudFormation reads an instance's SSM associations back (it sets none).
            Action=[ssm.DescribeAssociation],
            Resource=[_ec2("instance/*")],
        ),
        Statement(
            Sid="PersonalHubListAssociations",
            Effect=Allow,
            # ListAssociations has no resource-level permission.
            Action=[ssm.ListAssociations],
            Resource=["*"],
        ),
        Statement(
            Sid="PersonalHubIdleStopAlarm",
            Effect=Allow,
            Action=[
                cloudwatch.PutMetricAlarm,
                cloudwatch.DeleteAlarms,
                cloudwatch.DescribeAlarms,
                cloudwatch.ListTagsForResource,
                cloudwatch.TagResource,
                cloudwatch.UntagResource,
            ],
            Resource=[regional_arn("cloudwatch", f"alarm:{STACK_PREFIX}*{TEMPLATE_ALARM_SUFFIX}")],
        ),
        Statement(
            Sid="PersonalHubReadPublicAmiParameters",
            Effect=Allow,
            Action=[ssm.GetParameter, ssm.GetParameters],
            Resource=[
                regional_arn("ssm", f"parameter{path}", account=False)
                for path in PUBLIC_AMI_PARAMETERS
            ],
        ),
        Statement(
            Sid="PersonalHubRunSelfServiceActions",
            Effect=Allow,
            Action=[ssm.StartAutomationExecution],
            Resource=[
                regional_arn("ssm", f"automation-definition/{names.DOCUMENT.format(action='*')}:*")
            ],
        ),
        Statement(
            Sid="PersonalHubWatchSelfServiceActions",
            Effect=Allow,
            Action=[
                ssm.GetAutomationExecution,
                ssm.DescribeAutomationStepExecutions,
                ssm.StopAutomationExecution,
            ],
            Resource=[regional_arn("ssm", "automation-execution/*")],
        ),
    ]
