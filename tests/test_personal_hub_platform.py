"""What the personal hub adds to the platform stack, its launch-role statements and its
self-service actions, checked as data on a standalone template (the platform builder wires them
in; test_personal_hub_deploy.py deploys the result)."""

from __future__ import annotations

import json
import re

import pytest
from awacs.aws import PolicyDocument
from troposphere import Parameter, Ref, Template
from troposphere.iam import ManagedPolicy

from generator.cfn.product import AccountContribution, PlatformContext
from generator.engine.build import render
from products.personal_hub import PRODUCT, automation, instance_types, launch, names, platform
from products.personal_hub import service_actions as actions
from products.platform import tier_roles
from tests.conftest import assert_cfn_lint_clean
from tests.support.personal_hub_support import body

MANAGED_POLICY_LIMIT = 6_144  # IAM's limit for one managed policy, without whitespace


PLATFORM = PlatformContext(
    notebook_bucket=Ref("NotebookBucket"),
    notebook_key_arn=Ref("NotebookKeyArn"),
    hub_key_arn=Ref("HubKeyArn"),
    repository_arn=Ref("RepositoryArn"),
)


def standalone(portfolio) -> dict:
    """A template with only the personal hub's platform parts, the tiers' notebook roles they
    build on (as the platform makes them), and stand-ins for the platform's other values."""
    t = Template()
    for name in ("NotebookBucket", "NotebookKeyArn", "HubKeyArn", "RepositoryArn"):
        t.add_parameter(Parameter(name, Type="String"))
    assert PRODUCT.add_to_platform(t, PLATFORM) == AccountContribution()
    for tier in portfolio.tiers:
        context = tier_roles.add_notebook_role(t, tier, portfolio.data_lake, PLATFORM)
        contribution = PRODUCT.add_to_tier(t, context)
        tier_roles.add_data_role(t, context, [contribution])
        for parameter in contribution.parameters:
            tier_roles.add_parameter(t, parameter)
        for policy in contribution.launch_policies:
            tier_roles.add_launch_policy(t, policy)
    return json.loads(render(t))


@pytest.fixture
def added(portfolio) -> dict:
    return standalone(portfolio)


def as_data(document: PolicyDocument) -> dict:
    """An awacs document as CloudFormation reads it (troposphere renders the Subs)."""
    t = Template()
    t.add_resource(ManagedPolicy("Document", PolicyDocument=document))
    return json.loads(render(t))["Resources"]["Document"]["Properties"]["PolicyDocument"]


def statements_by_sid(document: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in document["Statement"]}


def role_policies(resource: dict) -> dict[str, dict]:
    return {p["PolicyName"]: p["PolicyDocument"] for p in resource["Properties"]["Policies"]}


def test_each_tier_gets_an_instance_role_profile_and_parameter(added, portfolio):
    for tier in portfolio.tiers:
        tid = tier.logical_id
        role = added["Resources"][f"{tid}PersonalHubRole"]
        assert role["Properties"]["RoleName"] == names.INSTANCE_ROLE.format(tier=tier.name)
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": ["ec2.amazonaws.com"]}
        profile = added["Resources"][f"{tid}PersonalHubInstanceProfile"]["Properties"]
        assert profile["Roles"] == [{"Ref": f"{tid}PersonalHubRole"}]
        parameter = added["Resources"][f"{tid}PersonalHubInstanceProfileParameter"]["Properties"]
        # Exactly the name the template's dynamic reference reads for this tier.
        assert parameter["Name"] == names.INSTANCE_PROFILE_PARAMETER.format(tier=tier.name)
        assert (
            parameter["Name"] == f"/labcatalog/tiers/{tier.name}/personal-hub-instance-profile-name"
        )
        assert parameter["Value"] == {"Ref": f"{tid}PersonalHubInstanceProfile"}


def test_instance_role_has_no_data_and_brokers_only_its_tiers(added, portfolio):
    """The instance role reaches data only by assuming its tier's data role for the owner; the
    data role trusts it (tests/test_identity.py evaluates both sides)."""
    for tier in portfolio.tiers:
        role = added["Resources"][f"{tier.logical_id}PersonalHubRole"]
        documents = role_policies(role)
        assert sorted(documents) == ["personal-hub-instance"]
        text = json.dumps(documents)
        assert '"s3:' not in text and "data-access" not in text
        assume = statements_by_sid(documents["personal-hub-instance"])[
            "AssumeThisTiersDataRoleForItsUsers"
        ]
        (data_role,) = assume["Resource"]
        assert data_role["Fn::Sub"].endswith(f":role/labcatalog-{tier.name}-data")
        data = added["Resources"][f"{tier.logical_id}DataRole"]["Properties"]
        for trust in data["AssumeRolePolicyDocument"]["Statement"]:
            assert trust["Principal"] == {
                "AWS": [{"Fn::GetAtt": [f"{tier.logical_id}PersonalHubRole", "Arn"]}]
            }
        for other in portfolio.tiers:
            if other.name != tier.name:
                assert f"labcatalog/{other.name}/" not in text


def test_instance_policy_is_session_manager_image_pull_and_own_secrets_only(added, portfolio):
    for tier in portfolio.tiers:
        role = added["Resources"][f"{tier.logical_id}PersonalHubRole"]
        statements = statements_by_sid(role_policies(role)["personal-hub-instance"])
        assert sorted(statements) == [
            "AssumeThisTiersDataRoleForItsUsers",
            "DecryptSecretsThroughSecretsManager",
            "EcrLogin",
            "PullHubImage",
            "ReadPersonalHubSecrets",
            "ReadTierSettings",
            "RegisterWithSessionManager",
            "ReportHubActivity",
            "SessionManagerChannels",
        ]
        # The boot script reads the tier's settings by path: that path only.
        settings = statements["ReadTierSettings"]
        assert settings["Action"] == ["ssm:GetParametersByPath"]
        assert [r["Fn::Sub"].split(":parameter")[1] for r in settings["Resource"]] == [
            f"/labcatalog/tiers/{tier.name}/settings",
            f"/labcatalog/tiers/{tier.name}/settings/*",
        ]
        assert statements["PullHubImage"]["Resource"] == [{"Ref": "RepositoryArn"}]
        report = statements["ReportHubActivity"]
        assert report["Action"] == ["cloudwatch:PutMetricData"]
        assert report["Condition"] == {
            "StringEquals": {"cloudwatch:namespace": "labcatalog/PersonalHub"}
        }
        (secrets,) = statements["ReadPersonalHubSecrets"]["Resource"]
        assert secrets["Fn::Sub"].endswith(f":secret:labcatalog/{tier.name}/personal-hub/*")
        for statement in statements.values():
            if statement["Resource"] == ["*"]:
                assert all(
                    a.startswith("ssmmessages:")
                    or a == "ecr:GetAuthorizationToken"
                    or (a == "cloudwatch:PutMetricData" and "Condition" in statement)
                    for a in statement["Action"]
                ), statement


def test_secrets_key_grant_is_through_secrets_manager_only(portfolio):
    document = as_data(
        platform.instance_policy(portfolio.tiers[0].name, Ref("Repository"), Ref("HubKeyArn"))
    )
    decrypt = statements_by_sid(document)["DecryptSecretsThroughSecretsManager"]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
        }
    }


def test_documents_are_automation_documents_on_ec2_instances(added):
    documents = {
        r["Properties"]["Name"]: r["Properties"]
        for r in added["Resources"].values()
        if r["Type"] == "AWS::SSM::Document"
    }
    assert sorted(documents) == [
        "labcatalog-PersonalHub-Resize",
        "labcatalog-PersonalHub-Start",
        "labcatalog-PersonalHub-Stop",
    ]
    for document in documents.values():
        assert document["DocumentType"] == "Automation"
        assert document["TargetType"] == "/AWS::EC2::Instance"
        assert document["UpdateMethod"] == "NewVersion"
        content = document["Content"]
        assert content["schemaVersion"] == "0.3"
        # Every step runs as the role Service Catalog passes: the tier's action role.
        assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
        role = content["parameters"]["AutomationAssumeRole"]
        assert "default" not in role
        for tier in ("pii", "non-pii-2"):
            arn = f"arn:aws:iam::123456789012:role/labcatalog-{tier}-personal-hub-actions"
            assert re.fullmatch(role["allowedPattern"], arn)
        for other in ("labcatalog-pii-launch", "labcatalog-pii-personal-hub", "Admin"):
            assert not re.fullmatch(
                role["allowedPattern"], f"arn:aws:iam::123456789012:role/{other}"
            )
        assert content["parameters"]["InstanceId"]["allowedPattern"] == "^i-[0-9a-f]{8,17}$"


def test_resize_offers_the_curated_types_through_a_product_update():
    document = automation.resize_document()
    allowed = document["parameters"]["InstanceType"]["allowedValues"]
    assert allowed == [it.name for it in instance_types.CURATED]
    order = [s["name"] for s in document["mainSteps"]]
    # Stopping first is the tier's gate: the action role stops only its own tier's hubs.
    assert order == [
        "stopInstance",
        "updateProduct",
        "waitForUpdate",
        "updateSucceeded",
        "startHub",
    ]
    steps = {s["name"]: s for s in document["mainSteps"]}
    assert steps["updateProduct"]["inputs"]["Handler"] == "update_hub"
    assert steps["startHub"]["inputs"]["Handler"] == "start_hub"
    # Never on the instance itself: the stack would drift from it.
    assert "ModifyInstanceAttribute" not in json.dumps(document)
    assert steps["waitForUpdate"]["inputs"]["DesiredValues"] == ["SUCCEEDED", "FAILED"]
    assert steps["updateSucceeded"]["inputs"]["DesiredValues"] == ["SUCCEEDED"]


def test_alarm_actions_role_is_optional(added):
    assert added["Parameters"]["CreateAlarmActionsRole"]["AllowedValues"] == ["true", "false"]
    role = added["Resources"]["AlarmActionsServiceLinkedRole"]
    assert role["Condition"] == "CreateAlarmActionsRole"
    assert role["Properties"]["AWSServiceName"] == "events.amazonaws.com"


def test_platform_additions_pass_cfn_lint(portfolio, tmp_path):
    assert_cfn_lint_clean(standalone(portfolio), tmp_path, "platform-additions.json")


# Launch role statements


def launch_document(tier) -> dict:
    return as_data(
        PolicyDocument(Version="2012-10-17", Statement=launch.launch_statements(tier.name))
    )


def text_of(resource) -> str:
    return resource if isinstance(resource, str) else resource["Fn::Sub"]


# `*` only where EC2 or SSM accept nothing narrower, each listed with its reason in launch.py.
STAR_ALLOWED = {"PersonalHubDescribe", "PersonalHubListAssociations"}
# Resources whose scope EC2 limits no further than account and region (see launch.py).
UNTAGGED_ALLOWED = {
    "PersonalHubLaunchWithoutPublicAddress",
    "PersonalHubLaunchIntoChosenSubnet",
    "PersonalHubLaunchAmazonImages",
    "PersonalHubTagOnCreate",
    "PersonalHubSnapshotOnDelete",
    # Snapshots CloudFormation or AWS Backup took carry no tier tag: limited to this account's.
    "PersonalHubRestoreDataVolumesFromThisAccountsSnapshots",
    "PersonalHubSecurityGroupsInChosenVpc",
    "PersonalHubSecurityGroupRules",
    "PersonalHubIdleStopAlarm",
    # Read-only: CloudFormation reads the instance's SSM associations back (it sets none).
    "PersonalHubReadInstanceAssociations",
    "PersonalHubReadPublicAmiParameters",
    "PersonalHubRunSelfServiceActions",
    "PersonalHubWatchSelfServiceActions",
}


def test_launch_statements_scope_every_ec2_change_to_the_tier(portfolio):
    for tier in portfolio.tiers:
        document = launch_document(tier)
        statements = statements_by_sid(document)
        for sid, statement in statements.items():
            assert sid.startswith("PersonalHub"), "Sids must not clash with other products'"
            if statement["Resource"] == ["*"]:
                assert sid in STAR_ALLOWED, sid
                assert all(
                    a.startswith("ec2:Describe") or a == "ssm:ListAssociations"
                    for a in statement["Action"]
                )
                continue
            condition = json.dumps(statement.get("Condition", {}))
            if sid not in UNTAGGED_ALLOWED:
                assert f'"{tier.name}"' in condition, (sid, condition)
        actions_ = {a for s in document["Statement"] for a in s["Action"]}
        assert "ec2:AuthorizeSecurityGroupIngress" not in actions_
        assert not any(a.startswith(("iam:", "s3:", "kms:")) for a in actions_)


def test_instances_need_this_tiers_profile_imdsv2_and_no_public_address(portfolio):
    for tier in portfolio.tiers:
        statements = statements_by_sid(launch_document(tier))
        run = statements["PersonalHubLaunchInstances"]["Condition"]["StringEquals"]
        assert run[f"aws:RequestTag/{names.TIER_TAG}"] == tier.name
        assert run["ec2:MetadataHttpTokens"] == "required"
        assert run["ec2:InstanceProfile"]["Fn::Sub"].endswith(
            f":instance-profile/labcatalog-{tier.name}-personal-hub"
        )
        network = statements["PersonalHubLaunchWithoutPublicAddress"]["Condition"]
        assert network == {"Bool": {"ec2:AssociatePublicIpAddress": "false"}}
        volumes = statements["PersonalHubLaunchEncryptedVolumes"]["Condition"]
        assert volumes["Bool"] == {"ec2:Encrypted": "true"}
        images = statements["PersonalHubLaunchAmazonImages"]
        assert images["Condition"] == {"StringEquals": {"ec2:Owner": "amazon"}}


def test_launch_role_reads_the_public_ami_parameters_the_template_uses(portfolio):
    statement = statements_by_sid(launch_document(portfolio.tiers[0]))[
        "PersonalHubReadPublicAmiParameters"
    ]
    patterns = [text_of(r).split(":parameter", 1)[1] for r in statement["Resource"]]
    for parameter in instance_types.AMI_PARAMETERS.values():
        assert any(re.fullmatch(p.replace("*", ".*"), parameter) for p in patterns), parameter
    # Public parameters belong to no account.
    assert all("::parameter/aws/service/" in text_of(r) for r in statement["Resource"])


def test_alarm_statement_matches_the_templates_alarm_name(example):
    alarm = body(example)["Resources"]["IdleStopAlarm"]["Properties"]["AlarmName"]
    assert alarm == {"Fn::Sub": "${AWS::StackName}" + launch.TEMPLATE_ALARM_SUFFIX}
    statement = statements_by_sid(launch_document(example.tiers[0]))["PersonalHubIdleStopAlarm"]
    (resource,) = statement["Resource"]
    assert text_of(resource).endswith(":alarm:SC-*-idle-stop")


def test_launch_statements_fit_their_managed_policies(portfolio):
    for tier in portfolio.tiers:
        split = launch.launch_policies(tier.name)
        # Every statement in exactly one of them.
        assert sorted(s.Sid for p in split.values() for s in p) == sorted(
            s.Sid for s in launch.launch_statements(tier.name)
        )
        for statements in split.values():
            document = as_data(PolicyDocument(Version="2012-10-17", Statement=statements))
            assert len(json.dumps(document, separators=(",", ":"))) < MANAGED_POLICY_LIMIT


def test_self_service_actions_may_run_only_labcatalogs_documents(example):
    statement = statements_by_sid(launch_document(example.tiers[0]))[
        "PersonalHubRunSelfServiceActions"
    ]
    (resource,) = statement["Resource"]
    assert text_of(resource).endswith(":automation-definition/labcatalog-PersonalHub-*:*")


# Self-service actions as the publisher registers them


def test_service_actions_run_the_platforms_documents():
    assert [a.document_name for a in actions.SERVICE_ACTIONS] == [
        automation.document_name(action) for action in automation.ACTIONS
    ]
    by_name = {a.name: a for a in actions.SERVICE_ACTIONS}
    resize = by_name["labcatalog-{tier}-personal-hub-resize"].for_tier("pii", "aws", "1" * 12)
    assert resize.name == "labcatalog-pii-personal-hub-resize"
    assert resize.definition["AssumeRole"] == (
        "arn:aws:iam::111111111111:role/labcatalog-pii-personal-hub-actions"
    )
    assert json.loads(resize.definition["Parameters"]) == [
        {"Name": "InstanceId", "Type": "TARGET"},
        {"Name": "InstanceType", "Type": "TEXT_VALUE"},
    ]
    for action in actions.SERVICE_ACTIONS:
        action = action.for_tier("a-twenty-char-tier-x", "aws", "1" * 12)
        assert re.fullmatch(r"[a-zA-Z0-9_\-.]{1,256}", action.name)
        # Every document parameter is filled by Service Catalog: the role from AssumeRole.
        document = automation.DOCUMENTS[action.name.rsplit("-", 1)[1]]()
        passed = [n for n, _ in action.parameters] + ["AutomationAssumeRole"]
        assert sorted(passed) == sorted(document["parameters"])
        assert re.fullmatch(
            document["parameters"]["AutomationAssumeRole"]["allowedPattern"],
            action.definition["AssumeRole"],
        )


def test_portfolio_chooses_which_actions_are_offered(portfolio):
    configured = actions.configured(portfolio.products.personal_hub)
    assert PRODUCT.service_actions(portfolio.products.personal_hub) == configured
    wanted = portfolio.products.personal_hub.self_service_actions
    assert [a.name.rsplit("-", 1)[1] for a in configured] == [
        a for a in automation.ACTIONS if a in wanted
    ]
