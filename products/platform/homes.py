"""Users' persistent homes: one encrypted EFS file system per tier, and its backups.

Each tier's file system holds every user's home (`/home/<user>`, reached only through the user's
own access point, which the shared hub's spawner creates as the image's user) and the team's
`/shared` folder (the access point made here). It outlives servers, hubs and this stack
(Retain). Only the tier's notebook role, the role of its users' servers, may mount it: the file
system's policy denies every other principal, over TLS, through a mount target and an access
point only, and never as root. The hub's role (products/shared_hub/platform.py) may create
access points only on a file system tagged with its own tier.

Mount targets need the VPC the shared hubs run in: the platform's `HomesVpcId` and
`HomesSubnetIds` parameters. Without them the file system is made (and kept) but cannot be
mounted yet; a shared hub's launch then fails on the missing mount-target security group
parameter, which says what is missing.

Backups: an AWS Backup plan takes every file system tagged `labcatalog:backup=homes` each hour
(kept 7 days) and each day (kept 35 days): the recovery point objective is one hour.
"""

from __future__ import annotations

import awacs.elasticfilesystem as efs
import awacs.kms as kms
from awacs import AWSHelperFn
from awacs.aws import (
    Allow,
    ArnNotEquals,
    Bool,
    Deny,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.aws import Condition as IamCondition
from troposphere import (
    And,
    Condition,
    Equals,
    GetAtt,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Sub,
    Template,
)
from troposphere.backup import (
    BackupPlan,
    BackupPlanResourceType,
    BackupRuleResourceType,
    BackupSelection,
    BackupSelectionResourceType,
    BackupVault,
    ConditionResourceType,
    LifecycleResourceType,
)
from troposphere.ec2 import SecurityGroup, SecurityGroupRule
from troposphere.efs import (
    AccessPoint,
    BackupPolicy,
    CreationInfo,
    FileSystem,
    LifecyclePolicy,
    MountTarget,
    PosixUser,
    RootDirectory,
)
from troposphere.iam import PolicyType, Role
from troposphere.ssm import Parameter as SsmParameter

from generator.cfn import names, policies
from generator.cfn.product import SsmValue
from generator.model.config import Tier
from products.platform.common import retain, tags
from products.platform.tier_roles import add_parameter

VPC_PARAMETER = "HomesVpcId"
SUBNETS_PARAMETER = "HomesSubnetIds"
HAS_NETWORK = "HomesNetworkGiven"
MAX_SUBNETS = 3  # one mount target per Availability Zone; three zones are plenty for homes
NFS_PORT = 2049
# Recovery point objective: the hourly rule. Retention: 7 days of hourly, 35 of daily points.
BACKUP_RULES = (
    ("hourly", "cron(0 * ? * * *)", 7),
    ("daily", "cron(0 3 ? * * *)", 35),
)


class _ThisFileSystem(AWSHelperFn):
    """`"*"`: the one resource a file-system policy governs is its own file system."""

    def JSONrepr(self) -> str:
        return "*"


def _subnet(index: int) -> Select:
    # Padded with empty items, so selecting past the list's end gives "" instead of failing.
    padded = Split(",", Join("", [Ref(SUBNETS_PARAMETER), "," * MAX_SUBNETS]))
    return Select(index, padded)


def _network_parameters() -> tuple[Parameter, Parameter]:
    return (
        Parameter(
            VPC_PARAMETER,
            Type="String",
            Default="",
            AllowedPattern=r"^(vpc-[0-9a-f]{8,17})?$",
            ConstraintDescription="a VPC id (vpc-...), or empty for no mount targets yet",
            Description="VPC of the shared hubs: where each tier's home file system is mounted",
        ),
        Parameter(
            SUBNETS_PARAMETER,
            Type="String",
            Default="",
            AllowedPattern=r"^(subnet-[0-9a-f]{8,17}(,subnet-[0-9a-f]{8,17}){0,2})?$",
            ConstraintDescription=f"up to {MAX_SUBNETS} subnet ids separated by commas",
            Description="Private subnets (one per zone, up to 3) of the homes' mount targets",
        ),
    )


NETWORK_PARAMETERS = (VPC_PARAMETER, SUBNETS_PARAMETER)


def add_root_network_parameters(t: Template) -> None:
    """The homes' VPC and subnets as the platform's parameters, which the root hands to each
    tier's stack (empty: no mount targets yet)."""
    for parameter in _network_parameters():
        t.add_parameter(parameter)


def add_network_parameters(t: Template) -> None:
    """The VPC and subnets of the homes' mount targets, and the conditions on them (once per
    template; empty: none)."""
    if VPC_PARAMETER in t.parameters:
        return
    for parameter in _network_parameters():
        t.add_parameter(parameter)
    t.add_condition(HAS_NETWORK, Not(Equals(Ref(VPC_PARAMETER), "")))
    for index in range(MAX_SUBNETS):
        t.add_condition(
            f"HomesSubnet{index + 1}Given",
            And(Condition(HAS_NETWORK), Not(Equals(_subnet(index), ""))),
        )


def homes_file_system_policy(notebook_role_arn) -> PolicyDocument:
    """Only the tier's servers mount the homes: over TLS, through a mount target and an access
    point, never as root. The Deny holds whatever another principal's IAM policies allow."""
    mount = [efs.ClientMount, efs.ClientWrite]
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="ThisTiersServersMountThroughAnAccessPoint",
                Effect=Allow,
                Principal=Principal("AWS", notebook_role_arn),
                Action=mount,
                Resource=_ThisFileSystem(),
                Condition=IamCondition(
                    [
                        Bool(
                            {
                                "aws:SecureTransport": "true",
                                "elasticfilesystem:AccessedViaMountTarget": "true",
                            }
                        ),
                        Null("elasticfilesystem:AccessPointArn", "false"),
                    ]
                ),
            ),
            Statement(
                Sid="NoOtherPrincipalMounts",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=mount,
                Resource=_ThisFileSystem(),
                Condition=IamCondition(ArnNotEquals("aws:PrincipalArn", notebook_role_arn)),
            ),
            Statement(
                Sid="NobodyMountsWithoutAnAccessPoint",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=mount,
                Resource=_ThisFileSystem(),
                Condition=IamCondition(Null("elasticfilesystem:AccessPointArn", "true")),
            ),
            Statement(
                Sid="NobodyMountsAsRoot",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=[efs.ClientRootAccess],
                Resource=_ThisFileSystem(),
            ),
            Statement(
                Sid="TlsOnly",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=mount,
                Resource=_ThisFileSystem(),
                Condition=IamCondition(Bool("aws:SecureTransport", "false")),
            ),
        ],
    )


def notebook_role_mount_policy(file_system_arn) -> PolicyDocument:
    """The tier's notebook role's side: mount this tier's file system, through access points."""
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="MountThisTiersHomesThroughAnAccessPoint",
                Effect=Allow,
                Action=[efs.ClientMount, efs.ClientWrite],
                Resource=[file_system_arn],
                Condition=IamCondition(Null("elasticfilesystem:AccessPointArn", "false")),
            )
        ],
    )


def add_tier_homes(t: Template, tier: Tier, notebook_role: Ref, notebook_role_arn, key_arn) -> None:
    """A tier's home file system, its team folder, mount targets and SSM parameters."""
    add_network_parameters(t)
    tid = tier.logical_id
    tier_tags = {names.TIER_TAG: tier.name}
    file_system = t.add_resource(
        retain(
            FileSystem(
                f"{tid}HomesFileSystem",
                Encrypted=True,
                KmsKeyId=key_arn,
                PerformanceMode="generalPurpose",
                ThroughputMode="elastic",
                # Files nobody opened for 30 days cost a fraction; opening one brings it back.
                LifecyclePolicies=[
                    LifecyclePolicy(TransitionToIA="AFTER_30_DAYS"),
                    LifecyclePolicy(TransitionToPrimaryStorageClass="AFTER_1_ACCESS"),
                ],
                # The platform's backup plan (tag below) backs it up; not EFS's default one too.
                BackupPolicy=BackupPolicy(Status="DISABLED"),
                FileSystemPolicy=homes_file_system_policy(notebook_role_arn).JSONrepr(),
                FileSystemTags=tags(
                    **tier_tags,
                    **{names.BACKUP_TAG: names.BACKUP_TAG_HOMES},
                    Name=f"{names.NAME_PREFIX}-{tier.name}-homes",
                ),
            )
        )
    )
    shared = t.add_resource(
        AccessPoint(
            f"{tid}HomesSharedAccessPoint",
            FileSystemId=Ref(file_system),
            PosixUser=PosixUser(Uid=str(names.HOME_UID), Gid=str(names.HOME_GID)),
            RootDirectory=RootDirectory(
                Path=names.SHARED_ROOT,
                CreationInfo=CreationInfo(
                    OwnerUid=str(names.HOME_UID),
                    OwnerGid=str(names.HOME_GID),
                    Permissions="0770",
                ),
            ),
            AccessPointTags=tags(**tier_tags),
        )
    )
    group = t.add_resource(
        SecurityGroup(
            f"{tid}HomesMountTargetSecurityGroup",
            Condition=HAS_NETWORK,
            GroupDescription=(
                f"Mount targets of the homes of tier {tier.name}: each shared hub adds NFS from "
                "its servers"
            ),
            VpcId=Ref(VPC_PARAMETER),
            # Mount targets answer; they never call out.
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="-1",
                    CidrIp="127.0.0.1/32",
                    Description="no outbound traffic",
                )
            ],
            Tags=tags(**tier_tags),
        )
    )
    for index in range(MAX_SUBNETS):
        t.add_resource(
            MountTarget(
                f"{tid}HomesMountTarget{index + 1}",
                Condition=f"HomesSubnet{index + 1}Given",
                FileSystemId=Ref(file_system),
                SubnetId=_subnet(index),
                SecurityGroups=[GetAtt(group, "GroupId")],
            )
        )
    # The ARN spelled out rather than GetAtt: the same value, and moto's EFS has no GetAtt.
    file_system_arn = policies.regional_arn(
        "elasticfilesystem", f"file-system/${{{file_system.title}}}"
    )
    t.add_resource(
        PolicyType(
            f"{tid}HomesMountPolicy",
            PolicyName="mount-homes",
            PolicyDocument=notebook_role_mount_policy(file_system_arn),
            Roles=[notebook_role],
        )
    )
    values = (
        SsmValue(
            f"{tid}HomesFileSystemIdParameter",
            names.HOMES_FILE_SYSTEM_ID_PARAMETER.format(tier=tier.name),
            Ref(file_system),
            f"labcatalog tier {tier.name}: homes file system id",
        ),
        SsmValue(
            f"{tid}HomesSharedAccessPointIdParameter",
            names.HOMES_SHARED_ACCESS_POINT_ID_PARAMETER.format(tier=tier.name),
            Ref(shared),
            f"labcatalog tier {tier.name}: homes shared access point id",
        ),
    )
    for value in values:
        add_parameter(t, value)
    t.add_resource(
        _ssm_parameter(
            SsmValue(
                f"{tid}HomesMountTargetSecurityGroupParameter",
                names.HOMES_MOUNT_TARGET_SECURITY_GROUP_PARAMETER.format(tier=tier.name),
                GetAtt(group, "GroupId"),
                f"labcatalog tier {tier.name}: homes mount target security group id",
            )
        )
    )
    t.add_output(Output(f"{tid}HomesFileSystemId", Value=Ref(file_system)))


def _ssm_parameter(value: SsmValue) -> SsmParameter:
    """An SSM parameter that exists only when the homes' network was given."""
    return SsmParameter(
        value.logical_id,
        Condition=HAS_NETWORK,
        Name=value.name,
        Type="String",
        Value=value.value,
        Description=value.description,
    )


def backup_key_statements(key_arn) -> list[Statement]:
    """AWS Backup encrypts recovery points with the notebook key, used only through Backup; the
    grants it makes are for AWS resources only."""
    through_backup = StringEquals("kms:ViaService", [Sub("backup.${AWS::Region}.amazonaws.com")])
    return [
        Statement(
            Sid="UseTheNotebookKeyThroughBackup",
            Effect=Allow,
            Action=[kms.Decrypt, kms.GenerateDataKey, kms.DescribeKey],
            Resource=[key_arn],
            Condition=IamCondition(through_backup),
        ),
        Statement(
            Sid="GrantTheNotebookKeyToBackupsResources",
            Effect=Allow,
            Action=[kms.CreateGrant],
            Resource=[key_arn],
            Condition=IamCondition([through_backup, Bool("kms:GrantIsForAWSResource", "true")]),
        ),
    ]


def add_backups(t: Template, key_arn) -> BackupPlan:
    """The homes' backup plan: every file system tagged for it, hourly and daily."""
    vault = t.add_resource(
        retain(
            BackupVault(
                "HomesBackupVault",
                BackupVaultName=f"{names.NAME_PREFIX}-homes",
                EncryptionKeyArn=key_arn,
                BackupVaultTags={"labcatalog:stack": "platform"},
            )
        )
    )
    plan = t.add_resource(
        BackupPlan(
            "HomesBackupPlan",
            BackupPlan=BackupPlanResourceType(
                BackupPlanName=f"{names.NAME_PREFIX}-homes",
                BackupPlanRule=[
                    BackupRuleResourceType(
                        RuleName=f"homes-{name}",
                        TargetBackupVault=Ref(vault),
                        ScheduleExpression=schedule,
                        StartWindowMinutes=60,
                        CompletionWindowMinutes=180,
                        Lifecycle=LifecycleResourceType(DeleteAfterDays=days),
                    )
                    for name, schedule, days in BACKUP_RULES
                ],
            ),
            BackupPlanTags={"labcatalog:stack": "platform"},
        )
    )
    role = t.add_resource(
        Role(
            "HomesBackupRole",
            RoleName=f"{names.NAME_PREFIX}-homes-backup",
            Description="AWS Backup backs up and restores the users' home file systems",
            AssumeRolePolicyDocument=policies.service_trust_policy("backup.amazonaws.com"),
            ManagedPolicyArns=[
                Sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                    "AWSBackupServiceRolePolicyForBackup"
                ),
                Sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                    "AWSBackupServiceRolePolicyForRestores"
                ),
            ],
            Policies=[
                policies.inline(
                    "notebook-key",
                    PolicyDocument(
                        Version=policies.VERSION, Statement=backup_key_statements(key_arn)
                    ),
                )
            ],
            Tags=tags(),
        )
    )
    t.add_resource(
        BackupSelection(
            "HomesBackupSelection",
            BackupPlanId=Ref(plan),
            BackupSelection=BackupSelectionResourceType(
                SelectionName="homes",
                IamRoleArn=GetAtt(role, "Arn"),
                ListOfTags=[
                    ConditionResourceType(
                        ConditionType="STRINGEQUALS",
                        ConditionKey=names.BACKUP_TAG,
                        ConditionValue=names.BACKUP_TAG_HOMES,
                    )
                ],
            ),
        )
    )
    t.add_output(Output("HomesBackupVaultName", Value=Ref(vault)))
    return plan
