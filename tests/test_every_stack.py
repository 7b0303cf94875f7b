"""Rules that hold for every stack the build produces, the platform and each product alike.

Written once and run over every template of every test portfolio, so a new product (or a new
resource in an old one) is held to them without a test of its own. Rules particular to one stack
live in that stack's own test file.
"""

from __future__ import annotations

import json
import re

import pytest

from generator.cfn.checks import CHECKOV_SKIPS
from generator.engine import build as builder
from generator.engine.registry import load_portfolio
from tests.conftest import PORTFOLIOS, assert_cfn_lint_clean

# Actions that read or change data, or decrypt it: none may be allowed on every resource.
DATA_ACTION = re.compile(
    r"^(s3:(Get|Put|Delete|List|Abort|Restore)"
    r"|kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt)"
    r"|secretsmanager:GetSecretValue"
    r"|ssm:(GetParameter|PutParameter))"
)
RETAINED = {
    "AWS::S3::Bucket": "Retain",
    "AWS::KMS::Key": "Retain",
    "AWS::EC2::Volume": "Snapshot",
}
HARD_CODED = {
    "partition": r"arn:aws[a-z-]*:",
    "account id": r"\b\d{12}\b",
    "region": r"\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b",
}


def _stacks() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """`<portfolio>:<path>` -> (path, template text, ARNs the portfolio gives), for every
    template of every portfolio."""
    found = {}
    for name, path in sorted(PORTFOLIOS.items()):
        portfolio = load_portfolio(path)
        given = tuple(arn for arn in [portfolio.data_lake.kms_key_arn] if arn)
        for artifact in builder.generate(portfolio):
            if artifact.path.endswith(".template.json"):
                found[f"{name}:{artifact.path}"] = (artifact.path, artifact.text, given)
    return found


STACKS = _stacks()


@pytest.fixture(params=sorted(STACKS), scope="module")
def stack(request) -> tuple[str, dict]:
    path, text, _ = STACKS[request.param]
    return path, json.loads(text)


def test_every_stack_is_covered():
    """The build makes the platform and both products for the example, so all are held here."""
    example = {key.split(":", 1)[1] for key in STACKS if key.startswith("example:")}
    # The platform, its two tiers' nested templates, and both products.
    assert len(example) == 5, example
    assert any(path.startswith("platform") for path in example)


def test_cfn_lint_finds_nothing(stack, tmp_path):
    path, body = stack
    assert_cfn_lint_clean(body, tmp_path, path.replace("/", "_"))


def _statements(body: dict):
    """Every statement of every IAM, bucket, key and file-system policy in the template."""
    for logical_id, resource in body["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        documents += [
            props[k] for k in ("PolicyDocument", "KeyPolicy", "FileSystemPolicy") if k in props
        ]
        for document in documents:
            for statement in document["Statement"]:
                if "Fn::If" in statement:  # a statement for some regions only: check it too
                    statement = statement["Fn::If"][1]
                yield logical_id, statement


def test_no_data_action_is_allowed_on_every_resource(stack):
    path, body = stack
    checked = 0
    for logical_id, statement in _statements(body):
        checked += 1
        if statement["Effect"] != "Allow" or "Principal" in statement:
            continue  # key, bucket and file-system policies: "*" there means that resource
        actions = statement["Action"]
        assert not {"*", "s3:*", "kms:*", "secretsmanager:*", "ssm:*"} & set(actions), (
            path,
            logical_id,
            statement,
        )
        data = [a for a in actions if DATA_ACTION.match(a)]
        if data and "*" in statement["Resource"]:
            # The one documented exception: a launch role reads Service Catalog's own copy of a
            # product template, in buckets whose names AWS does not publish; the tag scopes it.
            assert data == ["s3:GetObject"], (path, logical_id, statement)
            assert statement["Condition"] == {
                "StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}
            }, (path, logical_id)
    if path.startswith("platform"):
        assert checked > 0, "the platform has policies: the walk above must find them"


def test_tagged_resources_carry_a_labcatalog_tag(stack):
    """What a stack tags, it tags as labcatalog's (the publisher, IAM and people filter by it)."""
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if tags is None:
            continue
        keys = set(tags) if isinstance(tags, dict) else {t["Key"] for t in tags}
        assert any(k.startswith("labcatalog:") for k in keys), (path, logical_id, keys)


def test_data_stores_outlive_the_stack(stack):
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        policy = RETAINED.get(resource["Type"])
        if policy is None:
            continue
        assert resource.get("DeletionPolicy") == policy, (path, logical_id)
        assert resource.get("UpdateReplacePolicy") == policy, (path, logical_id)


def test_every_parameter_is_grouped_labelled_described_and_constrained(stack):
    path, body = stack
    parameters = body.get("Parameters", {})
    if not parameters:
        return
    interface = body.get("Metadata", {}).get("AWS::CloudFormation::Interface")
    if path.startswith("platform"):
        # Set once by the platform team on the command line, never shown in a console form.
        assert interface is None
        for name, parameter in parameters.items():
            assert parameter.get("Description"), (path, name)
        return
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters), f"{path}: each parameter in exactly one group"
    assert len(grouped) == len(set(grouped)), path
    assert all(group["Label"]["default"] for group in interface["ParameterGroups"]), path
    assert set(interface["ParameterLabels"]) == set(parameters), f"{path}: a label per parameter"
    for name, parameter in parameters.items():
        assert interface["ParameterLabels"][name]["default"], (path, name)
        assert parameter.get("Description"), (path, name)
        assert parameter.get("ConstraintDescription"), (path, name)
        aws_typed = parameter["Type"].startswith(("AWS::", "List<AWS::"))
        constrained = {"AllowedPattern", "AllowedValues", "MinValue"} & set(parameter)
        assert aws_typed or constrained, f"{path}: {name} accepts anything"


def _picks_a_region(condition: dict) -> bool:
    """An `Fn::Or` of `this region is X` tests (or of other such conditions)."""
    return all(
        "Condition" in item or item.get("Fn::Equals", [None])[0] == {"Ref": "AWS::Region"}
        for item in condition.get("Fn::Or", [{}])
    )


@pytest.mark.parametrize("case", sorted(HARD_CODED))
@pytest.mark.parametrize("key", sorted(STACKS))
def test_nothing_is_hard_coded(key, case):
    path, text, given = STACKS[key]
    for arn in given:  # input from portfolio.yaml (the lake's key), not the code's
        text = text.replace(arn, "<given in portfolio.yaml>")
    body = json.loads(text)
    # Parameter patterns and descriptions describe ARNs; the resources must not contain any.
    body = {k: v for k, v in body.items() if k != "Parameters"}
    # The one exception, kept apart: AWS's own log delivery accounts of older regions (a
    # mapping), and the conditions that pick the stack's region among them.
    body.pop("Mappings", None)
    body["Conditions"] = {
        k: v for k, v in body.get("Conditions", {}).items() if not _picks_a_region(v)
    }
    assert not re.search(HARD_CODED[case], json.dumps(body)), f"hard-coded {case} in {path}"


def test_checkov_skips_are_known_and_give_their_reason(stack):
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"] in CHECKOV_SKIPS, (path, logical_id, skip)
            assert skip["comment"] == CHECKOV_SKIPS[skip["id"]], (path, logical_id)


def test_the_build_is_deterministic():
    assert _stacks() == STACKS
