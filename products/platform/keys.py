"""The platform's KMS keys: one for notebooks (S3), one for hubs (logs, EFS, secrets)."""

from __future__ import annotations

import awacs.kms as kms_actions
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.kms import Alias, Key

from generator.cfn import names, policies
from products.platform.common import retain, tags


def account_administers_key() -> Statement:
    """The account administers the key; use is granted by IAM policies."""
    return Statement(
        Sid="AccountAdministersKeyThroughIam",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[kms_actions.Action("*")],
        # In a key policy "*" means this key and nothing else.
        Resource=["*"],
    )


def notebook_key_policy() -> PolicyDocument:
    """The account administers the key; use is granted by IAM policies (kms:ViaService S3)."""
    return PolicyDocument(Version=policies.VERSION, Statement=[account_administers_key()])


def hub_key_policy() -> PolicyDocument:
    """The hub key: administered through IAM; CloudWatch Logs may use it for labcatalog's logs.

    Logs uses the key as a service principal, so the key policy (not IAM) must allow it; the
    encryption context limits that to log groups under /labcatalog/ in this account and region.
    """
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            account_administers_key(),
            Statement(
                Sid="CloudWatchLogsForLabcatalogLogGroups",
                Effect=Allow,
                Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
                Action=[
                    kms_actions.Encrypt,
                    kms_actions.Decrypt,
                    kms_actions.ReEncryptFrom,
                    kms_actions.ReEncryptTo,
                    kms_actions.GenerateDataKey,
                    kms_actions.GenerateDataKeyWithoutPlaintext,
                    kms_actions.DescribeKey,
                ],
                Resource=["*"],
                Condition=Condition(
                    ArnLike(
                        "kms:EncryptionContext:aws:logs:arn",
                        policies.regional_arn("logs", f"log-group:{names.LOG_GROUP_PREFIX}*"),
                    )
                ),
            ),
        ],
    )


def add_notebook_key(t: Template) -> GetAtt:
    """The key that encrypts notebooks at rest; returns its ARN."""
    key = t.add_resource(
        retain(
            Key(
                "NotebookKey",
                Description="Encrypts labcatalog notebooks at rest",
                EnableKeyRotation=True,
                KeyPolicy=notebook_key_policy(),
                Tags=tags(),
            )
        )
    )
    t.add_resource(
        Alias("NotebookKeyAlias", AliasName=names.NOTEBOOK_KEY_ALIAS, TargetKeyId=Ref(key))
    )
    return GetAtt(key, "Arn")


def add_hub_key(t: Template) -> GetAtt:
    """The key that encrypts hub logs, hub state (EFS) and hub secrets; returns its ARN."""
    key = t.add_resource(
        retain(
            Key(
                "HubKey",
                Description="Encrypts labcatalog hub logs, hub state and hub secrets",
                EnableKeyRotation=True,
                KeyPolicy=hub_key_policy(),
                Tags=tags(),
            )
        )
    )
    t.add_resource(Alias("HubKeyAlias", AliasName=names.HUB_KEY_ALIAS, TargetKeyId=Ref(key)))
    return GetAtt(key, "Arn")
