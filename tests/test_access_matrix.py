"""Each tier's data role reaches its own prefixes and nothing else, checked with moto's IAM
enforcement.

The platform stack is deployed to moto; each tier's data role is assumed (as a hub assumes it
for a person, with a source identity) and tries GetObject,
PutObject and DeleteObject on a probe object under every prefix any tier names (plus the bucket
root and an unnamed prefix), in the data lake and in the notebook bucket. The expected answer
comes from portfolio.yaml alone (`expected_access`), not from the policies, so the matrix holds
for any portfolio; it runs for the example and for a three-tier fixture with shared prefixes.

Listing (with and without a prefix, objects and object versions), reading and deleting object
versions, and the notebook key's use (directly and through S3) are probed too: moto answers for
the action and resource, and the role's deployed policies (read back from moto's IAM) are
evaluated here for the condition keys the request carries (s3:prefix, kms:ViaService), which moto
does not evaluate.

What moto cannot prove, and where it is proved instead:
- moto ignores IAM conditions: the TLS-only Deny statements are asserted on the policy documents
  (test_platform_template.py), and this test removes the role's `require-tls` policy and the
  notebook bucket policy after deploying, and says so here.
- moto's S3 does not ask KMS: use of the key through S3 is judged by the deployed policy alone.
"""

from __future__ import annotations

import fnmatch

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


def assert_matrix(expected: dict[tuple, bool], actual: dict[tuple, bool]) -> None:
    """Every cell as expected, listing the wrong ones; and the matrix has both answers in it, so
    it can tell a broken policy from a broken probe."""
    wrong = [
        f"{'/'.join(cell)}: expected {'allowed' if expected[cell] else 'denied'}"
        for cell in expected
        if expected[cell] != actual[cell]
    ]
    assert not wrong, "\n".join(wrong)
    assert any(expected.values()) and not all(expected.values())


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
        role = iam.get_role(RoleName=names.DATA_ROLE.format(tier=tier.name))["Role"]
        iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="require-tls")
        credentials[tier.name] = assume_role_credentials(aws, role["Arn"], "alice")
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
    assert_matrix(expected, actual)


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


# --- listing, object versions and KMS use ---
#
# moto checks a request's action and resource against the role's policies but not their
# conditions. For these probes, whose rights hang on conditions (s3:prefix, kms:ViaService), a
# request counts as allowed only if moto lets it through AND the role's policies as deployed
# (read back from moto's IAM) allow it with the condition keys the request carries, evaluated
# here by IAM's rules for the operators they use. The expected answer still comes from
# portfolio.yaml alone.


def _matches(patterns, value: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            expected = [expected] if isinstance(expected, str) else expected
            value = context.get(key)
            if value is None:
                return False  # IAM: a key the request does not carry fails the test
            if operator == "StringLike":
                ok = any(fnmatch.fnmatchcase(value, e) for e in expected)
            elif operator == "StringEquals":
                ok = value in expected
            elif operator == "Bool":
                ok = value.lower() in [str(e).lower() for e in expected]
            else:
                raise AssertionError(f"no evaluation here for {operator}")
            if not ok:
                return False
    return True


def policies_allow(documents: list[dict], action: str, resource: str, context: dict) -> bool:
    allowed = False
    for document in documents:
        for statement in document["Statement"]:
            if not _matches(statement["Action"], action):
                continue
            if not _matches(statement["Resource"], resource):
                continue
            if not _condition_holds(statement.get("Condition", {}), context):
                continue
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def role_documents(aws, tier: Tier) -> list[dict]:
    iam = aws.client("iam")
    role = names.DATA_ROLE.format(tier=tier.name)
    return [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]


def expected_listing(tier: Tier, where: str, prefix: str) -> bool:
    """Listing: only under what the tier may read, never the whole bucket."""
    if where == "notebooks":
        return prefix.startswith(f"{tier.name}/")
    if where == "lake":
        return bool(prefix) and any(prefix.startswith(p) for p in tier.read)
    return False


def moto_allows(call, **request) -> bool:
    try:
        call(**request)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("AccessDenied", "403", "AccessDeniedException"):
            return False
        raise
    return True


def test_listing_versions_and_kms_use_follow_the_portfolio(aws, portfolio, deployed):
    buckets, probes, credentials = deployed
    admin = aws.client("s3")
    versions = {}
    for where in ("lake", "notebooks"):
        bucket = buckets[where]
        admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for key in probes[where]:
            put = admin.put_object(Bucket=bucket, Key=key, Body=b"version 2")
            versions[(where, key)] = put["VersionId"]
    key_arn = aws.client("ssm").get_parameter(Name=names.NOTEBOOK_KEY_ARN_PARAMETER)["Parameter"][
        "Value"
    ]
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    documents = {tier.name: role_documents(aws, tier) for tier in portfolio.tiers}
    expected, actual = {}, {}
    aws.enforce_iam(True)
    try:
        for tier in portfolio.tiers:
            s3 = aws.client("s3", **credentials[tier.name])
            kms = aws.client("kms", **credentials[tier.name])
            docs = documents[tier.name]
            for where in ("lake", "notebooks"):
                bucket = buckets[where]
                prefixes = {
                    "",
                    *(key.rsplit("/", 1)[0] + "/" for key in probes[where] if "/" in key),
                }
                for prefix in sorted(prefixes):
                    for action, call in (
                        ("s3:ListBucket", s3.list_objects_v2),
                        ("s3:ListBucketVersions", s3.list_object_versions),
                    ):
                        cell = (tier.name, where, action, prefix or "(no prefix)")
                        wanted = expected_listing(tier, where, prefix)
                        if action == "s3:ListBucketVersions" and where == "lake":
                            wanted = False  # object history is the notebooks' only
                        expected[cell] = wanted
                        request = {"Bucket": bucket, **({"Prefix": prefix} if prefix else {})}
                        actual[cell] = moto_allows(call, **request) and (
                            policies_allow(
                                docs, action, f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}
                            )
                        )
                for key in probes[where]:
                    version = versions[(where, key)]
                    cell = (tier.name, where, "s3:GetObjectVersion", key)
                    expected[cell] = expected_access(tier, where, key, "get")
                    actual[cell] = moto_allows(
                        s3.get_object, Bucket=bucket, Key=key, VersionId=version
                    )
                    # An object's history is never deleted by a notebook role: no version
                    # delete is allowed, even in its own prefix.
                    cell = (tier.name, where, "s3:DeleteObjectVersion", key)
                    expected[cell] = False
                    actual[cell] = moto_allows(
                        s3.delete_object, Bucket=bucket, Key=key, VersionId=version
                    )
            # The notebook key: used through S3 only, never directly.
            for action, request in (
                ("kms:GenerateDataKey", {"KeyId": key_arn, "KeySpec": "AES_256"}),
                ("kms:Decrypt", None),
            ):
                cell = (tier.name, "notebook key", action, "direct")
                expected[cell] = False
                # Decrypt needs a ciphertext: its direct use is judged by the policy alone.
                answered = moto_allows(kms.generate_data_key, **request) if request else True
                actual[cell] = answered and policies_allow(docs, action, key_arn, {})
                cell = (tier.name, "notebook key", action, "through S3")
                expected[cell] = True
                actual[cell] = policies_allow(docs, action, key_arn, via_s3)
    finally:
        aws.enforce_iam(False)
    assert_matrix(expected, actual)
