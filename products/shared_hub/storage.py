"""What the shared hub keeps: its log groups, its state on EFS, and its crypt key.

The hub's database and cookie secret live on an encrypted EFS file system that only the hub's
role may mount, so a restarted hub task loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.elasticfilesystem as efs
from awacs import AWSHelperFn
from awacs.aws import Allow, Bool, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.efs import (
    AccessPoint,
    BackupPolicy,
    CreationInfo,
    FileSystem,
    MountTarget,
    PosixUser,
    RootDirectory,
)
from troposphere.logs import LogGroup
from troposphere.secretsmanager import GenerateSecretString
from troposphere.secretsmanager import Secret as SecretsManagerSecret

from generator.cfn import names
from generator.cfn.policies import VERSION
from products.shared_hub import stack
from products.shared_hub.network import SecurityGroups

STATE_UID = 1000  # every file of the hub state belongs to this user, whatever the image runs as
HUB_KEY = stack.platform_value(names.HUB_KEY_ARN_PARAMETER)


@dataclass(frozen=True)
class Logs:
    hub: LogGroup
    servers: LogGroup


@dataclass(frozen=True)
class HubState:
    file_system: FileSystem
    access_point: AccessPoint
    mount_targets: tuple[MountTarget, ...]  # the hub can start only once they exist


def add_logs(t: Template) -> Logs:
    """Encrypted log groups with retention; kept when the stack is deleted, for audits."""
    groups = {}
    for part in ("hub", "servers"):
        group = LogGroup(
            f"{part.capitalize()}LogGroup",
            LogGroupName=stack.named(names.TIER_LOG_GROUPS + "{stack}/" + part),
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=HUB_KEY,
            Tags=stack.tags(),
        )
        group.DeletionPolicy = "Retain"
        group.UpdateReplacePolicy = "Retain"
        groups[part] = t.add_resource(group)
    return Logs(**groups)


class _ThisFileSystem(AWSHelperFn):
    """The Resource of a file-system policy, `"*"`: the only resource such a policy can govern
    is its own file system, whose ARN the policy (a property of it) cannot refer to."""

    def JSONrepr(self) -> str:
        return "*"


def hub_state_policy(hub_role: Sub) -> PolicyDocument:
    """Only the hub's role may mount the hub state, over TLS, through a mount target."""
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            Statement(
                Sid="OnlyTheHubMountsOverTls",
                Effect=Allow,
                Principal=Principal("AWS", hub_role),
                Action=[efs.ClientMount, efs.ClientWrite],
                Resource=_ThisFileSystem(),
                Condition=Condition(
                    Bool(
                        {
                            "aws:SecureTransport": "true",
                            "elasticfilesystem:AccessedViaMountTarget": "true",
                        }
                    )
                ),
            )
        ],
    )


def add_state(t: Template, groups: SecurityGroups) -> HubState:
    """The hub's database and cookie secret on encrypted EFS, reachable only by the hub."""
    file_system = t.add_resource(
        FileSystem(
            "HubStateFileSystem",
            Encrypted=True,
            KmsKeyId=HUB_KEY,
            BackupPolicy=BackupPolicy(Status="ENABLED"),
            PerformanceMode="generalPurpose",
            ThroughputMode="elastic",
            # EFS takes the policy as a plain document, not as an awacs object.
            FileSystemPolicy=hub_state_policy(stack.hub_role()).JSONrepr(),
            FileSystemTags=stack.tags(Name=Sub("${AWS::StackName}-hub-state")),
        )
    )
    # Terminating the product keeps the hub state (users, servers' records, the cookie secret).
    file_system.DeletionPolicy = "Retain"
    file_system.UpdateReplacePolicy = "Retain"
    mount_targets = tuple(
        t.add_resource(
            MountTarget(
                f"HubStateMountTarget{n}",
                FileSystemId=Ref(file_system),
                SubnetId=subnet,
                SecurityGroups=[GetAtt(groups.state, "GroupId")],
            )
        )
        for n, subnet in enumerate(stack.hub_subnets(), start=1)
    )
    access_point = t.add_resource(
        AccessPoint(
            "HubStateAccessPoint",
            FileSystemId=Ref(file_system),
            PosixUser=PosixUser(Uid=str(STATE_UID), Gid=str(STATE_UID)),
            RootDirectory=RootDirectory(
                Path="/jupyterhub",
                CreationInfo=CreationInfo(
                    OwnerUid=str(STATE_UID), OwnerGid=str(STATE_UID), Permissions="0700"
                ),
            ),
            AccessPointTags=stack.tags(),
        )
    )
    return HubState(file_system, access_point, mount_targets)


def add_crypt_key(t: Template) -> SecretsManagerSecret:
    """JUPYTERHUB_CRYPT_KEY: 32 random bytes, hex-encoded, under this tier's secret path."""
    return t.add_resource(
        SecretsManagerSecret(
            "HubCryptKeySecret",
            Name=stack.named(names.TIER_SECRETS + "{stack}/crypt-key"),
            Description="Encrypts authentication state in the JupyterHub database",
            KmsKeyId=HUB_KEY,
            GenerateSecretString=GenerateSecretString(
                PasswordLength=64,
                ExcludePunctuation=True,
                # Only 0-9 and a-f remain: 64 hex digits are the 32-byte key JupyterHub wants.
                ExcludeCharacters="ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ",
                IncludeSpace=False,
            ),
            Tags=stack.tags(),
        )
    )
