"""`labcatalog build`: deterministic, committed build/ current, limits, no half-written files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build as builder
from generator.engine.registry import load_portfolio
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
        Path("personal-hub/1.0.0.template.json"),
        Path("platform.template.json"),
        Path("shared-hub/1.0.0.template.json"),
    ]
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_manifest_records_hash_size_and_resources(tmp_path):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    entry = manifest["templates"]["platform.template.json"]
    body = (tmp_path / "platform.template.json").read_bytes()
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["size"] == len(body)
    assert entry["resources"] == len(json.loads(body)["Resources"])


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
    portfolio = tmp_path / "portfolio.yaml"
    portfolio.write_text(yaml.safe_dump(many_tiers(100)))
    out = tmp_path / "out"
    result = run("build", "-p", str(portfolio), "-o", str(out))
    assert result.exit_code == 2
    assert "platform.template.json" in result.stderr
    assert "CloudFormation limit" in result.stderr and "100 tiers" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_largest_portfolio_within_limits_builds(tmp_path):
    portfolio = tmp_path / "portfolio.yaml"
    # Each tier adds its notebook, hub, task execution and launch roles (the last three since the
    # shared hub): about 28 KB of template, so the 1 MB body limit binds at about 34 tiers.
    portfolio.write_text(yaml.safe_dump(many_tiers(20)))
    artifacts = builder.generate(load_portfolio(portfolio))
    resources = json.loads(artifacts[0].text)["Resources"]
    assert len(resources) <= builder.MAX_RESOURCES


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


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    assert run("build", "-p", str(EXAMPLE), "-o", str(tmp_path)).exit_code == 0
    before = (tmp_path / "platform.template.json").read_bytes()
    artifacts = [builder.Artifact("platform.template.json", "{}\n")]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(builder.os, "replace", broken_replace)
    with pytest.raises(OSError):
        builder.write(artifacts, tmp_path)
    assert (tmp_path / "platform.template.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_every_verb_has_help():
    for verb in ("validate", "build", "schema"):
        result = run(verb, "--help")
        assert result.exit_code == 0
        assert "Usage: main " in result.output or "Usage: labcatalog " in result.output
    assert "-o, --outdir" in run("build", "--help").output
