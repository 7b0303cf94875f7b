"""IAM policy documents, built with awacs so every action is a checked constant.

Every ARN is built with `${AWS::Partition}` (and account/region pseudo parameters where it has
them), so the same template works in any partition, account and region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import awacs.cloudformation as cfn
import awacs.ecr as ecr
import awacs.ecs as ecs
import awacs.iam as iam
import awacs.kms as kms
import awacs.logs as logs
import awacs.s3 as s3
import awacs.secretsmanager as secretsmanager
import awacs.ssm as ssm
import awacs.sts as sts
from awacs.aws import (
    Allow,
    ArnLike,
    Bool,
    Condition,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import AWSHelperFn, Sub
from troposphere.iam import Policy as RolePolicy

from generator.cfn import names
from generator.cfn.names import SSM_PREFIX
from generator.model.config import DataLake, Tier

VERSION = "2012-10-17"
# Names of AWS services as IAM knows them (trust principals, iam:PassedToService, kms:ViaService).
ECS_TASKS = "ecs-tasks.amazonaws.com"
EC2 = "ec2.amazonaws.com"
SERVICE_CATALOG = "servicecatalog.amazonaws.com"

Bucket = str | AWSHelperFn  # a literal bucket name or a Ref to one


def s3_arn(bucket: Bucket, path: str = "") -> Sub:
    """ARN of a bucket (path "") or of keys in it (path "/prefix/*")."""
    if isinstance(bucket, str):
        return Sub(f"arn:${{AWS::Partition}}:s3:::{bucket}{path}")
    return Sub(f"arn:${{AWS::Partition}}:s3:::${{Bucket}}{path}", Bucket=bucket)


def objects_under(bucket: Bucket, prefixes: Iterable[str]) -> list[Sub]:
    """ARNs of every object under each prefix."""
    return [s3_arn(bucket, f"/{prefix}*") for prefix in prefixes]


def prefix_condition(prefixes: Iterable[str]) -> Condition:
    """Limit s3:ListBucket/ListBucketVersions to listings at or below the given prefixes."""
    patterns = sorted({p for prefix in prefixes for p in (prefix, f"{prefix}*")})
    return Condition(StringLike("s3:prefix", patterns))


def notebook_prefix(tier: Tier) -> str:
    """Where a tier's notebooks live in the notebook bucket: `<tier>/`."""
    return f"{tier.name}/"


def tier_data_access_policy(
    tier: Tier, lake: DataLake, notebook_bucket: Bucket, notebook_key_arn: AWSHelperFn
) -> PolicyDocument:
    """What a tier's notebook servers may do: its lake prefixes and its notebook prefix, no more."""
    statements = [
        Statement(
            Sid="ListLakeUnderReadPrefixes",
            Effect=Allow,
            Action=[s3.ListBucket],
            Resource=[s3_arn(lake.bucket)],
            Condition=prefix_condition(tier.read),
        ),
        Statement(
            Sid="ReadLakeObjects",
            Effect=Allow,
            Action=[s3.GetObject, s3.GetObjectVersion],
            Resource=objects_under(lake.bucket, tier.read),
        ),
    ]
    if tier.write:
        statements.append(
            Statement(
                Sid="WriteLakeObjects",
                Effect=Allow,
                Action=[s3.PutObject, s3.DeleteObject, s3.AbortMultipartUpload],
                Resource=objects_under(lake.bucket, tier.write),
            )
        )
    home = notebook_prefix(tier)
    statements += [
        Statement(
            Sid="ListNotebooks",
            Effect=Allow,
            # Versions too: a user can bring back an overwritten or deleted notebook.
            Action=[s3.ListBucket, s3.ListBucketVersions],
            Resource=[s3_arn(notebook_bucket)],
            Condition=prefix_condition([home]),
        ),
        Statement(
            Sid="ReadWriteNotebooks",
            Effect=Allow,
            Action=[
                s3.GetObject,
                s3.GetObjectVersion,
                s3.PutObject,
                s3.DeleteObject,
                s3.AbortMultipartUpload,
            ],
            Resource=objects_under(notebook_bucket, [home]),
        ),
    ]
    keys: list[str | AWSHelperFn] = [notebook_key_arn]
    if lake.kms_key_arn:
        keys.append(lake.kms_key_arn)
    statements.append(
        Statement(
            Sid="UseKeysOnlyThroughS3",
            Effect=Allow,
            Action=[kms.Decrypt, kms.GenerateDataKey],
            Resource=keys,
            Condition=Condition(
                StringEquals("kms:ViaService", Sub("s3.${AWS::Region}.amazonaws.com"))
            ),
        )
    )
    return PolicyDocument(Version=VERSION, Statement=statements)


def deny_insecure_transport(buckets: Sequence[Bucket], principal: bool = False) -> Statement:
    """Refuse any S3 request on these buckets that does not use TLS."""
    resources = [arn for bucket in buckets for arn in (s3_arn(bucket), s3_arn(bucket, "/*"))]
    extra = {"Principal": Principal("AWS", "*")} if principal else {}
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Action=[s3.Action("*")],
        Resource=resources,
        Condition=Condition(Bool("aws:SecureTransport", "false")),
        **extra,
    )


def require_tls_policy(buckets: Sequence[Bucket]) -> PolicyDocument:
    """Identity-side TLS guard, for buckets (like the lake) whose bucket policy we do not own."""
    return PolicyDocument(Version=VERSION, Statement=[deny_insecure_transport(buckets)])


def tls_only_bucket_policy(bucket: Bucket) -> PolicyDocument:
    return PolicyDocument(
        Version=VERSION, Statement=[deny_insecure_transport([bucket], principal=True)]
    )


def notebook_role_trust_policy() -> PolicyDocument:
    """ECS tasks of this account (confused-deputy guard) and EC2 instances may assume it."""
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            Statement(
                Sid="EcsTasksOfThisAccount",
                Effect=Allow,
                Principal=Principal("Service", [ECS_TASKS]),
                Action=[sts.AssumeRole],
                Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            ),
            Statement(
                Sid="Ec2Instances",
                Effect=Allow,
                Principal=Principal("Service", [EC2]),
                Action=[sts.AssumeRole],
            ),
        ],
    )


def service_trust_policy(service: str) -> PolicyDocument:
    """Trust one AWS service, acting for this account only."""
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", [service]),
                Action=[sts.AssumeRole],
                Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            )
        ],
    )


def regional_arn(service: str, resource: str, *, account: bool = True) -> Sub:
    """ARN of a resource of `service` in this stack's partition, region and account.

    `account=False` for what AWS itself owns in the region (public images, public parameters).
    """
    owner = "${AWS::AccountId}" if account else ""
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:{owner}:{resource}")


def tier_secrets_arn(tier: Tier) -> Sub:
    """Every Secrets Manager secret of a tier: names under `labcatalog/<tier>/`."""
    return regional_arn("secretsmanager", f"secret:{names.TIER_SECRETS.format(tier=tier.name)}*")


def decrypt_through_secrets_manager(sid: str, key_arn: AWSHelperFn) -> Statement:
    """Decrypt with `key_arn` only when Secrets Manager asks (reading a secret), never directly."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[kms.Decrypt],
        Resource=[key_arn],
        Condition=Condition(
            StringEquals("kms:ViaService", Sub("secretsmanager.${AWS::Region}.amazonaws.com"))
        ),
    )


def task_execution_policy(
    tier: Tier, repository_arn: AWSHelperFn, hub_key_arn: AWSHelperFn
) -> PolicyDocument:
    """What ECS needs to start a tier's hub or user task: image, logs, and the tier's secrets."""
    log_groups = names.TIER_LOG_GROUPS.format(tier=tier.name)
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            ecr_login_statement(),
            pull_image_statement(repository_arn),
            Statement(
                Sid="WriteTaskLogs",
                Effect=Allow,
                Action=[logs.CreateLogStream, logs.PutLogEvents],
                Resource=[regional_arn("logs", f"log-group:{log_groups}*:log-stream:*")],
            ),
            Statement(
                Sid="ReadThisTiersHubSecrets",
                Effect=Allow,
                # A hub's task definition names its secrets; this role can only resolve the ones
                # under its own tier's path, whatever ARN a launch parameter carries.
                Action=[secretsmanager.GetSecretValue],
                Resource=[tier_secrets_arn(tier)],
            ),
            decrypt_through_secrets_manager("DecryptHubSecretsThroughSecretsManager", hub_key_arn),
        ],
    )


def hub_task_policy(
    tier: Tier, notebook_role_arn: AWSHelperFn, execution_role_arn: AWSHelperFn
) -> PolicyDocument:
    """What a tier's hub may do: start, watch and stop its users' Fargate tasks, nothing else.

    The platform stack exists before any hub, so it cannot name a hub's cluster or task
    definition by ARN. The shared-hub product therefore names them with the fixed patterns in
    `generator.cfn.names` (`labcatalog-<tier>_...`), and this policy allows exactly those names.
    """
    clusters = regional_arn(
        "ecs", "cluster/" + names.CLUSTER.format(tier=tier.name, stack=names.WILDCARD)
    )
    in_tier_clusters = Condition(ArnLike("ecs:cluster", clusters))
    user_task_definitions = regional_arn(
        "ecs",
        "task-definition/"
        + names.USER_TASK_FAMILY.format(tier=tier.name, stack=names.WILDCARD)
        + ":*",
    )
    tasks = regional_arn(
        "ecs", "task/" + names.CLUSTER.format(tier=tier.name, stack=names.WILDCARD) + "/*"
    )
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            Statement(
                Sid="RunUserServersInThisTiersClusters",
                Effect=Allow,
                Action=[ecs.RunTask],
                Resource=[user_task_definitions],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="WatchAndStopTasksInThisTiersClusters",
                Effect=Allow,
                Action=[ecs.DescribeTasks, ecs.StopTask],
                Resource=[tasks],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="TagUserServersAtLaunch",
                Effect=Allow,
                Action=[ecs.TagResource],
                Resource=[tasks],
                Condition=Condition(StringEquals("ecs:CreateAction", "RunTask")),
            ),
            Statement(
                Sid="FindOrphanedServersInThisTiersClusters",
                Effect=Allow,
                # At start-up the hub lists its running tasks and reads their tags, to stop the
                # ones its database does not know (labcatalog_hub/reaper.py). ListTasks names
                # no resource of its own: the cluster condition limits it.
                Action=[ecs.ListTasks],
                Resource=["*"],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="ReadServerTaskTags",
                Effect=Allow,
                Action=[ecs.ListTagsForResource],
                Resource=[tasks],
            ),
            Statement(
                Sid="PassOnlyThisTiersTaskRoles",
                Effect=Allow,
                Action=[iam.PassRole],
                Resource=[notebook_role_arn, execution_role_arn],
                Condition=Condition(StringEquals("iam:PassedToService", ECS_TASKS)),
            ),
        ],
    )


def ecr_login_statement() -> Statement:
    """ECR login, which every image pull or push needs."""
    return Statement(
        Sid="EcrLogin",
        Effect=Allow,
        Action=[ecr.GetAuthorizationToken],
        # GetAuthorizationToken is account-wide; AWS accepts no narrower resource.
        Resource=["*"],
    )


def pull_image_statement(repository_arn: AWSHelperFn) -> Statement:
    """Pull images from one repository."""
    return Statement(
        Sid="PullHubImage",
        Effect=Allow,
        Action=[ecr.BatchCheckLayerAvailability, ecr.BatchGetImage, ecr.GetDownloadUrlForLayer],
        Resource=[repository_arn],
    )


def ssm_parameter_arn(name: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{name}")


# IAM changes a launch role must never make, even if someone attaches a broader policy later.
_IAM_WRITES = [
    iam.AddRoleToInstanceProfile,
    iam.AttachGroupPolicy,
    iam.AttachRolePolicy,
    iam.AttachUserPolicy,
    iam.CreateAccessKey,
    iam.CreateGroup,
    iam.CreateInstanceProfile,
    iam.CreateLoginProfile,
    iam.CreatePolicy,
    iam.CreatePolicyVersion,
    iam.CreateRole,
    iam.CreateServiceLinkedRole,
    iam.CreateUser,
    iam.DeleteRolePermissionsBoundary,
    iam.PutGroupPolicy,
    iam.PutRolePermissionsBoundary,
    iam.PutRolePolicy,
    iam.PutUserPolicy,
    iam.SetDefaultPolicyVersion,
    iam.UpdateAssumeRolePolicy,
]


def launch_role_policy(
    tier: Tier,
    passable_role_arns: Sequence[AWSHelperFn],
    product_statements: Sequence[Statement] = (),
) -> PolicyDocument:
    """What Service Catalog may do when it launches a product for `tier`.

    It runs the product's stack, reads labcatalog's parameters, and passes only this tier's
    roles to ECS and EC2. The products add the statements their resources need.
    """
    stack_arn = Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*")
    statements = [
        Statement(
            Sid="RunProvisionedProductStacks",
            Effect=Allow,
            Action=[
                cfn.CreateStack,
                cfn.DeleteStack,
                cfn.DescribeStackEvents,
                cfn.DescribeStacks,
                cfn.SetStackPolicy,
                cfn.UpdateStack,
                cfn.CreateChangeSet,
                cfn.DescribeChangeSet,
                cfn.ExecuteChangeSet,
                cfn.DeleteChangeSet,
            ],
            Resource=[stack_arn],
        ),
        Statement(
            Sid="InspectTemplates",
            Effect=Allow,
            # Neither action supports resource-level permissions.
            Action=[cfn.GetTemplateSummary, cfn.ValidateTemplate],
            Resource=["*"],
        ),
        Statement(
            Sid="ReadProductTemplates",
            Effect=Allow,
            Action=[s3.GetObject],
            # Service Catalog keeps its copy of each template in buckets of its own whose names
            # are not known in advance; AWS documents this tag as the way to scope the read.
            Resource=["*"],
            Condition=Condition(
                StringEquals("s3:ExistingObjectTag/servicecatalog:provisioning", "true")
            ),
        ),
        Statement(
            Sid="ReadLabcatalogParameters",
            Effect=Allow,
            Action=[ssm.GetParameter, ssm.GetParameters],
            Resource=[
                ssm_parameter_arn(f"{SSM_PREFIX}/platform/*"),
                ssm_parameter_arn(f"{SSM_PREFIX}/tiers/{tier.name}/*"),
            ],
        ),
        Statement(
            Sid="PassOnlyThisTiersRoles",
            Effect=Allow,
            Action=[iam.PassRole],
            Resource=list(passable_role_arns),
            Condition=Condition(StringEquals("iam:PassedToService", [ECS_TASKS, EC2])),
        ),
        *product_statements,
        Statement(
            Sid="NeverChangeIam",
            Effect=Deny,
            Action=_IAM_WRITES,
            Resource=["*"],
        ),
    ]
    return PolicyDocument(Version=VERSION, Statement=statements)


def inline(name: str, document: PolicyDocument) -> RolePolicy:
    """An awacs document as a troposphere inline role policy."""
    return RolePolicy(PolicyName=name, PolicyDocument=document)
