"""The platform's buckets: notebooks, published templates, load balancer logs, access logs."""

from __future__ import annotations

from dataclasses import dataclass

import awacs.s3 as s3_actions
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
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
    Template,
)
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
from products.platform.common import retain, tags

ACCESS_LOG_DAYS = 365  # server and load balancer access logs: one year for audits
MULTIPART_UPLOAD_DAYS = 7


@dataclass(frozen=True)
class Storage:
    """The buckets products and tiers use."""

    notebook_bucket: Ref
    template_bucket: Ref
    load_balancer_logs: Ref


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


ACCESS_LOG_BUCKET = "AccessLogBucket"  # its logical id


def private_bucket(
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
    return retain(
        Bucket(
            logical_id,
            BucketEncryption=_encryption(key_arn),
            LifecycleConfiguration=LifecycleConfiguration(Rules=[lifecycle]),
            Tags=tags(),
            **_private_bucket_settings(),
            **extra,
        )
    )


def add_storage(
    t: Template,
    noncurrent_version_days: int,
    notebook_key_arn: GetAtt,
    logged: dict[str, Ref] | None = None,
) -> Storage:
    """Notebook bucket (encrypted with `notebook_key_arn`, overwritten versions kept
    `noncurrent_version_days`), product-template and load balancer log buckets, and the
    access-log bucket of all three and of the `logged` ones (prefix -> bucket) made elsewhere."""
    logs = t.add_resource(
        skip_checks(
            private_bucket(
                ACCESS_LOG_BUCKET,
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
        private_bucket(
            "NotebookBucket",
            key_arn=notebook_key_arn,
            lifecycle=LifecycleRule(
                Id="ExpireOldNotebookVersions",
                Status="Enabled",
                NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                    NoncurrentDays=noncurrent_version_days
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
        private_bucket(
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
        private_bucket(
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
                    **(logged or {}),
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
            Name=names.TEMPLATE_BUCKET_PARAMETER,
            Type="String",
            Value=Ref(templates),
            Description="labcatalog platform: bucket of published product templates",
        )
    )
    return Storage(Ref(bucket), Ref(templates), Ref(balancer_logs))
