"""The account-wide `platform` stack: notebook storage, tier roles, launch roles, hub images.

Launched once per account by the platform team (it is not a catalog product). Products find
what it creates through SSM parameters under `/labcatalog/`.
"""

from __future__ import annotations

import json

import awacs.kms as kms_actions
import awacs.s3 as s3_actions
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import GetAtt, Output, Ref, Sub, Tags, Template
from troposphere.ecr import (
    EncryptionConfiguration,
    ImageScanningConfiguration,
    LifecyclePolicy,
    Repository,
)
from troposphere.iam import InstanceProfile, Role
from troposphere.kms import Alias, Key
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    LoggingConfiguration,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)
from troposphere.ssm import Parameter as SsmParameter

from generator import policies
from generator.checks import skip_checks
from generator.config import Portfolio, Tier
from generator.policies import NAME_PREFIX, SSM_PREFIX

DESCRIPTION = (
    "labcatalog platform: notebook bucket, data tier roles, Service Catalog launch roles and "
    "the hub image repository. Generated from portfolio.yaml; do not edit."
)
ACCESS_LOG_DAYS = 365  # server access logs of the notebook bucket: one year for audits
HUB_IMAGES_KEPT = 30  # the newest hub images stay; older ones expire
UNTAGGED_IMAGE_DAYS = 7
MULTIPART_UPLOAD_DAYS = 7


def _tags(**extra: str) -> Tags:
    return Tags({"labcatalog:stack": "platform", **extra})


def _retain(resource):
    """Data outlives the stack: deleting or replacing it must never delete notebooks or logs."""
    resource.DeletionPolicy = "Retain"
    resource.UpdateReplacePolicy = "Retain"
    return resource


def _private_bucket_settings() -> dict:
    return {
        "PublicAccessBlockConfiguration": PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        "OwnershipControls": OwnershipControls(
            Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        "VersioningConfiguration": VersioningConfiguration(Status="Enabled"),
    }


def notebook_key_policy() -> PolicyDocument:
    """The account administers the key; use is granted by IAM policies (kms:ViaService S3)."""
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="AccountAdministersKeyThroughIam",
                Effect=Allow,
                Principal=Principal(
                    "AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]
                ),
                Action=[kms_actions.Action("*")],
                # In a key policy "*" means this key and nothing else.
                Resource=["*"],
            )
        ],
    )


def access_log_bucket_policy(bucket: Ref, sources: dict[str, Ref]) -> PolicyDocument:
    """S3 may deliver each source bucket's access logs under its own prefix, nothing else."""
    deliveries = [
        Statement(
            Sid=f"AccessLogsOf{name.capitalize()}",
            Effect=Allow,
            Principal=Principal("Service", ["logging.s3.amazonaws.com"]),
            Action=[s3_actions.PutObject],
            Resource=[policies.s3_arn(bucket, f"/{name}/*")],
            Condition=Condition(
                [
                    StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
                    ArnLike("aws:SourceArn", policies.s3_arn(source)),
                ]
            ),
        )
        for name, source in sorted(sources.items())
    ]
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[*deliveries, policies.deny_insecure_transport([bucket], principal=True)],
    )


def _encryption(key_arn: GetAtt | None) -> BucketEncryption:
    """SSE-KMS with `key_arn`, or SSE-S3 where a reader cannot use a customer key."""
    if key_arn is None:
        default = ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
        return BucketEncryption(
            ServerSideEncryptionConfiguration=[
                ServerSideEncryptionRule(ServerSideEncryptionByDefault=default)
            ]
        )
    default = ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=key_arn)
    return BucketEncryption(
        ServerSideEncryptionConfiguration=[
            ServerSideEncryptionRule(BucketKeyEnabled=True, ServerSideEncryptionByDefault=default)
        ]
    )


def _private_bucket(
    logical_id: str,
    *,
    key_arn: GetAtt | None,
    lifecycle: LifecycleRule,
    logs: Ref | None = None,
    log_prefix: str = "",
) -> Bucket:
    """A retained, versioned, encrypted bucket that no one outside the account can reach."""
    extra = {}
    if logs is not None:
        extra["LoggingConfiguration"] = LoggingConfiguration(
            DestinationBucketName=logs, LogFilePrefix=f"{log_prefix}/"
        )
    return _retain(
        Bucket(
            logical_id,
            BucketEncryption=_encryption(key_arn),
            LifecycleConfiguration=LifecycleConfiguration(Rules=[lifecycle]),
            Tags=_tags(),
            **_private_bucket_settings(),
            **extra,
        )
    )


def add_storage(t: Template, portfolio: Portfolio) -> tuple[Ref, GetAtt]:
    """Notebook bucket and its key, product-template bucket, and the access-log bucket of both.

    Returns the notebook bucket and its key ARN.
    """
    key = t.add_resource(
        _retain(
            Key(
                "NotebookKey",
                Description="Encrypts labcatalog notebooks at rest",
                EnableKeyRotation=True,
                KeyPolicy=notebook_key_policy(),
                Tags=_tags(),
            )
        )
    )
    t.add_resource(
        Alias("NotebookKeyAlias", AliasName=f"alias/{NAME_PREFIX}-notebooks", TargetKeyId=Ref(key))
    )
    logs = t.add_resource(
        skip_checks(
            _private_bucket(
                "AccessLogBucket",
                # S3 server access logging can only deliver to SSE-S3 buckets.
                key_arn=None,
                lifecycle=LifecycleRule(
                    Id="ExpireAccessLogs",
                    Status="Enabled",
                    ExpirationInDays=ACCESS_LOG_DAYS,
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
                ),
            ),
            "CKV_AWS_18",
        )
    )
    bucket = t.add_resource(
        _private_bucket(
            "NotebookBucket",
            key_arn=GetAtt(key, "Arn"),
            lifecycle=LifecycleRule(
                Id="ExpireOldNotebookVersions",
                Status="Enabled",
                NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                    NoncurrentDays=portfolio.notebooks.noncurrent_version_days
                ),
                AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                    DaysAfterInitiation=MULTIPART_UPLOAD_DAYS
                ),
            ),
            logs=Ref(logs),
            log_prefix="notebooks",
        )
    )
    templates = t.add_resource(
        _private_bucket(
            "TemplateBucket",
            # Service Catalog reads product templates with the publisher's rights through a URL;
            # a customer-managed key would need a key grant to Service Catalog, so SSE-S3.
            key_arn=None,
            lifecycle=LifecycleRule(
                Id="AbortIncompleteUploads",
                Status="Enabled",
                AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                    DaysAfterInitiation=MULTIPART_UPLOAD_DAYS
                ),
            ),
            logs=Ref(logs),
            log_prefix="templates",
        )
    )
    t.add_resource(
        BucketPolicy(
            "AccessLogBucketPolicy",
            Bucket=Ref(logs),
            PolicyDocument=access_log_bucket_policy(
                Ref(logs), {"notebooks": Ref(bucket), "templates": Ref(templates)}
            ),
        )
    )
    for resource in (bucket, templates):
        t.add_resource(
            BucketPolicy(
                f"{resource.title}Policy",
                Bucket=Ref(resource),
                PolicyDocument=policies.tls_only_bucket_policy(Ref(resource)),
            )
        )
    t.add_output(Output("TemplateBucketName", Value=Ref(templates)))
    t.add_resource(
        SsmParameter(
            "TemplateBucketNameParameter",
            Name=f"{SSM_PREFIX}/platform/template-bucket",
            Type="String",
            Value=Ref(templates),
            Description="labcatalog platform: bucket of published product templates",
        )
    )
    return Ref(bucket), GetAtt(key, "Arn")


def add_hub_images(t: Template) -> Repository:
    """ECR repository for the hub image, and the role ECS uses to pull it and write logs."""
    lifecycle = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_IMAGE_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the newest {HUB_IMAGES_KEPT} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": HUB_IMAGES_KEPT,
                },
                "action": {"type": "expire"},
            },
        ]
    }
    repository = t.add_resource(
        Repository(
            "HubRepository",
            RepositoryName=f"{NAME_PREFIX}/hub",
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS"),
            LifecyclePolicy=LifecyclePolicy(
                LifecyclePolicyText=json.dumps(lifecycle, sort_keys=True)
            ),
            Tags=_tags(),
        )
    )
    t.add_resource(
        Role(
            "TaskExecutionRole",
            RoleName=f"{NAME_PREFIX}-task-execution",
            Description="Lets ECS pull the hub image and write task logs",
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.ECS_TASKS),
            Policies=[
                policies.inline(
                    "pull-image-write-logs",
                    policies.task_execution_policy(GetAtt(repository, "Arn")),
                )
            ],
            Tags=_tags(),
        )
    )
    return repository


def add_tier(t: Template, portfolio: Portfolio, tier: Tier, bucket: Ref, key_arn: GetAtt) -> None:
    """A tier's notebook role (+ instance profile) and its Service Catalog launch role."""
    tid = tier.logical_id
    role = t.add_resource(
        Role(
            f"{tid}NotebookRole",
            RoleName=f"{NAME_PREFIX}-{tier.name}-notebook",
            Description=f"Notebook servers of tier {tier.name}: its data lake prefixes only",
            AssumeRolePolicyDocument=policies.notebook_role_trust_policy(),
            Policies=[
                policies.inline(
                    "data-access",
                    policies.tier_data_access_policy(tier, portfolio.data_lake, bucket, key_arn),
                ),
                policies.inline(
                    "require-tls",
                    policies.require_tls_policy([portfolio.data_lake.bucket, bucket]),
                ),
            ],
            Tags=_tags(**{"labcatalog:tier": tier.name}),
        )
    )
    profile = t.add_resource(
        InstanceProfile(
            f"{tid}InstanceProfile",
            InstanceProfileName=f"{NAME_PREFIX}-{tier.name}-notebook",
            Roles=[Ref(role)],
        )
    )
    launch = t.add_resource(
        Role(
            f"{tid}LaunchRole",
            # Launch constraints name this role (LocalRoleName), so the name is fixed.
            RoleName=f"{NAME_PREFIX}-{tier.name}-launch",
            Description=f"Service Catalog launches products of tier {tier.name} with this role",
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.SERVICE_CATALOG),
            Policies=[
                policies.inline(
                    "launch-products",
                    policies.launch_role_policy(
                        tier,
                        passable_role_arns=[
                            GetAtt(role, "Arn"),
                            GetAtt("TaskExecutionRole", "Arn"),
                        ],
                    ),
                )
            ],
            Tags=_tags(**{"labcatalog:tier": tier.name}),
        )
    )
    parameters = {
        "NotebookRoleArn": ("notebook-role-arn", GetAtt(role, "Arn")),
        "InstanceProfileName": ("instance-profile-name", Ref(profile)),
        "LaunchRoleArn": ("launch-role-arn", GetAtt(launch, "Arn")),
    }
    for suffix, (name, value) in parameters.items():
        t.add_resource(
            SsmParameter(
                f"{tid}{suffix}Parameter",
                Name=f"{SSM_PREFIX}/tiers/{tier.name}/{name}",
                Type="String",
                Value=value,
                Description=f"labcatalog tier {tier.name}: {name.replace('-', ' ')}",
            )
        )
    t.add_output(Output(f"{tid}NotebookRoleArn", Value=GetAtt(role, "Arn")))
    t.add_output(Output(f"{tid}LaunchRoleName", Value=Ref(launch)))


def build(portfolio: Portfolio) -> Template:
    """The platform template for a validated portfolio; pure, no I/O."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    bucket, key_arn = add_storage(t, portfolio)
    repository = add_hub_images(t)
    shared = {
        "NotebookBucketName": ("notebook-bucket", bucket),
        "NotebookKeyArn": ("notebook-key-arn", key_arn),
        "HubRepositoryUri": ("hub-repository-uri", GetAtt(repository, "RepositoryUri")),
        "TaskExecutionRoleArn": ("task-execution-role-arn", GetAtt("TaskExecutionRole", "Arn")),
    }
    for output, (name, value) in shared.items():
        t.add_resource(
            SsmParameter(
                f"{output}Parameter",
                Name=f"{SSM_PREFIX}/platform/{name}",
                Type="String",
                Value=value,
                Description=f"labcatalog platform: {name.replace('-', ' ')}",
            )
        )
        t.add_output(Output(output, Value=value))
    for tier in portfolio.tiers:
        add_tier(t, portfolio, tier, bucket, key_arn)
    return t
