"""Portfolios that are each valid field by field but would break a deploy, or open a path between
tiers, are refused by `validate` and `build` alike, located as PATH:LINE:COL, with exit 2.

One case per class of issue 19: generated names that collide, tier names that claim a platform
component, S3's bucket naming rules, partitions, Service Catalog's TagOption quotas, and writes
to a prefix another tier reads.
"""

from __future__ import annotations

import re

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build as builder
from generator.engine.generated_names import owners, tier_scopes
from tests.conftest import EXAMPLE

BASE = yaml.safe_load(EXAMPLE.read_text())
LOCATED = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<field>\S+): (?P<msg>.+)$")


def tier(name: str, read=None, write=None, principals=None, **more) -> dict:
    return {
        "name": name,
        "description": f"Tier {name}",
        "read": read or [f"{name}/"],
        "write": write or [],
        "principals": principals or [f"role/{name.title()}"],
        "identity_group": f"ds-{name}",
        "admin_group": "ds-admins",
        **more,
    }


def portfolio(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for key, value in changes.items():
        if key == "bucket":
            data["data_lake"]["bucket"] = value
        elif key == "kms_key_arn":
            data["data_lake"]["kms_key_arn"] = value
        else:
            data[key] = value
    return data


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def refused(tmp_path, data: dict) -> list[dict]:
    """The problems validate reports (asserting build reports the same and writes nothing)."""
    path = tmp_path / "portfolio.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    validated = run("validate", "-p", str(path))
    built = run("build", "-p", str(path), "-o", str(tmp_path / "out"))
    assert validated.exit_code == 2, validated.output
    assert built.exit_code == 2, built.output
    assert built.stderr == validated.stderr
    assert not (tmp_path / "out").exists()
    lines = validated.stderr.splitlines()[:-1]
    problems = [LOCATED.match(line) for line in lines]
    assert all(problems), lines
    assert {p["path"] for p in problems} == {str(path)}
    return [p.groupdict() for p in problems]


CASES = {
    # Generated names
    "IAM role names collide": (
        dict(tiers=[tier("ab"), tier("ab-personal")]),
        "tiers[0].name",
        "the IAM role 'labcatalog-ab-personal-hub' would be made twice",
    ),
    "tier claims the platform's log group": (
        dict(tiers=[tier("pii"), tier("codebuild")]),
        "tiers[1].name",
        "tier 'codebuild' would claim what the platform itself names (log group "
        "'/labcatalog/codebuild/",
    ),
    "tier claims the platform's SSM parameters": (
        dict(tiers=[tier("platform")]),
        "tiers[0].name",
        "SSM parameter '/labcatalog/platform/",
    ),
    "tag option key is one of labcatalog's tags": (
        dict(tag_options={"labcatalog:tier": ["pii"]}),
        "tag_options.labcatalog:tier",
        "labcatalog's own tags",
    ),
    # S3's bucket naming rules
    **{
        f"bucket {name!r}": (dict(bucket=name), "data_lake.bucket", expected)
        for name, expected in [
            ("xn--lake", "the prefix 'xn--' is reserved"),
            ("sthree-lake", "the prefix 'sthree-' is reserved"),
            ("amzn-s3-demo-lake", "the prefix 'amzn-s3-demo-' is reserved"),
            ("lake-s3alias", "the suffix '-s3alias' is reserved"),
            ("lake--ol-s3", "the suffix '--ol-s3' is reserved"),
            ("lake--x-s3", "the suffix '--x-s3' is reserved"),
            ("lake.mrap", "the suffix '.mrap' is reserved"),
            ("lake--table-s3", "the suffix '--table-s3' is reserved"),
            ("my..lake", "no '..'"),
            ("my.-lake", "'.-'"),
            ("192.168.1.10", "IP address"),
            ("ab", "2 characters"),
            ("a" * 64, "64 characters"),
            ("Lake", "lowercase"),
            ("lake_1", "lowercase"),
            ("-lake", "starting and ending"),
        ]
    },
    # Partitions
    "principals from two partitions": (
        dict(
            tiers=[
                tier("pii", principals=["arn:aws:iam::123456789012:role/A"]),
                tier("nonpii", principals=["arn:aws-cn:iam::123456789012:role/B"]),
            ]
        ),
        "tiers[1].principals[0]",
        "ARN in partition 'aws-cn', but tiers[0].principals[0] is in 'aws'",
    ),
    "key and principal in two partitions": (
        dict(
            kms_key_arn="arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abc",
            tiers=[tier("pii", principals=["arn:aws:iam::123456789012:role/A"])],
        ),
        "tiers[0].principals[0]",
        "but data_lake.kms_key_arn is in 'aws-us-gov'",
    ),
    "an unknown partition": (
        dict(tiers=[tier("pii", principals=["arn:aws-moon:iam::123456789012:role/A"])]),
        "tiers[0].principals[0]",
        "principal must be",
    ),
    # Service Catalog's TagOption and principal quotas
    "too many TagOptions": (
        dict(tag_options={"a": [f"v{i}" for i in range(13)], "b": [f"v{i}" for i in range(13)]}),
        "tag_options",
        "26 TagOptions (key-value pairs); Service Catalog allows at most 25",
    ),
    "TagOption key under aws:": (
        dict(tag_options={"aws:cost": ["x"]}),
        "tag_options.aws:cost",
        "reserved for AWS",
    ),
    "TagOption value too long": (
        dict(tag_options={"cost": ["x" * 257]}),
        "tag_options.cost[0]",
        "at most 256",
    ),
    "too many principals": (
        dict(tiers=[tier("pii", principals=[f"role/R{i}" for i in range(101)])]),
        "tiers[0].principals",
        "at most 100",
    ),
    # Flows between tiers
    "a tier writes where another reads": (
        dict(
            tiers=[
                tier("pii", read=["pii/", "exchange/"], write=["exchange/out/"]),
                tier("nonpii", read=["nonpii/", "exchange/"]),
            ]
        ),
        "tiers[0].write[0]",
        "tier 'pii' writes 'exchange/out/', which tier 'nonpii' reads (as 'exchange/'), so data "
        "would flow from 'pii' to 'nonpii'",
    ),
    "a tier writes above what another reads": (
        dict(
            tiers=[
                tier("pii", read=["shared/"], write=["shared/"]),
                tier("nonpii", read=["nonpii/", "shared/in/"]),
            ]
        ),
        "tiers[0].write[0]",
        "which tier 'nonpii' reads (as 'shared/in/')",
    ),
    "a declared flow names an unknown tier": (
        dict(
            tiers=[
                tier("pii", read=["x/"], write=["x/"], shared_writes={"x/": ["nobody"]}),
                tier("nonpii"),
            ]
        ),
        "tiers[0].shared_writes.x/[0]",
        "'nobody' is not a tier",
    ),
    "a declared flow is not a write prefix": (
        dict(tiers=[tier("pii", shared_writes={"pii/": ["nonpii"]}), tier("nonpii")]),
        "tiers[0].shared_writes.pii/",
        "is not one of this tier's write prefixes",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_and_build_refuse_it_located(tmp_path, case):
    changes, field, message = CASES[case]
    problems = refused(tmp_path, portfolio(**changes))
    assert any(p["field"] == field and message in p["msg"] for p in problems), problems


def test_a_declared_flow_between_tiers_is_accepted(tmp_path):
    data = portfolio(
        tiers=[
            tier(
                "pii",
                read=["pii/", "exchange/"],
                write=["exchange/out/"],
                shared_writes={"exchange/out/": ["nonpii"]},
            ),
            tier("nonpii", read=["nonpii/", "exchange/"]),
        ]
    )
    path = tmp_path / "portfolio.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run("validate", "-p", str(path))
    assert result.exit_code == 0, result.output
    # The declaration is per reader: a third tier reading it is still refused.
    data["tiers"].append(tier("other", read=["other/", "exchange/"]))
    path.write_text(yaml.safe_dump(data))
    result = run("validate", "-p", str(path))
    assert result.exit_code == 2 and "flow from 'pii' to 'other'" in result.stderr


def test_the_example_uses_no_name_a_tier_scope_claims():
    # The rule is not vacuous: the scopes exist and cover the example's own tier names.
    assert {"TIER_LOG_GROUPS", "TIER_SECRETS", "TIER_PARAMETERS"} <= {c for c, _ in tier_scopes()}
    assert owners("/labcatalog/pii/stack/hub", ["pii", "nonpii"]) == ["pii"]
    assert owners("/labcatalog/codebuild/x", ["pii", "nonpii"]) == []


def test_validate_refuses_what_builds_quotas_refuse(tmp_path, monkeypatch):
    """validate runs build's own quota checks, so it follows them when they change."""
    path = tmp_path / "portfolio.yaml"
    path.write_text(EXAMPLE.read_text())
    assert run("validate", "-p", str(path)).exit_code == 0
    monkeypatch.setattr(builder, "MAX_RESOURCES", 10)
    validated = run("validate", "-p", str(path))
    built = run("build", "-p", str(path), "-o", str(tmp_path / "out"))
    assert validated.exit_code == built.exit_code == 2, validated.output
    assert "over CloudFormation's limit of 10" in validated.stderr
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: tiers: ", validated.stderr, re.M)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("count", [1, 20, 60])
def test_validate_and_build_agree_whatever_the_tier_count(tmp_path, count):
    data = portfolio(tiers=[tier(f"tier{i}") for i in range(count)])
    path = tmp_path / "portfolio.yaml"
    path.write_text(yaml.safe_dump(data))
    validated = run("validate", "-p", str(path))
    built = run("build", "-p", str(path), "-o", str(tmp_path / "out"))
    assert validated.exit_code == built.exit_code, (validated.output, built.output)
    assert validated.exit_code in (0, 2)
