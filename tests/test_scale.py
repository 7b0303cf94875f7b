"""200 tiers: every template of the build fits CloudFormation's and IAM's quotas and lints clean.

A portfolio of 200 generated tiers is built once for the module (a few seconds). The limits are
counted here again from the templates' JSON, apart from `build.check_limits`, so a mistake in the
build's own check cannot hide a template that AWS would refuse. The platform's root holds one
nested stack per tier; each tier's template holds that tier's roles and parameters, so its size
does not grow with the number of tiers (tests/test_build.py refuses a portfolio past the root's
500 resources).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build as builder
from generator.engine.build_folder import Artifact
from generator.engine.registry import load_portfolio
from tests.conftest import EXAMPLE
from tests.test_build import many_tiers

TIERS = 200
# CloudFormation, per template (uploaded through S3), and IAM (characters without whitespace).
TEMPLATE_LIMITS = {"Resources": 500, "Outputs": 200, "Parameters": 200, "Mappings": 200}
BODY_BYTES = 1_000_000
ROLE_INLINE_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
TRUST_POLICY_CHARS = 2_048
MANAGED_POLICIES_PER_ROLE = 10


def compact(document) -> int:
    return len(json.dumps(document, separators=(",", ":")))


@pytest.fixture(scope="module")
def scaled(tmp_path_factory) -> dict[str, Artifact]:
    path = tmp_path_factory.mktemp("scale") / "portfolio.yaml"
    path.write_text(yaml.safe_dump(many_tiers(TIERS)))
    return {a.path: a for a in builder.generate(load_portfolio(path)) if a.resources is not None}


def test_200_tiers_build_a_root_a_stack_per_tier_and_the_products_per_tier(scaled):
    nested = sorted(p for p in scaled if p.startswith("platform/"))
    assert nested == sorted(f"platform/tier{i}.template.json" for i in range(TIERS))
    assert {p for p in scaled if "/" not in p} == {"platform.template.json"}
    root = json.loads(scaled["platform.template.json"].text)
    stacks = [r for r in root["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
    assert sorted(s["Properties"]["TemplateURL"] for s in stacks) == nested
    for product in ("shared-hub", "personal-hub"):
        paths = sorted(p for p in scaled if p.startswith(f"{product}/"))
        assert paths == sorted(f"{product}/tier{i}.template.json" for i in range(TIERS))
        # The same size for every tier once its name is left out: nothing grows with the tiers.
        sizes = {len(scaled[p].text.replace(p.split("/")[1].split(".")[0], "")) for p in paths}
        assert len(sizes) == 1, "a tier's template does not grow with the tiers"


@pytest.mark.parametrize("section,limit", sorted(TEMPLATE_LIMITS.items()))
def test_every_template_is_within_cloudformations_counts(scaled, section, limit):
    counts = {path: len(json.loads(a.text).get(section, {})) for path, a in scaled.items()}
    assert max(counts.values()) <= limit, max(counts.items(), key=lambda item: item[1])


def test_every_template_is_within_cloudformations_body_size(scaled):
    sizes = {path: len(a.text.encode()) for path, a in scaled.items()}
    assert max(sizes.values()) <= BODY_BYTES, max(sizes.items(), key=lambda item: item[1])
    # The part per tier does not grow with the number of tiers: each tier's own template.
    assert max(v for p, v in sizes.items() if "/" in p) < 100_000


def test_every_role_and_policy_is_within_iams_quotas(scaled):
    checked = 0
    for path, artifact in scaled.items():
        for logical_id, resource in json.loads(artifact.text)["Resources"].items():
            where = (path, logical_id)
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                assert compact(properties["PolicyDocument"]) <= MANAGED_POLICY_CHARS, where
            if resource["Type"] != "AWS::IAM::Role":
                continue
            checked += 1
            inline = sum(compact(p["PolicyDocument"]) for p in properties.get("Policies", []))
            assert inline <= ROLE_INLINE_CHARS, where
            assert compact(properties["AssumeRolePolicyDocument"]) <= TRUST_POLICY_CHARS, where
            managed = properties.get("ManagedPolicyArns", [])
            assert len(managed) <= MANAGED_POLICIES_PER_ROLE, where
    assert checked == 7 * TIERS + 3, (
        "each tier's seven roles, the image build's, the backups' and the route functions'"
    )


def test_account_quotas_at_200_tiers(scaled):
    """What the build creates in one account: within every quota's maximum; the roles pass the
    default quota of 1,000 (the README says to raise it), nothing else does."""
    use = {u.what: u for u in builder.account_use(scaled.values())}
    assert use["IAM roles"].count == 7 * TIERS + 3
    assert all(u.count <= u.maximum for u in use.values()), use
    assert sorted(u.what for u in use.values() if u.over_default) == ["IAM roles"]
    assert use["CloudFormation stacks (nested ones count)"].count == 1 + TIERS + 2


def test_a_sample_of_the_200_tier_build_lints_clean(scaled, tmp_path):
    """cfn-lint, at every level, on the root, the first, a middle and the last tier's template,
    and both products (a tier's template each), laid out as in build/ (the root names its
    tiers' templates by path)."""
    sample = [
        "platform.template.json",
        "platform/tier0.template.json",
        f"platform/tier{TIERS // 2}.template.json",
        f"platform/tier{TIERS - 1}.template.json",
        "shared-hub/tier0.template.json",
        f"personal-hub/tier{TIERS - 1}.template.json",
    ]
    for path in sample:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(scaled[path].text)
    result = subprocess.run(
        [
            Path(sys.executable).with_name("cfn-lint"),
            "--non-zero-exit-code",
            "informational",
            *sample,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_names_each_account_quota_to_raise(tmp_path, monkeypatch):
    """Past a default quota the build is written, and says which quota to raise before deploying
    (here with a default of 5 roles, so the example's 16 pass it); within them it says nothing."""
    out = tmp_path / "build"
    quiet = CliRunner().invoke(main, ["build", "-p", str(EXAMPLE), "-o", str(out)])
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr, quiet.output
    quotas = dict(builder.ACCOUNT_QUOTAS)
    quotas["AWS::IAM::Role"] = ("IAM roles", 5, 5_000)
    monkeypatch.setattr(builder, "ACCOUNT_QUOTAS", quotas)
    result = CliRunner().invoke(main, ["build", "-p", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "note: the build creates 17 IAM roles in one account, over the default quota of 5: "
        "raise it (Service Quotas) before deploying; see README, Scale\n"
    )
