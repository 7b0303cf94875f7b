"""IAM policy documents, built with awacs so every action is a checked constant.

Every ARN is built with `${AWS::Partition}` (and account/region pseudo parameters where it has
them), so the same template works in any partition, account and region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import awacs.cloudformation as cfn
import awacs.ecr as ecr
import awacs.iam as iam
import awacs.kms as kms
import awacs.s3 as s3
import awacs.ssm as ssm
import awacs.sts as sts
from awacs.aws import (
    Allow,
    Bool,
    Condition,
    Deny,
    ForAllValuesStringEquals,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import AWSHelperFn, Sub
from troposphere.iam import Policy as RolePolicy

from generator.cfn import names

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


def notebook_prefix(tier: str) -> str:
    """Where a tier's notebooks live in the notebook bucket: `<tier>/`."""
    return f"{tier}/"


def tier_data_access_policy(
    *,
    lake_bucket: Bucket,
    lake_key_arn: str | None,
    read: Sequence[str],
    write: Sequence[str],
    notebooks: str,
    notebook_bucket: Bucket,
    notebook_key_arn: AWSHelperFn,
    tier: str | None = None,
) -> PolicyDocument:
    """What a tier's users may do: read (and write) these lake prefixes and their notebooks
    under the `notebooks` prefix of the notebook bucket, no more; given the `tier`, also each
    user's own folder of it (`user_folder_statements`)."""
    statements = [
        Statement(
            Sid="ListLakeUnderReadPrefixes",
            Effect=Allow,
            Action=[s3.ListBucket],
            Resource=[s3_arn(lake_bucket)],
            Condition=prefix_condition(read),
        ),
        Statement(
            Sid="ReadLakeObjects",
            Effect=Allow,
            Action=[s3.GetObject, s3.GetObjectVersion],
            Resource=objects_under(lake_bucket, read),
        ),
    ]
    if write:
        statements.append(
            Statement(
                Sid="WriteLakeObjects",
                Effect=Allow,
                Action=[s3.PutObject, s3.DeleteObject, s3.AbortMultipartUpload],
                Resource=objects_under(lake_bucket, write),
            )
        )
    home = notebooks
    statements += user_folder_statements(tier, notebook_bucket) if tier else []
    # Versions too: a user can bring back an overwritten or deleted notebook.
    statements += _folder_statements(
        "Notebooks", notebook_bucket, home, objects_under(notebook_bucket, [home])
    )
    keys: list[str | AWSHelperFn] = [notebook_key_arn]
    if lake_key_arn:
        keys.append(lake_key_arn)
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


def user_folder(tier: str) -> str:
    """The caller's own folder of `tier` in the notebook bucket, as an IAM policy variable."""
    return names.USER_FOLDER.format(tier=tier, identity=names.SOURCE_IDENTITY)


def user_folder_statements(tier: str, notebook_bucket: Bucket) -> list[Statement]:
    """Each person's folder, by the source identity their hub set: nobody else's, not even a
    teammate's (another identity names another folder). A session without a source identity
    leaves the variable unresolved, and the statements match nothing."""
    folder = user_folder(tier)
    in_sub = folder.replace("${", "${!")  # a policy variable inside a Sub string
    return _folder_statements(
        "OwnFolder", notebook_bucket, folder, [s3_arn(notebook_bucket, f"/{in_sub}*")]
    )


def _folder_statements(name: str, bucket: Bucket, prefix, objects: list) -> list[Statement]:
    """List (versions too) under `prefix` of `bucket`, and read, write and delete `objects`."""
    return [
        Statement(
            Sid=f"List{name}",
            Effect=Allow,
            Action=[s3.ListBucket, s3.ListBucketVersions],
            Resource=[s3_arn(bucket)],
            Condition=prefix_condition([prefix]),
        ),
        Statement(
            Sid=f"ReadWrite{name}",
            Effect=Allow,
            Action=[
                s3.GetObject,
                s3.GetObjectVersion,
                s3.PutObject,
                s3.DeleteObject,
                s3.AbortMultipartUpload,
            ],
            Resource=objects,
        ),
    ]


def role_arn(name: str) -> Sub:
    """ARN of an IAM role of this account, by name (for roles another stack or part makes)."""
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")


# What a hub does when it gets a user's credentials: assume the tier's data role, naming the
# person (source identity) and tagging the session with them and the tier.
ASSUME_FOR_A_PERSON = [sts.AssumeRole, sts.SetSourceIdentity, sts.TagSession]


def data_role_trust_policy(tier: str, brokers: Sequence[AWSHelperFn]) -> PolicyDocument:
    """Only the tier's hubs (`brokers`: their roles) may assume the data role, and only for one
    person: with a source identity and exactly the user and tier session tags, the tier's own.

    One statement per action, each with the condition keys IAM documents for that action
    (TagSession takes no sts:SourceIdentity), and AssumeRole with all of them, so a request
    without tags (where TagSession is not asked) is refused too. A source identity, once set,
    stays on every session chained from this one and cannot be changed; a user's server never
    holds a broker's credentials, so no user can name another.
    """
    person = Null({"sts:SourceIdentity": "false"})
    tags = [
        StringLike({f"aws:RequestTag/{names.USER_TAG}": "?*"}),
        StringEquals({f"aws:RequestTag/{names.TIER_TAG}": tier}),
        ForAllValuesStringEquals({"aws:TagKeys": [names.USER_TAG, names.TIER_TAG]}),
    ]
    hubs = Principal("AWS", list(brokers))
    return PolicyDocument(
        Version=VERSION,
        Statement=[
            Statement(
                Sid="ThisTiersHubsForOnePerson",
                Effect=Allow,
                Principal=hubs,
                Action=[sts.AssumeRole],
                Condition=Condition([person, *tags]),
            ),
            Statement(
                Sid="NamingThePerson",
                Effect=Allow,
                Principal=hubs,
                Action=[sts.SetSourceIdentity],
                Condition=Condition(person),
            ),
            Statement(
                Sid="TaggingThePersonAndTier",
                Effect=Allow,
                Principal=hubs,
                Action=[sts.TagSession],
                Condition=Condition(tags),
            ),
        ],
    )


def assume_data_role_statement(tier: str) -> Statement:
    """A hub's right to get its users' credentials: the tier's data role, for one person."""
    return Statement(
        Sid="AssumeThisTiersDataRoleForItsUsers",
        Effect=Allow,
        Action=ASSUME_FOR_A_PERSON,
        Resource=[role_arn(names.DATA_ROLE.format(tier=tier))],
    )


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
    """ECS tasks of this account (confused-deputy guard) may assume it: the shared hub's user
    servers run with it (it reaches no data: their hub gives them their user's). Nothing else
    does (a personal hub's instance has a role of its own)."""
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


def tier_secrets_arn(tier: str) -> Sub:
    """Every Secrets Manager secret of a tier: names under `labcatalog/<tier>/`."""
    return regional_arn("secretsmanager", f"secret:{names.TIER_SECRETS.format(tier=tier)}*")


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


def _service_id(service: str) -> str:
    """ "ecs-tasks.amazonaws.com" -> "EcsTasks", for statement ids."""
    return "".join(part.capitalize() for part in service.split(".")[0].split("-"))


def pass_roles_statements(passable: Mapping[str, Sequence[AWSHelperFn]]) -> list[Statement]:
    """PassRole on exactly these roles, each only to the service that runs it; one statement
    per service (sorted), so no role can be passed to a service no product needs. And reading
    those roles, which CloudFormation does before it names one (a task definition's)."""
    roles = [arn for service in sorted(passable) for arn in passable[service]]
    statements = []
    if roles:
        statements.append(
            Statement(
                Sid="ReadThisTiersPassableRoles", Effect=Allow, Action=[iam.GetRole], Resource=roles
            )
        )
    return statements + [
        Statement(
            Sid=f"PassOnlyThisTiersRolesTo{_service_id(service)}",
            Effect=Allow,
            Action=[iam.PassRole],
            Resource=list(passable[service]),
            Condition=Condition(StringEquals("iam:PassedToService", service)),
        )
        for service in sorted(passable)
        if passable[service]
    ]


def launch_role_policy(
    tier: str,
    passable: Mapping[str, Sequence[AWSHelperFn]],
    product_statements: Sequence[Statement] = (),
) -> PolicyDocument:
    """What Service Catalog may do when it launches a product for `tier`.

    It runs the product's stack, reads labcatalog's parameters, and passes only this tier's
    roles, each to its service (`passable`: service -> role ARNs). The products add the
    statements their resources need.
    """
    stack_arn = Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*")
    # Service Catalog tags a provisioned product's stack with the portfolio's TagOptions; each
    # tier's portfolio has its tier's (the publisher), so a stack says which tier it serves.
    statements = [
        Statement(
            Sid="CreateThisTiersStacks",
            Effect=Allow,
            Action=[cfn.CreateStack],
            Resource=[stack_arn],
            Condition=Condition(StringEquals(f"aws:RequestTag/{names.TIER_TAG}", tier)),
        ),
        Statement(
            Sid="RunThisTiersStacks",
            Effect=Allow,
            Action=[
                cfn.DeleteStack,
                cfn.SetStackPolicy,
                cfn.UpdateStack,
                cfn.CreateChangeSet,
                cfn.DescribeChangeSet,
                cfn.ExecuteChangeSet,
                cfn.DeleteChangeSet,
            ],
            Resource=[stack_arn],
            Condition=Condition(StringEquals(f"aws:ResourceTag/{names.TIER_TAG}", tier)),
        ),
        Statement(
            Sid="ReadProvisionedProductStacks",
            Effect=Allow,
            Action=[cfn.DescribeStackEvents, cfn.DescribeStacks],
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
                ssm_parameter_arn(names.PLATFORM_PARAMETERS),
                ssm_parameter_arn(names.TIER_PARAMETERS.format(tier=tier)),
            ],
        ),
        *pass_roles_statements(passable),
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
