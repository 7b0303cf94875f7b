"""Each tier role reaches its own prefixes and nothing else, checked with moto's IAM enforcement.

The platform stack is deployed to moto; each tier's role is assumed and tries GetObject,
PutObject and DeleteObject on a probe object under every prefix any tier names (plus the bucket
root and an unnamed prefix), in the data lake and in the notebook bucket. The expected answer
comes from portfolio.yaml alone (`expected_access`), not from the policies, so the matrix holds
for any portfolio; it runs for the example and for a three-tier fixture with shared prefixes.

What moto cannot prove, and where it is proved instead:
- moto ignores IAM conditions. The `s3:prefix` limit on listing is asserted on the policy
  document (test_platform_template.py), and so are the TLS-only Deny statements: moto would
  apply a conditional Deny to every request, so this test removes the role's `require-tls`
  policy and the notebook bucket policy after deploying, and says so here.
- KMS permissions (kms:ViaService) are not evaluated by moto's S3; asserted structurally too.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from generator.cfn import names
from generator.model.config import Portfolio, Tier
from tests.conftest import deploy_platform
from tests.support.moto_server import assume_role_credentials

OPERATIONS = ("get", "put", "delete")


def lake_probe_keys(portfolio: Portfolio) -> list[str]:
    prefixes = {p for tier in portfolio.tiers for p in (*tier.read, *tier.write)}
    keys = [f"{prefix}probe/object.csv" for prefix in sorted(prefixes)]
    return [*keys, "root-object.csv", "not-in-any-tier/object.csv"]


def notebook_probe_keys(portfolio: Portfolio) -> list[str]:
    keys = [f"{tier.name}/home/alice/analysis.ipynb" for tier in portfolio.tiers]
    return [*keys, "orphan/notebook.ipynb"]


def expected_access(tier: Tier, where: str, key: str, operation: str) -> bool:
    """What portfolio.yaml promises, written independently of the policy builders."""
    if where == "templates":  # product templates are the publisher's, never a notebook's
        return False
    if where == "notebooks":
        return key.startswith(f"{tier.name}/")
    prefixes = tier.read if operation == "get" else tier.write
    return any(key.startswith(prefix) for prefix in prefixes)


def attempt(s3, bucket: str, key: str, operation: str) -> bool:
    """True if IAM let the request through, False if it was denied."""
    try:
        if operation == "get":
            s3.get_object(Bucket=bucket, Key=key)
        elif operation == "put":
            s3.put_object(Bucket=bucket, Key=key, Body=b"probe")
        else:
            s3.delete_object(Bucket=bucket, Key=key)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code in ("AccessDenied", "403"):
            return False
        if code == "NoSuchKey":  # authorised; an earlier probe deleted it
            return True
        raise
    return True


@pytest.fixture
def deployed(aws, portfolio):
    """The platform deployed, the lake seeded, each tier's role assumed; enforcement still off."""
    outputs = deploy_platform(aws, portfolio)
    buckets = {
        "lake": portfolio.data_lake.bucket,
        "notebooks": outputs["NotebookBucketName"],
        "templates": outputs["TemplateBucketName"],
    }
    s3 = aws.client("s3")
    # moto applies a conditional Deny unconditionally (it ignores conditions): drop the TLS-only
    # statements, which test_platform_template.py asserts on the documents instead.
    for name in ("notebooks", "templates"):
        s3.delete_bucket_policy(Bucket=buckets[name])
    s3.create_bucket(Bucket=buckets["lake"])
    probes = {
        "lake": lake_probe_keys(portfolio),
        "notebooks": notebook_probe_keys(portfolio),
        "templates": ["shared-hub/0123abcd.template.json"],
    }
    for where, keys in probes.items():
        for key in keys:
            s3.put_object(Bucket=buckets[where], Key=key, Body=b"seed")
    iam = aws.client("iam")
    credentials = {}
    for tier in portfolio.tiers:
        role = iam.get_role(RoleName=names.NOTEBOOK_ROLE.format(tier=tier.name))["Role"]
        iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="require-tls")
        credentials[tier.name] = assume_role_credentials(aws, role["Arn"])
    return buckets, probes, credentials


def test_each_tier_role_reaches_exactly_its_prefixes(aws, portfolio, deployed):
    buckets, probes, credentials = deployed
    expected, actual = {}, {}
    aws.enforce_iam(True)
    try:
        for tier in portfolio.tiers:
            s3 = aws.client("s3", **credentials[tier.name])
            for where, keys in probes.items():
                for key in keys:
                    for operation in OPERATIONS:
                        cell = (tier.name, where, key, operation)
                        expected[cell] = expected_access(tier, where, key, operation)
                        actual[cell] = attempt(s3, buckets[where], key, operation)
    finally:
        aws.enforce_iam(False)
    wrong = [
        f"{'/'.join(cell)}: expected {'allowed' if expected[cell] else 'denied'}"
        for cell in expected
        if expected[cell] != actual[cell]
    ]
    assert not wrong, "\n".join(wrong)
    # The matrix has both answers in it, so it can tell a broken policy from a broken probe.
    assert any(expected.values()) and not all(expected.values())


def test_a_tier_role_cannot_touch_an_unrelated_bucket(aws, portfolio, deployed):
    _, _, credentials = deployed
    aws.client("s3").create_bucket(Bucket="unrelated-bucket")
    aws.enforce_iam(True)
    try:
        for tier in portfolio.tiers:
            s3 = aws.client("s3", **credentials[tier.name])
            for operation in OPERATIONS:
                assert not attempt(s3, "unrelated-bucket", f"{tier.read[0]}x", operation)
    finally:
        aws.enforce_iam(False)
