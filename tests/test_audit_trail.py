"""The audit trail of tiers with `audit: true`: its selectors, its bucket nobody deletes from.

Checked on the built platform template: the trail logs S3 data events on exactly the audited
tiers' read prefixes (one advanced event selector per tier, the prefixes' ARNs as StartsWith),
and on nothing else; its bucket has Object Lock in compliance mode and a bucket policy that lets
only this trail write and denies every deletion. cfn-lint and checkov check the same template
(test_every_stack.py, tox's checkov env); moto's deploy of the platform (test_platform_deploy.py)
creates it. Not proved: that CloudTrail delivers records, what a record holds (AWS documents
`userIdentity.sessionContext.sourceIdentity`), and that Object Lock refuses a delete: only a real
account shows those (README.md, "Who read this prefix last week").
"""

from __future__ import annotations

import pytest

from generator.engine.registry import load_portfolio
from products.platform import audit
from tests.conftest import EXAMPLE, platform_body


def trail_of(body: dict) -> dict | None:
    trails = [r for r in body["Resources"].values() if r["Type"] == "AWS::CloudTrail::Trail"]
    assert len(trails) <= 1  # one trail for the account, whatever the number of audited tiers
    return trails[0] if trails else None


def selectors_by_tier(trail: dict) -> dict[str, dict[str, dict]]:
    return {
        selector["Name"].split(":")[0].removeprefix("tier "): {
            field["Field"]: field for field in selector["FieldSelectors"]
        }
        for selector in trail["Properties"]["AdvancedEventSelectors"]
    }


def prefix_arns(fields: dict) -> list[str]:
    return [s["Fn::Sub"] for s in fields["resources.ARN"]["StartsWith"]]


def audited(portfolio, *tier_names: str):
    """The portfolio with exactly these tiers audited."""
    tiers = [t.model_copy(update={"audit": t.name in tier_names}) for t in portfolio.tiers]
    return portfolio.model_copy(update={"tiers": tiers})


def expected_selectors(portfolio) -> dict[str, list[str]]:
    bucket = portfolio.data_lake.bucket
    return {
        tier.name: [f"arn:${{AWS::Partition}}:s3:::{bucket}/{p}" for p in tier.read]
        for tier in portfolio.tiers
        if tier.audit
    }


@pytest.mark.parametrize("tiers", [("pii",), ("pii", "nonpii"), ("nonpii", "research")])
def test_the_trails_selectors_are_the_audited_tiers_read_prefixes(portfolio, tiers):
    chosen = audited(portfolio, *[t for t in tiers if t in {x.name for x in portfolio.tiers}])
    trail = trail_of(platform_body(chosen))
    expected = expected_selectors(chosen)
    if not expected:
        assert trail is None
        return
    selectors = selectors_by_tier(trail)
    assert {tier: prefix_arns(fields) for tier, fields in selectors.items()} == expected
    for fields in selectors.values():
        assert sorted(fields) == ["eventCategory", "resources.ARN", "resources.type"]
        assert fields["eventCategory"]["Equals"] == ["Data"]
        assert fields["resources.type"]["Equals"] == ["AWS::S3::Object"]


def test_the_example_audits_its_pii_tier_only():
    example = load_portfolio(EXAMPLE)
    assert [t.name for t in example.tiers if t.audit] == ["pii"]
    trail = trail_of(platform_body(example))
    assert prefix_arns(selectors_by_tier(trail)["pii"]) == [
        "arn:${AWS::Partition}:s3:::example-datalake/pii/"
    ]


def test_no_audited_tier_no_trail(portfolio):
    body = platform_body(audited(portfolio))
    assert trail_of(body) is None
    assert "AuditLogBucket" not in body["Resources"]


def test_the_trail_writes_to_a_bucket_nobody_deletes_from():
    body = platform_body(load_portfolio(EXAMPLE))
    trail = trail_of(body)["Properties"]
    assert trail["S3BucketName"] == {"Ref": "AuditLogBucket"}
    assert trail["IsLogging"] is True and trail["EnableLogFileValidation"] is True
    assert trail_of(body)["DependsOn"] == ["AuditLogBucketPolicy"]
    bucket = body["Resources"]["AuditLogBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    lock = bucket["Properties"]["ObjectLockConfiguration"]
    assert bucket["Properties"]["ObjectLockEnabled"] is True
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": audit.RETENTION_DAYS}
    # Expiry only after the retention, which Object Lock enforces anyway.
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] > audit.RETENTION_DAYS
    policy = body["Resources"]["AuditLogBucketPolicy"]["Properties"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    deny = by_sid["NobodyDeletesAuditLogs"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(deny["Action"])
    assert "Condition" not in deny
    for sid in ("TrailReadsTheAcl", "TrailDeliversLogs"):
        statement = by_sid[sid]
        assert statement["Principal"] == {"Service": ["cloudtrail.amazonaws.com"]}
        source = statement["Condition"]["StringEquals"]["aws:SourceArn"]["Fn::Sub"]
        assert source.endswith(":trail/labcatalog-audit")
    # Allowed statements are CloudTrail's only.
    allowed = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {sid for sid in by_sid if by_sid[sid] in allowed} == {
        "TrailReadsTheAcl",
        "TrailDeliversLogs",
    }
