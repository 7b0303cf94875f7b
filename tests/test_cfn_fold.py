"""Folding the conditions that binding made constant (generator/cfn/fold.py)."""

from __future__ import annotations

import pytest

from generator.cfn.bind import BindError, bind
from generator.cfn.fold import FoldError, fold_conditions

NO_VALUE = {"Ref": "AWS::NoValue"}


def template() -> dict:
    return {
        "Parameters": {
            "Mode": {"Type": "String", "AllowedValues": ["new", "existing"], "Default": "new"},
            "Name": {"Type": "String"},
        },
        "Conditions": {
            "New": {"Fn::Equals": [{"Ref": "Mode"}, "new"]},
            "Existing": {"Fn::Not": [{"Condition": "New"}]},
            "Named": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]},
            "NewAndNamed": {"Fn::And": [{"Condition": "New"}, {"Condition": "Named"}]},
        },
        "Resources": {
            "Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Condition": "New"},
            "Rule": {
                "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                "DependsOn": ["Balancer"],
                "Properties": {
                    "ListenerArn": {"Fn::If": ["New", {"Ref": "Balancer"}, "arn:listener"]},
                    "Tags": [
                        {"Fn::If": ["Existing", {"Key": "shared", "Value": "yes"}, NO_VALUE]},
                        {"Key": "name", "Value": {"Ref": "Name"}},
                    ],
                    "Extra": {"Fn::If": ["Existing", "x", NO_VALUE]},
                    "Named": {"Fn::If": ["Named", {"Ref": "Name"}, NO_VALUE]},
                },
            },
            "Both": {"Type": "AWS::SNS::Topic", "Condition": "NewAndNamed"},
        },
        "Outputs": {
            "BalancerName": {"Condition": "New", "Value": {"Fn::GetAtt": ["Balancer", "DNSName"]}},
        },
    }


def test_an_existing_mode_leaves_out_what_only_a_new_one_makes():
    folded = fold_conditions(bind(template(), "Mode", "existing"))
    assert "Balancer" not in folded["Resources"]
    assert "BalancerName" not in folded["Outputs"]
    rule = folded["Resources"]["Rule"]
    assert "DependsOn" not in rule
    assert rule["Properties"]["ListenerArn"] == "arn:listener"
    assert rule["Properties"]["Tags"][0] == {"Key": "shared", "Value": "yes"}
    assert rule["Properties"]["Extra"] == "x"
    # A condition on a parameter still given at launch stays, and so does its Fn::If.
    assert rule["Properties"]["Named"] == {"Fn::If": ["Named", {"Ref": "Name"}, NO_VALUE]}
    # Existing and New were decided; NewAndNamed (New and a launch value) is known false too.
    assert set(folded["Conditions"]) == {"Named"}
    assert "Both" not in folded["Resources"]


def test_a_new_mode_keeps_its_resources_without_their_condition():
    folded = fold_conditions(bind(template(), "Mode", "new"))
    assert "Condition" not in folded["Resources"]["Balancer"]
    assert "Condition" not in folded["Outputs"]["BalancerName"]
    rule = folded["Resources"]["Rule"]
    assert rule["DependsOn"] == ["Balancer"]
    assert rule["Properties"]["ListenerArn"] == {"Ref": "Balancer"}
    assert rule["Properties"]["Tags"] == [{"Key": "name", "Value": {"Ref": "Name"}}]
    assert "Extra" not in rule["Properties"]


def test_an_unknown_condition_loses_its_known_parts():
    folded = fold_conditions(bind(template(), "Mode", "new"))
    # NewAndNamed also reads Name, given at launch: it stays, as Named's definition.
    assert folded["Conditions"] == {
        "Named": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]},
        "NewAndNamed": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]},
    }
    assert folded["Resources"]["Both"]["Condition"] == "NewAndNamed"


def test_nothing_constant_leaves_the_template_as_it_is():
    found = template()
    assert fold_conditions(found) is found


def test_a_reference_to_a_left_out_resource_fails_loudly():
    broken = template()
    broken["Resources"]["Rule"]["Properties"]["Plain"] = {"Ref": "Balancer"}
    with pytest.raises(FoldError, match="Balancer"):
        fold_conditions(bind(broken, "Mode", "existing"))
    assert issubclass(FoldError, BindError)
