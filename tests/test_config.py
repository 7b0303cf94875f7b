"""Valid portfolios load into the model, and the JSON Schema for editors matches the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from generator.cli import main
from generator.commands.schema import portfolio_json_schema
from generator.engine.registry import load_portfolio, problems_of

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "portfolio.yaml"
THREE_TIERS = Path(__file__).parent / "fixtures" / "three-tiers.yaml"
SCHEMA_FILE = ROOT / "generator" / "model" / "schema" / "portfolio-v2.schema.json"


def without(text: str, start: str, end: str) -> str:
    """`text` without the block from the line starting `start` up to the one starting `end`."""
    return text[: text.index(start)] + text[text.index(end) :]


def test_example_loads():
    portfolio = load_portfolio(EXAMPLE)
    assert [t.name for t in portfolio.tiers] == ["pii", "nonpii"]
    assert portfolio.tier("nonpii").read == ["nonpii/", "reference/"]
    assert portfolio.tier("pii").write == ["pii/scratch/"]
    assert portfolio.data_lake.kms_key_arn is None
    assert portfolio.products.shared_hub.version == "1.4.0"
    assert portfolio.products.personal_hub.keep_versions == 3
    assert portfolio.tag_options == {"cost-center": ["ds-research", "ds-analytics"]}


def test_optional_sections_get_defaults(tmp_path):
    text = EXAMPLE.read_text()
    text = without(text, "notebooks:", "tiers:")
    text = without(text, "tag_options:", "# The platform's own settings")
    text = text.replace("    keep_versions: 3\n", "")
    assert "notebooks" not in text and "tag_options" not in text and "keep_versions" not in text
    path = tmp_path / "portfolio.yaml"
    path.write_text(text)
    portfolio = load_portfolio(path)
    assert portfolio.notebooks.noncurrent_version_days == 30
    assert portfolio.tag_options == {}
    assert portfolio.products.shared_hub.keep_versions == 3


def test_two_tiers_may_share_the_same_prefix(tmp_path):
    path = tmp_path / "portfolio.yaml"
    path.write_text(EXAMPLE.read_text().replace("read: [pii/]", "read: [pii/, reference/]"))
    assert problems_of(path) == []
    assert "reference/" in load_portfolio(path).tier("pii").read


def test_three_tier_fixture_loads():
    portfolio = load_portfolio(THREE_TIERS)
    assert [t.name for t in portfolio.tiers] == ["pii", "nonpii", "research"]
    assert [t.logical_id for t in portfolio.tiers] == ["Pii", "Nonpii", "Research"]
    shared = set(portfolio.tier("nonpii").read) & set(portfolio.tier("research").read)
    assert shared == {"reference/"}
    assert portfolio.data_lake.kms_key_arn.startswith("arn:aws:kms:")
    assert portfolio.notebooks.noncurrent_version_days == 90
    assert portfolio.portfolio.support_email is None


def test_schema_file_is_generated_from_the_model():
    assert SCHEMA_FILE.read_text() == portfolio_json_schema(), (
        "generator/model/schema/portfolio-v2.schema.json is out of date; regenerate it with: "
        "labcatalog schema > generator/model/schema/portfolio-v2.schema.json"
    )


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", [EXAMPLE, THREE_TIERS], ids=["example", "three-tiers"])
def test_valid_portfolios_pass_the_json_schema(validator, path):
    document = yaml.safe_load(path.read_text())
    assert [e.message for e in validator.iter_errors(document)] == []


def test_unknown_key_fails_the_json_schema(validator):
    document = yaml.safe_load(EXAMPLE.read_text())
    document["data_lake"]["region"] = "eu-west-1"
    messages = [e.message for e in validator.iter_errors(document)]
    assert len(messages) == 1
    assert "'region' was unexpected" in messages[0]


def test_validate_prints_a_one_line_summary(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "-p", "portfolio.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == (
        "portfolio.yaml: valid (2 tiers: pii, nonpii; products: personal-hub, shared-hub)\n"
    )


def test_the_models_secret_path_is_the_tiers_secrets_path():
    """The model names where a tier's secrets live without importing the CloudFormation layer
    (the layer rule); it must say what generator/cfn/names.py says."""
    from generator.cfn import names
    from generator.model import config

    assert config.SECRET_PATH == names.TIER_SECRETS
    assert names.PERSONAL_HUB_SECRETS.startswith(config.SECRET_PATH)
