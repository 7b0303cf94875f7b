"""The audit trail of the tiers marked `audit: true`: who read (or wrote) what under their prefixes.

One CloudTrail trail for the account (CloudTrail allows five per region, so not one per tier),
with one advanced event selector per audited tier: S3 data events on objects under exactly that
tier's read prefixes in the lake (its write prefixes are under them). Each record names the role
session and its source identity, which the hub sets to the person (labcatalog_hub/credentials.py),
so "who read this prefix" has a person for an answer, not a tier's role.

The trail writes to a bucket of its own that nothing can delete from: S3 Object Lock in
compliance mode keeps every log file for `RETENTION_DAYS` (no user, not even the account's root,
can delete or shorten it), and the bucket policy denies deleting objects and versions to
everyone besides. README.md, "Who read this prefix last week", queries it with Athena.
"""

from __future__ import annotations

from collections.abc import Sequence

import awacs.s3 as s3
from awacs.aws import Allow, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Output, Ref, Sub, Template
from troposphere.cloudtrail import AdvancedEventSelector, AdvancedFieldSelector, Trail
from troposphere.s3 import (
    BucketPolicy,
    DefaultRetention,
    LifecycleRule,
    NoncurrentVersionExpiration,
    ObjectLockConfiguration,
    ObjectLockRule,
)

from generator.cfn import names, policies
from generator.cfn.checks import skip_checks
from generator.model.config import DataLake, Tier
from products.platform import storage
from products.platform.common import tags

RETENTION_DAYS = 400  # a year of reads, and the time to audit the last of them
CLOUDTRAIL = "cloudtrail.amazonaws.com"
LOG_PREFIX = "audit"  # of the audit bucket's own access logs, in the access-log bucket


def trail_arn() -> Sub:
    return policies.regional_arn("cloudtrail", f"trail/{names.AUDIT_TRAIL}")


def event_selectors(lake: DataLake, tiers: Sequence[Tier]) -> list[AdvancedEventSelector]:
    """One selector per audited tier: data events on the lake's objects under its read prefixes."""
    return [
        AdvancedEventSelector(
            Name=f"tier {tier.name}: objects under its read prefixes",
            FieldSelectors=[
                AdvancedFieldSelector(Field="eventCategory", Equals=["Data"]),
                AdvancedFieldSelector(Field="resources.type", Equals=["AWS::S3::Object"]),
                AdvancedFieldSelector(
                    Field="resources.ARN",
                    StartsWith=[policies.s3_arn(lake.bucket, f"/{p}") for p in tier.read],
                ),
            ],
        )
        for tier in tiers
    ]


def audit_bucket_policy(bucket: Ref) -> PolicyDocument:
    """CloudTrail delivers this trail's logs; nobody deletes them (Object Lock also forbids it)."""
    from_this_trail = Condition(StringEquals({"aws:SourceArn": trail_arn()}))
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="TrailReadsTheAcl",
                Effect=Allow,
                Principal=Principal("Service", [CLOUDTRAIL]),
                Action=[s3.GetBucketAcl],
                Resource=[policies.s3_arn(bucket)],
                Condition=from_this_trail,
            ),
            Statement(
                Sid="TrailDeliversLogs",
                Effect=Allow,
                Principal=Principal("Service", [CLOUDTRAIL]),
                Action=[s3.PutObject],
                Resource=[policies.s3_arn(bucket, "/AWSLogs/${AWS::AccountId}/*")],
                Condition=Condition(
                    StringEquals(
                        {
                            "aws:SourceArn": trail_arn(),
                            "s3:x-amz-acl": "bucket-owner-full-control",
                        }
                    )
                ),
            ),
            Statement(
                Sid="NobodyDeletesAuditLogs",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=[s3.DeleteObject, s3.DeleteObjectVersion, s3.BypassGovernanceRetention],
                Resource=[policies.s3_arn(bucket, "/*")],
            ),
            policies.deny_insecure_transport([bucket], principal=True),
        ],
    )


def add_audit_trail(t: Template, lake: DataLake, tiers: Sequence[Tier]) -> dict[str, Ref]:
    """The trail of the audited tiers and its locked bucket, whose access logs go to the
    platform's access-log bucket; returns {its log prefix: the bucket}, for that bucket's
    policy (`storage.add_storage`), or nothing when no tier is audited."""
    audited = [tier for tier in tiers if tier.audit]
    if not audited:
        return {}
    bucket = storage.private_bucket(
        "AuditLogBucket",
        key_arn=None,  # CloudTrail's own SSE-S3 encryption of the log files
        logs=Ref(storage.ACCESS_LOG_BUCKET),
        log_prefix=LOG_PREFIX,
        lifecycle=LifecycleRule(
            Id="ExpireAuditLogsAfterTheirRetention",
            Status="Enabled",
            ExpirationInDays=RETENTION_DAYS + 1,
            NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
        ),
    )
    bucket.ObjectLockEnabled = True
    bucket.ObjectLockConfiguration = ObjectLockConfiguration(
        ObjectLockEnabled="Enabled",
        Rule=ObjectLockRule(
            DefaultRetention=DefaultRetention(Mode="COMPLIANCE", Days=RETENTION_DAYS)
        ),
    )
    t.add_resource(bucket)
    policy = t.add_resource(
        BucketPolicy(
            "AuditLogBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=audit_bucket_policy(Ref(bucket)),
        )
    )
    # Its name is fixed (names.AUDIT_TRAIL): no output needed to find it.
    t.add_resource(
        skip_checks(
            Trail(
                "AuditTrail",
                DependsOn=[policy.title],
                TrailName=names.AUDIT_TRAIL,
                S3BucketName=Ref(bucket),
                IsLogging=True,
                # Wherever the lake bucket is; the selectors keep every other event out.
                IsMultiRegionTrail=True,
                IncludeGlobalServiceEvents=True,
                EnableLogFileValidation=True,
                AdvancedEventSelectors=event_selectors(lake, audited),
                Tags=tags(),
            ),
            "CKV_AWS_35",
            "CKV_AWS_252",
        )
    )
    t.add_output(Output("AuditLogBucketName", Value=Ref(bucket)))
    return {LOG_PREFIX: Ref(bucket)}
