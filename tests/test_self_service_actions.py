"""The personal hub's self-service actions: documents, the tier's action role, resize by update.

Four kinds of check, each proving a different thing:
- the documents against the shape of SSM Automation schema 0.3 (top-level keys, parameter
  types, unique step names, known step actions, every `{{ reference }}` resolving to a
  parameter or an earlier step's output, each API step's operation and members in botocore's
  model of that service, each script handler defined in the script). AWS's own validation of a
  document happens when the platform stack creates it: not proved here.
- the action role, as the platform builds it, with a third-party IAM evaluator that evaluates
  conditions (tests/support/iam_evaluator.py): only Systems Manager, running an automation of
  this account, may assume it; it starts and stops its own tier's hubs and no other tier's;
  nothing else. What IAM cannot scope (Service Catalog's update takes no resource ARN) is
  shown to be gated by the resize's first step instead.
- the publisher's view: each tier gets its own actions, assuming its own role.
- the resize's script on the local Service Catalog and moto's EC2: the update keeps every other
  parameter's value and changes only InstanceType, and the instance starts again. The local
  catalog finishes an update when its record is first read; AWS's timing, and CloudFormation
  actually replacing or resizing the instance, are not proved here.
"""

from __future__ import annotations

import ast
import functools
import json
import re

import botocore.session
import pytest

from generator.cfn import names as cfn_names
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.publish.aws import Caller
from generator.engine.publish.desired import desired_state, read_templates
from generator.engine.registry import discover
from products.personal_hub import automation, names, resize
from tests.conftest import platform_body
from tests.support import moto_servicecatalog
from tests.support.iam_evaluator import ACCOUNT, REGION, Request, decide
from tests.support.moto_server import REGION as MOTO_REGION
from tests.support.publish_support import BUCKET, local_catalog

TIERS = ("pii", "nonpii")
# Parameter types and step actions of SSM Automation schema 0.3 (AWS's Automation actions
# reference); the documents use a few of them.
PARAMETER_TYPES = {"String", "StringList", "Integer", "Boolean", "MapList", "StringMap"}
STEP_ACTIONS = {
    "aws:approve",
    "aws:assertAwsResourceProperty",
    "aws:branch",
    "aws:changeInstanceState",
    "aws:executeAwsApi",
    "aws:executeScript",
    "aws:pause",
    "aws:sleep",
    "aws:waitForAwsResourceProperty",
}
TOP_LEVEL = {"schemaVersion", "description", "assumeRole", "parameters", "mainSteps", "outputs"}
API_STEPS = {"aws:executeAwsApi", "aws:assertAwsResourceProperty", "aws:waitForAwsResourceProperty"}
# Inputs of an API step that are the step's own, not the API's.
STEP_INPUTS = {"Service", "Api", "PropertySelector", "DesiredValues"}


# --- the documents ---


def references(value) -> list[str]:
    """Every `{{ name }}` in a step's inputs."""
    return re.findall(r"\{\{\s*([^}\s]+)\s*\}\}", json.dumps(value))


def botocore_operation(service: str, api: str):
    model = botocore.session.get_session().get_service_model(service)
    (name,) = [n for n in model.operation_names if n.lower() == api.lower()]
    return model.operation_model(name)


@pytest.mark.parametrize("action", automation.ACTIONS)
def test_each_document_has_the_automation_schema_shape(action):
    document = automation.DOCUMENTS[action]()
    assert set(document) <= TOP_LEVEL
    assert document["schemaVersion"] == "0.3"
    assert document["assumeRole"] == "{{ AutomationAssumeRole }}"
    parameters = document["parameters"]
    assert "AutomationAssumeRole" in parameters
    for name, spec in parameters.items():
        assert re.fullmatch(r"[A-Za-z0-9_]+", name)
        assert spec["type"] in PARAMETER_TYPES and spec["description"]
    steps = document["mainSteps"]
    step_names = [s["name"] for s in steps]
    assert len(set(step_names)) == len(step_names)
    outputs: set[str] = set()
    for index, step in enumerate(steps):
        assert re.fullmatch(r"[A-Za-z0-9_]+", step["name"])
        assert step["action"] in STEP_ACTIONS
        for reference in references(step["inputs"]):
            # A parameter, or an output of a step that ran before this one.
            assert reference in parameters or reference in outputs, (step["name"], reference)
        for output in step.get("outputs", []):
            assert output["Selector"].startswith("$.") and output["Type"] in PARAMETER_TYPES
            outputs.add(f"{step['name']}.{output['Name']}")
        if "nextStep" in step:
            assert step["nextStep"] in step_names[index + 1 :]
        if step["action"] in API_STEPS:
            operation = botocore_operation(step["inputs"]["Service"], step["inputs"]["Api"])
            members = set(operation.input_shape.members)
            assert set(step["inputs"]) - STEP_INPUTS <= members, step["name"]
        if step["action"] == "aws:executeScript":
            inputs = step["inputs"]
            assert inputs["Runtime"] == "python3.11"
            defined = {
                node.name
                for node in ast.parse(inputs["Script"]).body
                if isinstance(node, ast.FunctionDef)
            }
            assert inputs["Handler"] in defined
        if step["action"] == "aws:changeInstanceState":
            assert step["inputs"]["DesiredState"] in {"running", "stopped"}
    assert steps[-1].get("isEnd") is True


def test_the_resize_script_needs_nothing_but_boto3():
    imported = set()
    for node in ast.walk(ast.parse(automation.resize_script())):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"__future__", "boto3"}


def test_no_document_touches_the_instance_behind_the_stacks_back():
    text = json.dumps([automation.DOCUMENTS[a]() for a in automation.ACTIONS])
    assert "ModifyInstanceAttribute" not in text
    assert "ModifyInstanceAttribute" not in automation.resize_script()


# --- the action role, as built ---


@functools.cache
def platform() -> dict:
    from generator.engine.registry import load_portfolio
    from tests.support.hub_services import EXAMPLE

    return platform_body(load_portfolio(EXAMPLE))


def pseudo(value):
    """A template value with the pseudo parameters of account ACCOUNT in REGION filled in."""
    if isinstance(value, list):
        return [pseudo(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, filled in (("Partition", "aws"), ("Region", REGION), ("AccountId", ACCOUNT)):
                text = text.replace("${AWS::" + name + "}", filled)
            assert "${AWS::" not in text and "${!" not in text, text
            return text
        return {k: pseudo(v) for k, v in value.items()}
    return value


def action_role(tier: str) -> dict:
    (role,) = [
        r["Properties"]
        for r in platform()["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"].get("RoleName") == names.ACTION_ROLE.format(tier=tier)
    ]
    return role


def role_arn(tier: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{names.ACTION_ROLE.format(tier=tier)}"


def instance(number: int = 1) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0{number:016x}"


def as_action_role(tier: str, action: str, resource: str, **context) -> Request:
    policies = tuple(pseudo(p["PolicyDocument"]) for p in action_role(tier)["Policies"])
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{names.ACTION_ROLE.format(tier=tier)}/run"
    return Request(session, action, resource, context, policies)


def hub_tags(tier: str, product: str = names.PRODUCT) -> dict[str, str]:
    return {
        f"aws:ResourceTag/{names.TIER_TAG}": tier,
        f"aws:ResourceTag/{names.PRODUCT_TAG}": product,
    }


SOURCE = {
    "aws:SourceAccount": ACCOUNT,
    "aws:SourceArn": f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/0123-abcd",
}
ELSEWHERE = {
    "aws:SourceAccount": "210987654321",
    "aws:SourceArn": f"arn:aws:ssm:{REGION}:210987654321:automation-execution/0123-abcd",
}
ANYONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.mark.parametrize(
    "case,principal,context,expected",
    [
        ("ssm for this account", "ssm.amazonaws.com", SOURCE, "Allowed"),
        ("ssm for another account", "ssm.amazonaws.com", ELSEWHERE, "ImplicitlyDenied"),
        ("ssm without a source", "ssm.amazonaws.com", {}, "ImplicitlyDenied"),
        ("service catalog", "servicecatalog.amazonaws.com", SOURCE, "ImplicitlyDenied"),
        ("ec2", "ec2.amazonaws.com", SOURCE, "ImplicitlyDenied"),
        ("a user of the account", f"arn:aws:iam::{ACCOUNT}:user/admin", {}, "ImplicitlyDenied"),
        (
            "the tier's launch role",
            f"arn:aws:iam::{ACCOUNT}:role/{cfn_names.LAUNCH_ROLE.format(tier='pii')}",
            {},
            "ImplicitlyDenied",
        ),
    ],
)
def test_only_systems_manager_of_this_account_assumes_the_action_role(
    case, principal, context, expected
):
    trust = pseudo(action_role("pii")["AssumeRolePolicyDocument"])
    identity = () if principal.endswith(".amazonaws.com") else (ANYONE,)
    (decided,) = decide(
        [Request(principal, "sts:AssumeRole", role_arn("pii"), context, identity, trust)]
    )
    assert decided == expected, case


def test_each_action_role_starts_and_stops_its_own_tiers_hubs_only():
    cells = [
        (role_tier, hub_tier, action)
        for role_tier in TIERS
        for hub_tier in TIERS
        for action in ("ec2:StartInstances", "ec2:StopInstances")
    ]
    requests = [as_action_role(r, a, instance(), **hub_tags(h)) for r, h, a in cells]
    decided = dict(zip(cells, decide(requests), strict=True))
    expected = {c: "Allowed" if c[0] == c[1] else "ImplicitlyDenied" for c in cells}
    assert decided == expected


@pytest.mark.parametrize(
    "case,action,resource,context",
    [
        ("an untagged instance", "ec2:StopInstances", instance(), {}),
        (
            "a shared hub's server of the tier",
            "ec2:StopInstances",
            instance(),
            hub_tags("pii", "shared-hub"),
        ),
        ("terminating its hub", "ec2:TerminateInstances", instance(), hub_tags("pii")),
        ("changing its hub behind the stack", "ec2:ModifyInstanceAttribute", instance(), {}),
        ("terminating a product", "servicecatalog:TerminateProvisionedProduct", "*", {}),
        ("passing a role", "iam:PassRole", role_arn("pii"), {}),
        ("reading the lake", "s3:GetObject", "arn:aws:s3:::example-datalake/pii/x.csv", {}),
        ("a shell on a hub", "ssm:SendCommand", instance(), hub_tags("pii")),
    ],
)
def test_an_action_role_may_do_nothing_else(case, action, resource, context):
    (decided,) = decide([as_action_role("pii", action, resource, **context)])
    assert decided == "ImplicitlyDenied", case


def test_the_update_is_allowed_account_wide_and_gated_by_stopping_the_tiers_instance():
    # UpdateProvisionedProduct takes no resource ARN: IAM allows it on any provisioned
    # product (account level, as a hub was launched by its user). The resize's only input is
    # an instance, and its first step stops it: that is where another tier's hub is refused.
    update = [
        as_action_role(
            tier, f"servicecatalog:{action}", "*", **{"servicecatalog:accountLevel": "self"}
        )
        for tier in TIERS
        for action in ("UpdateProvisionedProduct", "DescribeProvisionedProduct", "DescribeRecord")
    ]
    assert set(decide(update)) == {"Allowed"}
    steps = automation.resize_document()["mainSteps"]
    assert steps[0]["action"] == "aws:changeInstanceState"
    assert steps[0]["inputs"] == {"InstanceIds": ["{{ InstanceId }}"], "DesiredState": "stopped"}
    gate = as_action_role("nonpii", "ec2:StopInstances", instance(), **hub_tags("pii"))
    assert decide([gate]) == ["ImplicitlyDenied"]


# --- the publisher's view ---


def test_each_tier_publishes_actions_that_assume_its_own_action_role(example):
    registry = discover()
    build = build_folder.Build(tuple(builder.generate(example, registry)))
    templates, _ = read_templates(example, build, registry)
    desired = desired_state(example, templates, Caller(ACCOUNT, "aws"), registry=registry)
    hubs = {p.tier: p for p in desired.products if p.product == names.PRODUCT}
    assert sorted(hubs) == sorted(tier.name for tier in example.tiers)
    wanted = example.products.personal_hub.self_service_actions
    for tier in example.tiers:
        # Each tier's product offers its own tier's actions, and no other tier's.
        by_name = {a.name: a for a in hubs[tier.name].service_actions}
        assert sorted(by_name) == sorted(
            f"labcatalog-{tier.name}-personal-hub-{action}" for action in wanted
        )
        for action in wanted:
            spec = by_name[f"labcatalog-{tier.name}-personal-hub-{action}"]
            assert spec.definition["AssumeRole"] == role_arn(tier.name)
            assert spec.definition["Name"] == automation.document_name(action)
    for portfolio in desired.portfolios:
        roles = [p for p in portfolio.principals if "-personal-hub-actions" in p]
        # Its own tier's role only: the update needs a launch path, as a user's would.
        assert roles == [role_arn(portfolio.tier)]


# --- the resize on the local Service Catalog and moto's EC2 ---

HUB_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "Tier": {"Type": "String"},
        "Owner": {"Type": "String", "Default": ""},
        "InstanceType": {"Type": "String", "Default": "m7i.large"},
        "DataVolumeGiB": {"Type": "Number", "Default": "50"},
        "IdleMinutes": {"Type": "Number", "Default": "60"},
    },
    "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
}


@pytest.fixture
def launched_hub(aws, monkeypatch):
    """A personal hub launched through the local catalog with non-default values, and its
    instance in moto's EC2 carrying the stack's Service Catalog tag; the script's clients go to
    the local server as they would to AWS from the automation's runtime."""
    catalog = local_catalog(aws)
    s3 = catalog.client("s3")
    s3.put_object(Bucket=BUCKET, Key="hub.json", Body=json.dumps(HUB_TEMPLATE).encode())
    sc = catalog.client("servicecatalog")
    made = sc.create_product(
        Name="Personal hub (resize test)",
        Owner="Data Platform Team",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={
            "Name": "1.3.0",
            "Info": {"LoadTemplateFromURL": f"{aws.endpoint_url}/{BUCKET}/hub.json"},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        },
        IdempotencyToken="resize-product",
    )
    product_id = made["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    artifact_id = made["ProvisioningArtifactDetail"]["Id"]
    path = sc.create_portfolio(DisplayName="resize", ProviderName="test", IdempotencyToken="rp")
    portfolio_id = path["PortfolioDetail"]["Id"]
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    values = {"Tier": "pii", "Owner": "alice", "DataVolumeGiB": "200", "IdleMinutes": "15"}
    launched = sc.provision_product(
        ProductId=product_id,
        ProvisioningArtifactId=artifact_id,
        PathId=portfolio_id,
        ProvisionedProductName="alice-hub",
        ProvisioningParameters=[{"Key": k, "Value": v} for k, v in values.items()],
        ProvisionToken="alice-hub",
    )
    sc.describe_record(Id=launched["RecordDetail"]["RecordId"])  # the launch finishes
    arn = sc.describe_provisioned_product(Name="alice-hub")["ProvisionedProductDetail"]["Arn"]
    ec2 = aws.client("ec2")
    (hub,) = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="m7i.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": resize.PROVISIONED_PRODUCT_TAG, "Value": arn}],
            }
        ],
    )["Instances"]
    other = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    return sc, ec2, hub["InstanceId"], other["InstanceId"], arn, values


def state(ec2, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return found["State"]["Name"]


def wait_for(sc, record_id: str) -> dict:
    """The record once finished, read as the document's wait step reads it."""
    for _ in range(3):
        record = sc.describe_record(Id=record_id)["RecordDetail"]
        if record["Status"] in ("SUCCEEDED", "FAILED"):
            return record
    raise AssertionError(f"record {record_id} still {record['Status']}")


def test_resize_updates_the_provisioned_product_keeping_every_other_value(launched_hub):
    sc, ec2, instance_id, _, arn, values = launched_hub
    ec2.stop_instances(InstanceIds=[instance_id])  # the document's first step
    started = resize.update_hub({"InstanceId": instance_id, "InstanceType": "r7i.xlarge"}, None)
    assert started["ProvisionedProductArn"] == arn
    record = wait_for(sc, started["RecordId"])
    assert (record["RecordType"], record["Status"]) == ("UPDATE_PROVISIONED_PRODUCT", "SUCCEEDED")
    version, status, parameters = moto_servicecatalog.launched()["alice-hub"]
    assert (version, status) == ("1.3.0", "AVAILABLE")
    assert parameters == {**values, "InstanceType": "r7i.xlarge"}
    assert state(ec2, instance_id) == "stopped"
    assert resize.start_hub({"ProvisionedProductArn": arn}, None) == {"Started": [instance_id]}
    assert state(ec2, instance_id) in {"pending", "running"}


def test_resize_refuses_an_instance_no_product_launched(launched_hub):
    _, _, _, other, _, _ = launched_hub
    with pytest.raises(ValueError, match="not a catalog hub"):
        resize.update_hub({"InstanceId": other, "InstanceType": "r7i.xlarge"}, None)
    assert moto_servicecatalog.launched()["alice-hub"][2]["InstanceType"] == "m7i.large"


@pytest.mark.parametrize(
    "declared,expected",
    [
        (
            ["Owner", "InstanceType", "Tier"],
            [
                {"Key": "InstanceType", "Value": "g5.xlarge"},
                {"Key": "Owner", "UsePreviousValue": True},
                {"Key": "Tier", "UsePreviousValue": True},
            ],
        ),
        (["InstanceType"], [{"Key": "InstanceType", "Value": "g5.xlarge"}]),
    ],
)
def test_update_parameters_keep_all_but_the_type(declared, expected):
    assert resize.update_parameters(declared, "g5.xlarge") == expected


def test_update_parameters_refuse_a_version_without_an_instance_type():
    with pytest.raises(ValueError, match="no InstanceType"):
        resize.update_parameters(["Owner", "Tier"], "g5.xlarge")
