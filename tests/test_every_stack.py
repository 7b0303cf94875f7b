"""Rules that hold for every stack the build produces, the platform and each product alike.

Written once and run over every template of every test portfolio, so a new product (or a new
resource in an old one) is held to them without a test of its own. Rules particular to one stack
live in that stack's own test file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.cfn import names
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
        # Input from portfolio.yaml (as JSON writes it): the lake's key, the platform's
        # certificate, identity provider and owner rule.
        settings = portfolio.platform
        oidc = settings.identity.oidc
        given = tuple(
            json.dumps(value)[1:-1]
            for value in [
                portfolio.data_lake.kms_key_arn,
                settings.dns.certificate_arn,
                settings.owner.principal_pattern,
                oidc and oidc.issuer_url,
            ]
            if value
        )
        for artifact in builder.generate(portfolio):
            if artifact.path.endswith(".template.json"):
                found[f"{name}:{artifact.path}"] = (artifact.path, artifact.text, given)
    return found


STACKS = _stacks()
ROOT = Path(__file__).parents[1]


@pytest.fixture(params=sorted(STACKS), scope="module")
def stack(request) -> tuple[str, dict]:
    path, text, _ = STACKS[request.param]
    return path, json.loads(text)


def test_every_stack_is_covered():
    """The build makes the platform and both products for the example, so all are held here."""
    example = {key.split(":", 1)[1] for key in STACKS if key.startswith("example:")}
    # The platform, its two tiers' nested templates, and both products for each tier.
    assert len(example) == 7, example
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
    for arn in given:  # input from portfolio.yaml, not the code's
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


# Run in a fresh interpreter before anything of the build is imported: the clock (time.* and
# datetime's now/utcnow/today) reads `sys.argv[1]`, a moment given in seconds since the epoch,
# and moves on from there. Then every template of every portfolio is printed as JSON.
_AT_ANOTHER_TIME = """
import datetime as _dt, json, sys, time as _time
from pathlib import Path
shift = float(sys.argv[1]) - _time.time()
_time_, _ns, _gm, _local, _strftime = (
    _time.time, _time.time_ns, _time.gmtime, _time.localtime, _time.strftime
)
_time.time = lambda: _time_() + shift
_time.time_ns = lambda: _ns() + int(shift * 1e9)
_time.gmtime = lambda secs=None: _gm(_time.time() if secs is None else secs)
_time.localtime = lambda secs=None: _local(_time.time() if secs is None else secs)
_time.strftime = lambda f, t=None: _strftime(f, _time.localtime() if t is None else t)
class datetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls.fromtimestamp(_time.time(), tz)
    @classmethod
    def utcnow(cls):
        return cls.fromtimestamp(_time.time(), _dt.UTC).replace(tzinfo=None)
    @classmethod
    def today(cls):
        return cls.fromtimestamp(_time.time())
class date(_dt.date):
    @classmethod
    def today(cls):
        return cls.fromtimestamp(_time.time())
_dt.datetime, _dt.date = datetime, date
from generator.engine import build
from generator.engine.registry import load_portfolio
found = {}
for name, path in json.loads(sys.argv[2]).items():
    for artifact in build.generate(load_portfolio(Path(path))):
        found[f"{name}:{artifact.path}"] = artifact.text
print(json.dumps(found))
"""


def _built_at(moment: datetime) -> dict[str, str]:
    """Every template of every portfolio, built by a process whose clock says `moment`."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _AT_ANOTHER_TIME,
            str(moment.timestamp()),
            json.dumps({k: str(v) for k, v in PORTFOLIOS.items()}),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_build_is_deterministic():
    """The same input builds the same bytes at any time: two builds years and seconds apart
    (a clock in the output, even one of one-second resolution, would differ) and this one."""
    here = {key: text for key, (_, text, _) in STACKS.items()}
    early = _built_at(datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC))
    late = _built_at(datetime(2039, 10, 11, 12, 13, 17, 500000, tzinfo=UTC))
    assert set(early) == set(late) >= set(here)  # the templates, and the manifest too
    for key in early:
        assert early[key] == late[key], key
    for key in here:
        assert early[key] == late[key] == here[key], key


# --- properties promised for every resource of a kind (each checked on all of them) ---

# Retained kinds of the product stacks on top of RETAINED: the hubs' and servers' logs say who did
# what, so they outlive the stack too. (The platform's image-build log is not users' data.)
PRODUCT_RETAINED = {"AWS::Logs::LogGroup": "Retain"}


def test_every_retained_kind_is_found_somewhere():
    """The retention rules below are not vacuous: each kind they name is in some stack."""
    found = {
        r["Type"] for _, text, _ in STACKS.values() for r in json.loads(text)["Resources"].values()
    }
    assert set(RETAINED) | set(PRODUCT_RETAINED) <= found


def test_product_log_groups_outlive_the_stack(stack):
    path, body = stack
    if path.startswith("platform"):
        return
    for logical_id, resource in body["Resources"].items():
        policy = PRODUCT_RETAINED.get(resource["Type"])
        if policy is not None:
            assert resource.get("DeletionPolicy") == policy, (path, logical_id)
            assert resource.get("UpdateReplacePolicy") == policy, (path, logical_id)


def test_what_is_kept_on_delete_is_kept_on_replace_too(stack):
    """A replacement deletes the old resource: a retained resource must be retained then too."""
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        if resource.get("DeletionPolicy", "Delete") != "Delete":
            assert resource.get("UpdateReplacePolicy") == resource["DeletionPolicy"], (
                path,
                logical_id,
            )


# AWS services that do not set aws:SourceAccount when they assume a role: EC2 (an instance
# profile's role is assumed by the instance, with no source account in the request).
NO_SOURCE_ACCOUNT = {"ec2.amazonaws.com"}
THIS_ACCOUNT = {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}


def test_every_role_is_assumed_only_by_one_aws_service_of_this_account(stack):
    """Every role but the tiers' data roles, which their hubs' roles assume for one person at
    a time (tests/test_identity.py evaluates that trust)."""
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        if resource["Properties"].get("RoleName") == names.DATA_ROLE.format(
            tier=path.rsplit("/", 1)[-1].split(".")[0]
        ):
            continue
        trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert len(trust) == 1, (path, logical_id)
        (statement,) = trust
        assert statement["Effect"] == "Allow" and statement["Action"] == ["sts:AssumeRole"]
        assert list(statement["Principal"]) == ["Service"], (path, logical_id)
        (service,) = statement["Principal"]["Service"]
        assert re.fullmatch(r"[a-z0-9-]+\.amazonaws\.com", service), (path, logical_id)
        if service in NO_SOURCE_ACCOUNT:
            assert "Condition" not in statement, (path, logical_id)
        else:
            condition = statement.get("Condition", {})
            assert condition.get("StringEquals") == THIS_ACCOUNT["StringEquals"], (path, logical_id)
            # Narrower still at most: which of this account's resources asks for it.
            assert set(condition) <= {"StringEquals", "ArnLike"}, (path, logical_id, statement)


# Each action, wherever an identity policy allows it, must carry this condition key: the scope
# that its resource alone cannot give (which service may use a key, which cluster, which prefix).
REQUIRED_CONDITION = {
    "iam:PassRole": "iam:PassedToService",
    "ecs:RunTask": "ecs:cluster",
    "ecs:StopTask": "ecs:cluster",
    "ecs:DescribeTasks": "ecs:cluster",
    "ecs:ListTasks": "ecs:cluster",
    "s3:ListBucket": "s3:prefix",
    "s3:ListBucketVersions": "s3:prefix",
    "kms:CreateGrant": "kms:GrantIsForAWSResource",
    **{
        f"kms:{action}": "kms:ViaService"
        for action in (
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "DescribeKey",
        )
    },
}
# (role or policy, Sid) -> why it may go without the condition above.
CONDITION_EXCEPTIONS = {
    ("HubImageBuildRole", "UseTheBuildKey"): "CodeBuild itself encrypts the build's artifacts",
}
# Actions that AWS does not scope to a resource (no resource types in the Service Authorization
# Reference), besides the read-only Describe*/List* of services other than S3 (whose listings
# are data): the only ones an identity policy may allow on "*" without a condition.
UNSCOPED = {
    "cloudformation:GetTemplateSummary",
    "cloudformation:ValidateTemplate",
    "ecr:GetAuthorizationToken",
    "ecs:DeregisterTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "route53:CreateHostedZone",
    "secretsmanager:GetRandomPassword",
    "servicecatalog:SearchProducts",
    "servicediscovery:CreatePrivateDnsNamespace",
    "servicediscovery:GetOperation",
    "servicediscovery:TagResource",
    "servicediscovery:UntagResource",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def _unscoped(action: str) -> bool:
    service, name = action.split(":")
    return action in UNSCOPED or (service != "s3" and name.startswith(("Describe", "List")))


def _condition_keys(statement: dict) -> set[str]:
    return {key for test in statement.get("Condition", {}).values() for key in test}


def _identity_statements(body: dict):
    """Every statement of an identity policy (a role's or a managed policy's): no Principal."""
    for logical_id, statement in _statements(body):
        if "Principal" not in statement:
            yield logical_id, statement


def test_every_statement_carries_the_condition_its_actions_need(stack):
    path, body = stack
    for logical_id, statement in _identity_statements(body):
        if statement["Effect"] != "Allow":
            continue
        if (logical_id, statement.get("Sid")) in CONDITION_EXCEPTIONS:
            continue
        keys = _condition_keys(statement)
        for action in statement["Action"]:
            needed = REQUIRED_CONDITION.get(action)
            assert needed is None or needed in keys, (path, logical_id, statement.get("Sid"))


def test_every_kms_use_is_through_an_aws_service_of_this_region(stack):
    """kms:ViaService names services as `<service>.${AWS::Region}.amazonaws.com` only."""
    path, body = stack
    for logical_id, statement in _identity_statements(body):
        for test in statement.get("Condition", {}).values():
            if "kms:ViaService" not in test:
                continue
            services = test["kms:ViaService"]
            for service in services if isinstance(services, list) else [services]:
                assert re.fullmatch(
                    r"[a-z0-9-]+\.\$\{AWS::Region\}\.amazonaws\.com", service["Fn::Sub"]
                ), (path, logical_id, service)


def test_every_statement_on_all_resources_is_unscoped_or_conditioned(stack):
    """An identity statement on "*" allows only actions AWS cannot scope, or has a condition."""
    path, body = stack
    for logical_id, statement in _identity_statements(body):
        if statement["Effect"] != "Allow":
            continue
        resources = statement["Resource"]
        if "*" not in (resources if isinstance(resources, list) else [resources]):
            continue
        if "Condition" in statement:
            continue
        scoped = sorted(a for a in statement["Action"] if not _unscoped(a))
        assert not scoped, (path, logical_id, statement.get("Sid"), scoped)


def test_every_key_policy_statement_for_a_service_has_a_condition(stack):
    """A key policy lets the account administer the key through IAM; any service it names is
    held to a condition (which log groups, which resources)."""
    path, body = stack
    for logical_id, resource in body["Resources"].items():
        if resource["Type"] != "AWS::KMS::Key":
            continue
        for statement in resource["Properties"]["KeyPolicy"]["Statement"]:
            principal = statement["Principal"]
            if "Service" in principal:
                assert statement.get("Condition"), (path, logical_id, statement.get("Sid"))
            else:
                root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                assert principal == {"AWS": root} or principal == {"AWS": [root]}, (
                    path,
                    logical_id,
                    principal,
                )
