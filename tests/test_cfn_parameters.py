"""generator.cfn.parameters: one declaration gives the Parameters and the console's Interface."""

from __future__ import annotations

import json

import pytest
from troposphere import Template

from generator.cfn.parameters import Console, Group, Param

CONSOLE = Console(
    Group(
        "Where",
        Param("VpcId", "VPC", "The VPC.", type="AWS::EC2::VPC::Id"),
        Param(
            "Size",
            "Size (GiB)",
            "How big.",
            type="Number",
            default=100,
            min_value=10,
            max_value=4096,
            constraint="from 10 to 4096",
        ),
    ),
    Group(
        "Who",
        Param(
            "Mode",
            "Identity provider",
            "How users log in.",
            default="oidc",
            allowed_values=("oidc", "ldap"),
            constraint="oidc or ldap",
        ),
        Param("Owner", "Your user name", "You.", allowed_pattern="^[a-z]+$"),
    ),
)


def body(console: Console, metadata: dict | None = None) -> dict:
    t = Template()
    if metadata:
        t.set_metadata(metadata)
    console.add_to(t)
    return json.loads(t.to_json())


def test_each_parameter_has_only_the_settings_it_declares():
    parameters = body(CONSOLE)["Parameters"]
    assert parameters["VpcId"] == {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC."}
    assert parameters["Size"] == {
        "Type": "Number",
        "Description": "How big.",
        "Default": 100,
        "MinValue": 10,
        "MaxValue": 4096,
        "ConstraintDescription": "from 10 to 4096",
    }
    assert parameters["Mode"]["AllowedValues"] == ["oidc", "ldap"]
    assert parameters["Owner"] == {
        "Type": "String",
        "Description": "You.",
        "AllowedPattern": "^[a-z]+$",
    }


def test_groups_and_labels_follow_the_declared_order():
    interface = body(CONSOLE)["Metadata"]["AWS::CloudFormation::Interface"]
    assert interface["ParameterGroups"] == [
        {"Label": {"default": "Where"}, "Parameters": ["VpcId", "Size"]},
        {"Label": {"default": "Who"}, "Parameters": ["Mode", "Owner"]},
    ]
    assert list(CONSOLE.interface()["ParameterLabels"]) == ["VpcId", "Size", "Mode", "Owner"]
    assert interface["ParameterLabels"]["Size"] == {"default": "Size (GiB)"}
    assert CONSOLE.label("Mode") == "Identity provider"


def test_other_metadata_is_kept():
    metadata = body(CONSOLE, {"Version": "1.2.3"})["Metadata"]
    assert metadata["Version"] == "1.2.3"
    assert "AWS::CloudFormation::Interface" in metadata


def test_a_name_declared_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice: Size"):
        Console(
            Group("A", Param("Size", "Size", "one")),
            Group("B", Param("Size", "Size again", "two")),
        )


def test_an_unknown_name_has_no_label():
    with pytest.raises(KeyError):
        CONSOLE.label("Nope")
