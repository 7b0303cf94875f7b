"""The account-wide `platform` stack: notebook storage, tier roles, launch roles, hub images.

Launched once per account by the platform team (it is not a catalog product). Products find
what it creates through SSM parameters under `/labcatalog/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
from troposphere import (
    Equals,
    FindInMap,
    GetAtt,
    If,
    NoValue,
    Or,
    Output,
    Ref,
    Sub,
    Tags,
    Template,
)
from troposphere.ecr import (
    EncryptionConfiguration,
    ImageScanningConfiguration,
    LifecyclePolicy,
    Repository,
)
from troposphere.iam import InstanceProfile, ManagedPolicy, Role
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

from generator.cfn import names, policies
from generator.cfn.checks import skip_checks
from generator.cfn.names import NAME_PREFIX, SSM_PREFIX
from generator.cfn.tags import stack_tags
from generator.model.config import Portfolio, Tier
from products.hub_image.codebuild import add_hub_image_build
from products.personal_hub import launch as personal_hub_launch
from products.personal_hub import platform as personal_hub_platform
from products.shared_hub import launch as shared_hub_launch

DESCRIPTION = (
    "labcatalog platform: notebook bucket, data tier roles, Service Catalog launch roles and "
    "the hub image repository. Generated from portfolio.yaml; do not edit."
)
ACCESS_LOG_DAYS = 365  # server and load balancer access logs: one year for audits
HUB_IMAGES_KEPT = 30  # the newest hub images stay; older ones expire
UNTAGGED_IMAGE_DAYS = 7
MULTIPART_UPLOAD_DAYS = 7


def _tags(**extra: str) -> Tags:
    return stack_tags("platform", **extra)


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


def hub_key_policy() -> PolicyDocument:
    """The hub key: administered through IAM; CloudWatch Logs may use it for labcatalog's logs.

    Logs uses the key as a service principal, so the key policy (not IAM) must allow it; the
    encryption context limits that to log groups under /labcatalog/ in this account and region.
    """
    account = notebook_key_policy().Statement[0]
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            account,
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


# Regions opened before August 2022 deliver load balancer access logs from an AWS-owned account
# of the region; later regions use the log delivery service principal. Source: the Elastic Load
# Balancing guide, "Enable access logs" (the same table as aws-cdk-lib's region facts).
ELB_LOG_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
ELB_LOG_ACCOUNTS_MAP = "ElbLogDeliveryAccounts"
LEGACY_ELB_REGION = "RegionDeliversElbLogsFromAnAccount"
LOAD_BALANCER_LOG_PREFIX = "shared-hub"


def _any_region(t: Template, regions: list[str]) -> None:
    """Condition LEGACY_ELB_REGION: this stack's region is one of `regions` (Fn::Or takes <= 10)."""
    groups = [regions[i : i + 9] for i in range(0, len(regions), 9)]
    for n, group in enumerate(groups):
        t.add_condition(
            f"{LEGACY_ELB_REGION}{n}",
            Or(*[Equals(Ref("AWS::Region"), region) for region in group]),
        )
    t.add_condition(
        LEGACY_ELB_REGION,
        Or(*[{"Condition": f"{LEGACY_ELB_REGION}{n}"} for n in range(len(groups))]),
    )


def load_balancer_log_bucket_policy(bucket: Ref) -> dict:
    """Elastic Load Balancing may write access logs under `*/AWSLogs/<this account>/`, no more."""
    logs = policies.s3_arn(bucket, "/*/AWSLogs/${AWS::AccountId}/*")
    service = Statement(
        Sid="LoadBalancerLogDelivery",
        Effect=Allow,
        Principal=Principal("Service", ["logdelivery.elasticloadbalancing.amazonaws.com"]),
        Action=[s3_actions.PutObject],
        Resource=[logs],
    )
    legacy = Statement(
        Sid="LoadBalancerLogDeliveryFromTheRegionsAccount",
        Effect=Allow,
        Principal=Principal(
            "AWS",
            [
                Sub(
                    "arn:${AWS::Partition}:iam::${ElbAccount}:root",
                    ElbAccount=FindInMap(ELB_LOG_ACCOUNTS_MAP, Ref("AWS::Region"), "Account"),
                )
            ],
        ),
        Action=[s3_actions.PutObject],
        Resource=[logs],
    )
    tls = policies.deny_insecure_transport([bucket], principal=True)
    return {
        "Version": policies.VERSION,
        "Statement": [
            service,
            If(LEGACY_ELB_REGION, legacy, NoValue),
            tls,
        ],
    }


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


def add_storage(t: Template, portfolio: Portfolio) -> tuple[Ref, GetAtt, Ref]:
    """Notebook bucket and its key, product-template and load balancer log buckets, and the
    access-log bucket of all three.

    Returns the notebook bucket, its key ARN and the load balancer log bucket.
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
    balancer_logs = t.add_resource(
        _private_bucket(
            "LoadBalancerLogBucket",
            # Elastic Load Balancing delivers access logs only to SSE-S3 buckets.
            key_arn=None,
            lifecycle=LifecycleRule(
                Id="ExpireLoadBalancerLogs",
                Status="Enabled",
                ExpirationInDays=ACCESS_LOG_DAYS,
                NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
            ),
            logs=Ref(logs),
            log_prefix="balancers",
        )
    )
    t.add_mapping(
        ELB_LOG_ACCOUNTS_MAP,
        {region: {"Account": account} for region, account in sorted(ELB_LOG_ACCOUNTS.items())},
    )
    _any_region(t, sorted(ELB_LOG_ACCOUNTS))
    t.add_resource(
        BucketPolicy(
            "LoadBalancerLogBucketPolicy",
            Bucket=Ref(balancer_logs),
            PolicyDocument=load_balancer_log_bucket_policy(Ref(balancer_logs)),
        )
    )
    t.add_resource(
        BucketPolicy(
            "AccessLogBucketPolicy",
            Bucket=Ref(logs),
            PolicyDocument=access_log_bucket_policy(
                Ref(logs),
                {
                    "balancers": Ref(balancer_logs),
                    "notebooks": Ref(bucket),
                    "templates": Ref(templates),
                },
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
    return Ref(bucket), GetAtt(key, "Arn"), Ref(balancer_logs)


def add_hub_key(t: Template) -> GetAtt:
    """The key that encrypts hub logs, hub state (EFS) and hub secrets; returns its ARN."""
    key = t.add_resource(
        _retain(
            Key(
                "HubKey",
                Description="Encrypts labcatalog hub logs, hub state and hub secrets",
                EnableKeyRotation=True,
                KeyPolicy=hub_key_policy(),
                Tags=_tags(),
            )
        )
    )
    t.add_resource(Alias("HubKeyAlias", AliasName=f"alias/{NAME_PREFIX}-hub", TargetKeyId=Ref(key)))
    return GetAtt(key, "Arn")


def add_hub_images(t: Template) -> Repository:
    """ECR repository for the hub image (each tier's execution role pulls from it)."""
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
            RepositoryName=names.HUB_REPOSITORY,
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS"),
            LifecyclePolicy=LifecyclePolicy(
                LifecyclePolicyText=json.dumps(lifecycle, sort_keys=True)
            ),
            Tags=_tags(),
        )
    )
    return repository


def add_launch_policies(t: Template, portfolio: Portfolio, hub_key_arn: GetAtt) -> list:
    """Managed policies that every tier's launch role needs alike for the configured products."""
    found = {}
    if portfolio.products.shared_hub is not None:
        found.update(shared_hub_launch.shared_launch_policies(hub_key_arn))
    return [
        t.add_resource(
            ManagedPolicy(
                f"Launch{''.join(w.capitalize() for w in name.split('-'))}Policy",
                ManagedPolicyName=f"{NAME_PREFIX}-launch-{name}",
                Description=f"Service Catalog may manage {name} resources (account-wide part)",
                PolicyDocument=PolicyDocument(Version=policies.VERSION, Statement=statements),
            )
        )
        for name, statements in sorted(found.items())
    ]


@dataclass(frozen=True)
class Shared:
    """What every tier's resources refer to, created once by the platform stack."""

    notebook_bucket: Ref
    notebook_key_arn: GetAtt
    hub_key_arn: GetAtt
    repository_arn: GetAtt
    launch_policies: list[ManagedPolicy]


def add_tier_task_roles(t: Template, tier: Tier, shared: Shared, notebook_role: Role) -> tuple:
    """A tier's ECS task execution role and its hub task role; returns both.

    Product stacks may not create IAM roles (the launch role denies it), so the roles a hub
    runs with are made here, one pair per tier: a hub of one tier can neither read another
    tier's secrets nor start tasks with another tier's role.
    """
    tid = tier.logical_id
    execution = t.add_resource(
        Role(
            f"{tid}TaskExecutionRole",
            RoleName=f"{NAME_PREFIX}-{tier.name}-task-execution",
            Description=(
                f"Lets ECS start tasks of tier {tier.name}: pull the hub image, write logs, "
                "read this tier's hub secrets"
            ),
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.ECS_TASKS),
            Policies=[
                policies.inline(
                    "start-tasks",
                    policies.task_execution_policy(tier, shared.repository_arn, shared.hub_key_arn),
                )
            ],
            Tags=_tags(**{names.TIER_TAG: tier.name}),
        )
    )
    hub = t.add_resource(
        Role(
            f"{tid}HubTaskRole",
            RoleName=f"{NAME_PREFIX}-{tier.name}-hub",
            Description=(
                f"JupyterHub of tier {tier.name}: starts and stops its users' Fargate tasks"
            ),
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.ECS_TASKS),
            Policies=[
                policies.inline(
                    "spawn-user-servers",
                    policies.hub_task_policy(
                        tier, GetAtt(notebook_role, "Arn"), GetAtt(execution, "Arn")
                    ),
                )
            ],
            Tags=_tags(**{names.TIER_TAG: tier.name}),
        )
    )
    return execution, hub


def add_tier(t: Template, portfolio: Portfolio, tier: Tier, shared: Shared) -> None:
    """A tier's notebook role (+ instance profile), task roles and Service Catalog launch role."""
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
                    policies.tier_data_access_policy(
                        tier, portfolio.data_lake, shared.notebook_bucket, shared.notebook_key_arn
                    ),
                ),
                policies.inline(
                    "require-tls",
                    policies.require_tls_policy(
                        [portfolio.data_lake.bucket, shared.notebook_bucket]
                    ),
                ),
            ],
            Tags=_tags(**{names.TIER_TAG: tier.name}),
        )
    )
    profile = t.add_resource(
        InstanceProfile(
            f"{tid}InstanceProfile",
            InstanceProfileName=f"{NAME_PREFIX}-{tier.name}-notebook",
            Roles=[Ref(role)],
        )
    )
    execution, hub = add_tier_task_roles(t, tier, shared, role)
    passable = [GetAtt(role, "Arn"), GetAtt(hub, "Arn"), GetAtt(execution, "Arn")]
    managed = [Ref(policy) for policy in shared.launch_policies]
    product_statements = []
    if portfolio.products.shared_hub is not None:
        product_statements += shared_hub_launch.tier_launch_statements(tier)
    if portfolio.products.personal_hub is not None:
        instance_role = personal_hub_platform.add_tier(
            t, tier, role, shared.repository_arn, shared.hub_key_arn
        )
        passable.append(GetAtt(instance_role, "Arn"))
        # Its own managed policy: inline, it would push the launch role past IAM's quota.
        personal = t.add_resource(
            ManagedPolicy(
                f"{tid}LaunchPersonalHubPolicy",
                ManagedPolicyName=f"{NAME_PREFIX}-{tier.name}-launch-personal-hub",
                Description=f"Service Catalog may manage tier {tier.name}'s personal hubs",
                PolicyDocument=PolicyDocument(
                    Version=policies.VERSION,
                    Statement=personal_hub_launch.launch_statements(tier),
                ),
            )
        )
        managed.append(Ref(personal))
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
                        passable_role_arns=passable,
                        product_statements=product_statements,
                    ),
                )
            ],
            ManagedPolicyArns=managed,
            Tags=_tags(**{names.TIER_TAG: tier.name}),
        )
    )
    parameters = {
        "NotebookRoleArn": ("notebook-role-arn", GetAtt(role, "Arn")),
        "InstanceProfileName": ("instance-profile-name", Ref(profile)),
        "LaunchRoleArn": ("launch-role-arn", GetAtt(launch, "Arn")),
        "HubTaskRoleArn": ("hub-task-role-arn", GetAtt(hub, "Arn")),
        "TaskExecutionRoleArn": ("task-execution-role-arn", GetAtt(execution, "Arn")),
    }
    for suffix, (name, value) in parameters.items():
        t.add_resource(
            SsmParameter(
                f"{tid}{suffix}Parameter",
                Name=names.tier_parameter(tier.name, name),
                Type="String",
                Value=value,
                Description=f"labcatalog tier {tier.name}: {name.replace('-', ' ')}",
            )
        )
    t.add_output(Output(f"{tid}NotebookRoleArn", Value=GetAtt(role, "Arn")))
    t.add_output(Output(f"{tid}HubTaskRoleArn", Value=GetAtt(hub, "Arn")))
    t.add_output(Output(f"{tid}TaskExecutionRoleArn", Value=GetAtt(execution, "Arn")))
    t.add_output(Output(f"{tid}LaunchRoleName", Value=Ref(launch)))


def build(portfolio: Portfolio) -> Template:
    """The platform template for a validated portfolio; pure, no I/O."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    bucket, key_arn, balancer_logs = add_storage(t, portfolio)
    hub_key_arn = add_hub_key(t)
    repository = add_hub_images(t)
    # The hub image is built in the account (CodeBuild) from a zip of products/hub_image that
    # is uploaded to the template bucket, under the HubImageSourceKey parameter.
    add_hub_image_build(
        t,
        GetAtt(repository, "RepositoryUri"),
        GetAtt(repository, "Arn"),
        hub_key_arn,
        source_bucket=Ref("TemplateBucket"),
    )
    published = {
        "NotebookBucketName": ("notebook-bucket", bucket),
        "NotebookKeyArn": ("notebook-key-arn", key_arn),
        "HubRepositoryUri": ("hub-repository-uri", GetAtt(repository, "RepositoryUri")),
        "HubKeyArn": ("hub-key-arn", hub_key_arn),
        "LoadBalancerLogBucketName": ("load-balancer-log-bucket", balancer_logs),
    }
    for output, (name, value) in published.items():
        t.add_resource(
            SsmParameter(
                f"{output}Parameter",
                Name=names.platform_parameter(name),
                Type="String",
                Value=value,
                Description=f"labcatalog platform: {name.replace('-', ' ')}",
            )
        )
        t.add_output(Output(output, Value=value))
    shared = Shared(
        bucket,
        key_arn,
        hub_key_arn,
        GetAtt(repository, "Arn"),
        add_launch_policies(t, portfolio, hub_key_arn),
    )
    if portfolio.products.personal_hub is not None:
        personal_hub_platform.add_documents(t)
        personal_hub_platform.add_alarm_actions_role(t)
    for tier in portfolio.tiers:
        add_tier(t, portfolio, tier, shared)
    return t
