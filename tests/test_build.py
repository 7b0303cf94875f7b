"""`labcatalog build`: deterministic, committed build/ current, limits, no half-written files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from troposphere import Equals, Parameter, Ref, Sub, Template
from troposphere.iam import ManagedPolicy
from troposphere.sns import Topic

from generator.cfn import names
from generator.cfn.bind import BindError
from generator.cli import main
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.registry import load_portfolio
from generator.model.problems import UserError
from tests.conftest import EXAMPLE, ROOT


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def many_tiers(count: int) -> dict:
    """The example portfolio with `count` tiers, each on its own prefixes."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["tiers"] = [
        {
            "name": f"tier{i}",
            "description": f"Tier {i}",
            "read": [f"tier{i}/"],
            "write": [f"tier{i}/scratch/"],
            "principals": [f"role/Team{i}"],
            "identity_group": f"team{i}",
            "admin_group": "admins",
        }
        for i in range(count)
    ]
    return data


def test_committed_build_is_current():
    result = run("build", "-p", str(EXAMPLE), "-o", str(ROOT / "build"), "--check")
    assert result.exit_code == 0, result.output


def test_building_twice_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    assert run("build", "-p", str(EXAMPLE), "-o", str(first)).exit_code == 0
    assert run("build", "-p", str(EXAMPLE), "-o", str(second)).exit_code == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == [
        Path("manifest.json"),
        Path("personal-hub/nonpii.template.json"),
        Path("personal-hub/pii.template.json"),
        Path("platform/nonpii.template.json"),
        Path("platform/pii.template.json"),
        Path("platform.template.json"),
        Path("shared-hub/nonpii.template.json"),
        Path("shared-hub/pii.template.json"),
    ]
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_manifest_records_hash_size_and_resources(tmp_path):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["schema"] == build_folder.MANIFEST_SCHEMA
    entry = manifest["templates"]["platform.template.json"]
    body = (tmp_path / "platform.template.json").read_bytes()
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["size"] == len(body)
    assert entry["resources"] == len(json.loads(body)["Resources"])
    assert entry["stack"] == "platform" and "version" not in entry


def test_manifest_and_template_record_each_products_version(tmp_path):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    entries = json.loads((tmp_path / "manifest.json").read_text())["templates"]
    example = yaml.safe_load(EXAMPLE.read_text())
    configured, tiers = example["products"], [t["name"] for t in example["tiers"]]
    assert configured and len(tiers) > 1
    for key, product in configured.items():
        for tier in tiers:
            entry = entries[f"{key}/{tier}.template.json"]
            assert (entry["stack"], entry["version"]) == (f"{key}/{tier}", product["version"])
            body = json.loads((tmp_path / f"{key}/{tier}.template.json").read_text())
            assert body["Metadata"]["labcatalog"] == {
                "product": key,
                "tier": tier,
                "version": product["version"],
            }


def product_templates() -> list[tuple[str, str, dict]]:
    """(product key, tier, template) of every product template in the committed build."""
    entries = json.loads((ROOT / "build" / "manifest.json").read_text())["templates"]
    found = []
    for path, entry in sorted(entries.items()):
        if "version" in entry:
            key, tier = entry["stack"].split("/")
            found.append((key, tier, json.loads((ROOT / "build" / path).read_text())))
    return found


def test_the_console_offers_no_tier_on_any_product_template():
    found = product_templates()
    example = yaml.safe_load(EXAMPLE.read_text())
    assert {(k, t) for k, t, _ in found} == {
        (k, t["name"]) for k in example["products"] for t in example["tiers"]
    }
    for key, tier, body in found:
        assert "Tier" not in body.get("Parameters", {}), (key, tier)
        interface = body["Metadata"].get("AWS::CloudFormation::Interface", {})
        grouped = [p for g in interface.get("ParameterGroups", []) for p in g["Parameters"]]
        assert "Tier" not in grouped and "Tier" not in interface.get("ParameterLabels", {})
        assert '"Ref": "Tier"' not in json.dumps(body) and "${Tier}" not in json.dumps(body)


def _tier_tags(node) -> list[str]:
    if isinstance(node, list):
        return [v for item in node for v in _tier_tags(item)]
    if not isinstance(node, dict):
        return []
    found = [v for item in node.values() for v in _tier_tags(item)]
    if node.get("Key") == names.TIER_TAG and "Value" in node:
        found.append(node["Value"])
    if names.TIER_TAG in node and isinstance(node[names.TIER_TAG], str):
        found.append(node[names.TIER_TAG])  # a map of tags (SSM parameters' Tags)
    return found


def test_each_tiers_template_carries_that_tiers_names_paths_and_tags():
    found = product_templates()
    tiers = {t for _, t, _ in found}
    for key, tier, body in found:
        text = json.dumps(body)
        # The tier's SSM paths, log groups, secrets and ECS names; none of another tier.
        assert names.tier_parameter(tier, "") in text, (key, tier)
        assert f"{names.NAME_PREFIX}-{tier}" in text or f"/{tier}/" in text, (key, tier)
        for other in tiers - {tier}:
            for made_for_other in (
                names.tier_parameter(other, ""),
                names.TIER_LOG_GROUPS.format(tier=other),
                names.TIER_SECRETS.format(tier=other),
                f"{names.NAME_PREFIX}-{other}_",
            ):
                assert made_for_other not in text, (key, tier, made_for_other)
        tags = _tier_tags(body["Resources"])
        assert tags and set(tags) == {tier}, (key, tier)


def test_a_version_bump_keeps_the_path_and_changes_manifest_and_metadata(tmp_path):
    out = tmp_path / "build"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    before = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}
    data = yaml.safe_load(EXAMPLE.read_text())
    data["products"]["shared-hub"]["version"] = "9.0.0"
    bumped = tmp_path / "portfolio.yaml"
    bumped.write_text(yaml.safe_dump(data))
    result = run("build", "-p", str(bumped), "-o", str(out))
    assert result.exit_code == 0, result.output
    after = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert sorted(after) == sorted(before)  # same files: no new path for the new version
    assert after["platform.template.json"] == before["platform.template.json"]
    assert after["personal-hub/pii.template.json"] == before["personal-hub/pii.template.json"]
    manifest = json.loads(after["manifest.json"])["templates"]["shared-hub/pii.template.json"]
    assert manifest["version"] == "9.0.0"
    body = json.loads(after["shared-hub/pii.template.json"])
    assert body["Metadata"]["labcatalog"] == {
        "product": "shared-hub",
        "tier": "pii",
        "version": "9.0.0",
    }
    assert f"wrote     {out / 'shared-hub/pii.template.json'} (version 9.0.0," in result.stdout


def test_build_removes_templates_it_no_longer_produces_and_check_names_them(tmp_path):
    out = tmp_path / "build"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    # A product dropped from the portfolio, the layout before one path per stack, and the
    # layout before one template per tier.
    (out / "retired-hub.template.json").write_text("{}\n")
    (out / "retired-hub").mkdir()
    (out / "retired-hub" / "1.0.0.template.json").write_text("{}\n")
    (out / "shared-hub.template.json").write_text("{}\n")
    (out / "README.txt").write_text("not the build's\n")

    check = run("build", "-p", str(EXAMPLE), "-o", str(out), "--check")
    assert check.exit_code == 1
    assert f"{out / 'retired-hub.template.json'} (stray: no longer produced)" in check.stderr
    assert f"{out / 'retired-hub/1.0.0.template.json'} (stray: no longer produced)" in check.stderr
    assert f"{out / 'shared-hub.template.json'} (stray: no longer produced)" in check.stderr
    assert "README.txt" not in check.stderr
    assert (out / "retired-hub.template.json").exists(), "--check must not remove"

    result = run("build", "-p", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"removed   {out / 'retired-hub.template.json'} (no longer produced)" in result.stdout
    assert not (out / "retired-hub.template.json").exists()
    assert not (out / "retired-hub").exists(), "the folder the stray leaves empty goes too"
    assert not (out / "shared-hub.template.json").exists()
    assert (out / "README.txt").read_text() == "not the build's\n"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out), "--check").exit_code == 0


def test_a_build_of_the_layout_before_one_path_per_stack_is_moved_over(tmp_path):
    """A folder written before the manifest's v2 (one file per version) is still the build's."""
    (tmp_path / "shared-hub").mkdir()
    (tmp_path / "shared-hub" / "1.0.0.template.json").write_text("{}\n")
    manifest = {
        "schema": "labcatalog-manifest/v1",
        "templates": {"shared-hub/1.0.0.template.json": {}},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "manifest.json",
        "personal-hub",
        "platform",
        "platform.template.json",
        "shared-hub",
    ]
    for folder in ("platform", "shared-hub", "personal-hub"):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == [
            "nonpii.template.json",
            "pii.template.json",
        ]


def test_a_folder_without_a_manifest_is_not_cleaned(tmp_path):
    """`-o` pointed at a folder that is not a build (no manifest.json) removes nothing."""
    (tmp_path / "someone-elses.template.json").write_text("{}\n")
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    assert (tmp_path / "someone-elses.template.json").read_text() == "{}\n"


def test_a_failed_generation_leaves_the_folder_and_its_strays_untouched(tmp_path):
    out = tmp_path / "build"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    (out / "retired-hub.template.json").write_text("{}\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    portfolio = tmp_path / "portfolio.yaml"
    portfolio.write_text(yaml.safe_dump(one_tier_over_iams_policy_limit()))
    assert run("build", "-p", str(portfolio), "-o", str(out)).exit_code == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_read_finds_each_stacks_template_and_version(tmp_path):
    artifacts = builder.generate(load_portfolio(EXAMPLE))
    build_folder.write(artifacts, tmp_path)
    build = build_folder.read(tmp_path)
    assert sorted(build.files, key=lambda a: a.path) == sorted(artifacts, key=lambda a: a.path)
    shared = build.template("shared-hub/pii")
    assert (shared.path, shared.version) == ("shared-hub/pii.template.json", "1.4.0")
    assert build.version("platform") is None and build.template("no-such-product") is None


def test_read_refuses_an_edited_template_and_another_manifest_schema(tmp_path):
    build_folder.write(builder.generate(load_portfolio(EXAMPLE)), tmp_path)
    template = tmp_path / "shared-hub" / "pii.template.json"
    template.write_text(template.read_text().replace("1.4.0", "9.9.9"))
    with pytest.raises(UserError, match=r"shared-hub/pii\.template\.json \(differs from the manif"):
        build_folder.read(tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(manifest.read_text().replace("manifest/v2", "manifest/v1"))
    with pytest.raises(UserError, match="written by another version of labcatalog"):
        build_folder.read(tmp_path)
    manifest.unlink()
    with pytest.raises(UserError, match=r"manifest\.json does not exist"):
        build_folder.read(tmp_path)


def test_check_names_stale_and_missing_files_and_exits_1(tmp_path):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    template = tmp_path / "platform.template.json"
    template.write_text(template.read_text().replace("Retain", "Delete", 1))
    (tmp_path / "manifest.json").unlink()
    result = run("build", "-p", str(EXAMPLE), "-o", str(tmp_path), "--check")
    assert result.exit_code == 1
    assert "platform.template.json (differs)" in result.stderr
    assert "manifest.json (missing)" in result.stderr
    assert "Delete" in template.read_text(), "--check must not write"


def test_a_portfolio_change_makes_the_build_stale(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["notebooks"]["noncurrent_version_days"] = 90
    changed = tmp_path / "portfolio.yaml"
    changed.write_text(yaml.safe_dump(data))
    result = run("build", "-p", str(changed), "-o", str(ROOT / "build"), "--check")
    assert result.exit_code == 1
    assert "platform.template.json (differs)" in result.stderr


def test_rebuild_reports_unchanged_files(tmp_path):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    result = run("build", "-p", str(EXAMPLE), "-o", str(tmp_path))
    assert result.exit_code == 0
    states = [line.split()[0] for line in result.stdout.splitlines()]
    assert states and set(states) == {"unchanged"}
    assert len(states) == len(list(tmp_path.rglob("*.json")))


def test_too_many_tiers_is_refused_with_a_clear_message_and_nothing_written(tmp_path):
    # The platform's root has one nested stack per tier besides its own 29 resources, so
    # CloudFormation's 500 resources bind at 472 tiers (tests/test_scale.py builds 200).
    portfolio = tmp_path / "portfolio.yaml"
    portfolio.write_text(yaml.safe_dump(many_tiers(480)))
    out = tmp_path / "out"
    result = run("build", "-p", str(portfolio), "-o", str(out))
    assert result.exit_code == 2
    assert "platform.template.json" in result.stderr
    assert "CloudFormation limit" in result.stderr and "480 tiers" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def one_tier_over_iams_policy_limit() -> dict:
    """One tier reading 200 prefixes: its roles' inline policies pass IAM's 10,240 characters."""
    data = many_tiers(1)
    data["tiers"][0]["read"] = [f"area-{i:03d}/" for i in range(200)]
    data["tiers"][0]["write"] = []
    return data


@pytest.mark.parametrize(
    "case,prefix_count,expected",
    [("few prefixes", 3, False), ("policy over IAM's inline limit", 200, True)],
)
def test_role_policy_size_limit(tmp_path, case, prefix_count, expected):
    data = many_tiers(1)
    data["tiers"][0]["read"] = [f"area-{i:03d}/" for i in range(prefix_count)]
    data["tiers"][0]["write"] = []
    portfolio = tmp_path / "portfolio.yaml"
    portfolio.write_text(yaml.safe_dump(data))
    result = run("build", "-p", str(portfolio), "-o", str(tmp_path / "out"))
    assert (result.exit_code == 2) is expected, result.output
    assert ("over IAM's limit" in result.stderr) is expected


IAM_MANAGED_POLICY_LIMIT = 6_144  # IAM's quota: characters of a managed policy, no whitespace


def _managed_policy_of(chars: int) -> tuple[Template, str]:
    """A template with one managed policy whose document is exactly `chars` characters long
    once its whitespace is removed (as IAM counts)."""

    def document(sid: str) -> dict:
        statement = {"Sid": sid, "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
        return {"Version": "2012-10-17", "Statement": [statement]}

    bare = len(json.dumps(document(""), separators=(",", ":")))
    template = Template()
    template.add_resource(
        ManagedPolicy("Big", PolicyDocument=document("S" * (chars - bare)), Roles=["someone"])
    )
    text = builder.render(template)
    body = json.loads(text)["Resources"]["Big"]["Properties"]["PolicyDocument"]
    assert len(json.dumps(body, separators=(",", ":"))) == chars
    return template, text


@pytest.mark.parametrize(
    "chars,over", [(IAM_MANAGED_POLICY_LIMIT, False), (IAM_MANAGED_POLICY_LIMIT + 1, True)]
)
def test_a_managed_policy_over_iams_limit_is_refused(chars, over):
    template, text = _managed_policy_of(chars)
    found = builder.check_limits("platform.template.json", template, text)
    assert bool(found) is over, found
    if over:
        assert found == [
            f"platform.template.json: managed policy Big has {chars} characters, over IAM's "
            f"limit of {IAM_MANAGED_POLICY_LIMIT}"
        ]


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    before = (tmp_path / "platform.template.json").read_bytes()
    artifacts = [build_folder.Artifact("platform.template.json", "{}\n")]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(build_folder.os, "replace", broken_replace)
    with pytest.raises(UserError, match="disk full"):
        build_folder.write(artifacts, tmp_path)
    assert (tmp_path / "platform.template.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_every_verb_has_help():
    for verb in ("validate", "build", "schema"):
        result = run(verb, "--help")
        assert result.exit_code == 0
        assert "Usage: main " in result.output or "Usage: labcatalog " in result.output
    assert "-o, --outdir" in run("build", "--help").output


def test_a_tier_dropped_from_the_portfolio_takes_its_platform_template_with_it(tmp_path):
    """Each tier's part of the platform is its own file (platform/<tier>.template.json, nested
    in the platform's root); a tier no longer in the portfolio leaves no file behind."""
    out = tmp_path / "build"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    assert sorted(p.name for p in (out / "platform").iterdir()) == [
        "nonpii.template.json",
        "pii.template.json",
    ]
    data = yaml.safe_load(EXAMPLE.read_text())
    data["tiers"] = [t for t in data["tiers"] if t["name"] == "pii"]
    fewer = tmp_path / "portfolio.yaml"
    fewer.write_text(yaml.safe_dump(data))
    result = run("build", "-p", str(fewer), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"removed   {out / 'platform/nonpii.template.json'} (no longer produced)" in (
        result.stdout
    )
    assert sorted(p.name for p in (out / "platform").iterdir()) == ["pii.template.json"]
    manifest = json.loads((out / "manifest.json").read_text())["templates"]
    assert manifest["platform/pii.template.json"]["stack"] == "platform/pii"
    root = json.loads((out / "platform.template.json").read_text())["Resources"]
    assert [
        r["Properties"]["TemplateURL"]
        for r in root.values()
        if "TemplateURL" in r.get("Properties", {})
    ] == ["platform/pii.template.json"]


def test_a_product_template_whose_tier_cannot_be_bound_fails_naming_it():
    stack = builder.Stack(
        "toy/pii.template.json", lambda _: Template(), "toy/pii", "1.0.0", tier="pii", product="toy"
    )
    with pytest.raises(BindError, match=r"^toy/pii\.template\.json: .* no parameter 'Tier'"):
        builder.template_body(Template(), stack)


def test_each_tiers_settings_that_a_product_binds_are_not_asked():
    """A product's `bound_parameters` (the tier's settings) are bound in its tier's template
    as `Tier` is: the committed templates declare none of them."""
    from generator.engine.registry import discover

    portfolio = load_portfolio(EXAMPLE)
    templates = {(key, tier): body for key, tier, body in product_templates()}
    bound_any = False
    for product, _ in discover().configured(portfolio):
        for tier in portfolio.tiers:
            bound = product.bound_parameters(portfolio, tier)
            bound_any |= bool(bound)
            body = templates[(product.key, tier.name)]
            assert not set(bound) & set(body.get("Parameters", {})), (product.key, tier.name)
            for name in bound:
                assert f'"Ref": "{name}"' not in json.dumps(body), (product.key, name)
    assert bound_any, "no product binds a setting: the shared hub's load balancer should"


def test_a_stacks_bindings_are_bound_after_its_tier():
    template = Template()
    template.add_parameter(Parameter("Tier", Type="String"))
    template.add_parameter(Parameter("Mode", Type="String", AllowedValues=["a", "b"]))
    template.add_condition("IsA", Equals(Ref("Mode"), "a"))
    template.add_resource(Topic("Only", Condition="IsA", TopicName=Sub("${Tier}-${Mode}")))
    stack = builder.Stack(
        "toy/pii.template.json",
        lambda _: template,
        "toy/pii",
        "1.0.0",
        tier="pii",
        product="toy",
        bindings=(("Mode", "a"),),
    )
    body = builder.template_body(template, stack)
    assert "Parameters" not in body and "Conditions" not in body
    assert body["Resources"]["Only"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": "pii-a"},
    }
    other = builder.template_body(template, replace(stack, bindings=(("Mode", "b"),)))
    assert other["Resources"] == {}
    with pytest.raises(BindError, match=r"^toy/pii\.template\.json: 'c' cannot be bound"):
        builder.template_body(template, replace(stack, bindings=(("Mode", "c"),)))
