"""Every checkov check that labcatalog deliberately skips, with the reason, in one place.

A skip is applied to one resource at a time (template Metadata), never to a whole run, so the
same check still guards every other resource.
"""

from __future__ import annotations

from troposphere import BaseAWSObject

CHECKOV_SKIPS = {
    "CKV_AWS_18": (
        "this bucket is the destination of the notebook bucket's access logs; logging it to "
        "itself would loop and logging it elsewhere would need a third bucket for no audit gain"
    ),
    "CKV_AWS_65": (
        "Container Insights is a launch parameter (ContainerInsights), off by default: its "
        "per-task metrics are billed per user's task family; ECS's free service metrics and "
        "the hub's logs remain (README, what the shared hub runs on by default)"
    ),
    "CKV_AWS_35": (
        "the audit trail's log files are encrypted by S3 (SSE-S3) in a bucket under Object Lock: "
        "a KMS key would add a key policy that could lock auditors out of their own logs"
    ),
    "CKV_AWS_252": (
        "the audit trail is queried (Athena), not watched: no SNS topic has a subscriber to tell"
    ),
    "CKV_AWS_115": (
        "a route function runs only when a hub is launched, updated or deleted; reserving "
        "concurrency for it would take from the account's pool (as low as 10 in new accounts)"
    ),
    "CKV_AWS_116": (
        "CloudFormation invokes a route function synchronously and reports its failure on the "
        "stack; a dead-letter queue receives only asynchronous invocations"
    ),
    "CKV_AWS_117": (
        "a route function calls only the Elastic Load Balancing API; in a VPC it would need a "
        "NAT gateway or an endpoint to reach it, and it reaches nothing in the VPC"
    ),
    "CKV_AWS_173": (
        "a route function's environment holds its tier, the listener's ARN and a DNS suffix, "
        "nothing secret; Lambda encrypts it at rest with its own key"
    ),
    "CKV_AWS_272": (
        "a route function's code is inline in the reviewed platform template, not a package "
        "that code signing could verify"
    ),
}


def skip_checks(resource: BaseAWSObject, *check_ids: str) -> BaseAWSObject:
    """Mark `resource` so checkov skips `check_ids`, with the reasons from CHECKOV_SKIPS."""
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    metadata["checkov"] = {
        "skip": [{"id": check_id, "comment": CHECKOV_SKIPS[check_id]} for check_id in check_ids]
    }
    resource.Metadata = metadata
    return resource
