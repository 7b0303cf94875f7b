"""Binding a template parameter to a value (generator/cfn/bind.py), as CloudFormation would.

Proves, for templates hypothesis generates from Ref and both forms of Fn::Sub (literals `${!x}`,
variable maps that shadow the parameter, the console's groups and labels): a small evaluator
gives the bound template the values the original has when launched with that value; the bound
template declares, labels and refers to the parameter nowhere; cfn-lint finds nothing in it.
And that what binding cannot resolve fails loudly. Does not prove: functions the evaluator does
not know (it knows Ref and Fn::Sub, which is what the products use the tier through).
"""

from __future__ import annotations

import json
import re

import pytest
from cfnlint.api import lint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cfn.bind import INTERFACE, BindError, bind

TIERS = ["pii", "nonpii", "lab-2"]
OTHER = "Size"
PSEUDO = "AWS::StackName"
_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


def evaluate(node, values: dict[str, str]):
    """The node's value at launch: parameters from `values`, anything else as `<name>`."""
    if isinstance(node, list):
        return [evaluate(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return values.get(node["Ref"], f"<{node['Ref']}>")
    if set(node) == {"Fn::Sub"}:
        argument = node["Fn::Sub"]
        text, local = (argument, {}) if isinstance(argument, str) else argument
        scope = {**values, **{k: evaluate(v, values) for k, v in local.items()}}

        def fill(match: re.Match[str]) -> str:
            if match.group(1):
                return "${" + match.group(2) + "}"
            return scope.get(match.group(2), f"<{match.group(2)}>")

        return _VARIABLE.sub(fill, text)
    return {key: evaluate(item, values) for key, item in node.items()}


literal = st.text(alphabet="abcxyz-/", min_size=1, max_size=6)
variable = st.sampled_from(["Tier", OTHER, PSEUDO])


@st.composite
def sub_text(draw, names: list[str], literals: list[str]) -> str:
    """Text of an Fn::Sub: literals, variables (each of `names` at least once), `${!x}`s."""
    parts = [draw(literal)] + [f"${{{name}}}" for name in names]
    parts += draw(st.lists(st.one_of(literal, variable.map(lambda v: f"${{{v}}}")), max_size=3))
    parts += draw(st.lists(st.sampled_from(literals).map(lambda v: f"${{!{v}}}"), max_size=1))
    return "".join(draw(st.permutations(parts)))


ALL_LITERALS = ["Tier", OTHER, PSEUDO]


@st.composite
def expression(draw, literals: list[str] = ALL_LITERALS):
    """A string value: a literal, a Ref, or an Fn::Sub in either form."""
    kind = draw(st.sampled_from(["literal", "ref", "sub", "sub-map"]))
    if kind == "literal":
        return draw(literal)
    if kind == "ref":
        return {"Ref": draw(st.sampled_from(["Tier", OTHER]))}
    if kind == "sub":
        return {"Fn::Sub": draw(sub_text([draw(variable)], literals))}
    local = draw(st.sampled_from(["Tier", "Local"]))  # "Tier" here shadows the parameter
    value = draw(st.one_of(literal, st.just({"Ref": "Tier"}), st.just({"Ref": OTHER})))
    return {"Fn::Sub": [draw(sub_text([local], literals)), {local: value}]}


@st.composite
def templates(draw, literals: list[str] = ALL_LITERALS) -> dict:
    values = draw(st.lists(expression(literals), min_size=1, max_size=5))
    resources = {
        f"Value{i}": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": value},
        }
        for i, value in enumerate(values)
    }
    outputs = {"Size": {"Value": {"Ref": OTHER}}}
    if draw(st.booleans()):
        outputs["Tier"] = {"Value": draw(expression(literals))}
    groups = [{"Label": {"default": "Where"}, "Parameters": ["Tier"]}]
    if draw(st.booleans()):
        both = draw(st.permutations(["Tier", OTHER]))
        groups = [{"Label": {"default": "All"}, "Parameters": both}]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {
            INTERFACE: {
                "ParameterGroups": groups,
                "ParameterLabels": {"Tier": {"default": "Data tier"}, OTHER: {"default": "Size"}},
            }
        },
        "Parameters": {
            "Tier": {"Type": "String", "AllowedValues": TIERS},
            OTHER: {"Type": "String", "Default": "small"},
        },
        "Resources": resources,
        "Outputs": outputs,
    }


def refers_to(node, name: str) -> bool:
    """Independent of bind.py: a Ref to `name`, or `${name}` in an Fn::Sub not shadowed."""
    if isinstance(node, list):
        return any(refers_to(item, name) for item in node)
    if not isinstance(node, dict):
        return False
    if node == {"Ref": name}:
        return True
    if set(node) == {"Fn::Sub"}:
        argument = node["Fn::Sub"]
        text, local = (argument, {}) if isinstance(argument, str) else argument
        own = name not in local and f"${{{name}}}" in text
        return own or refers_to(list(local.values()), name)
    return any(refers_to(item, name) for item in node.values())


@settings(max_examples=150, deadline=None)
@given(templates(), st.sampled_from(TIERS), st.sampled_from(["small", "large"]))
def test_a_bound_template_means_what_the_original_means_with_that_value(template, tier, size):
    bound = bind(template, "Tier", tier)
    for section in ("Resources", "Outputs"):
        launched = evaluate(template[section], {"Tier": tier, OTHER: size})
        assert evaluate(bound[section], {OTHER: size}) == launched
    assert "Tier" not in bound["Parameters"]
    assert not refers_to(bound, "Tier")
    interface = bound["Metadata"][INTERFACE]
    assert "Tier" not in interface["ParameterLabels"]
    assert all("Tier" not in group["Parameters"] for group in interface.get("ParameterGroups", []))
    assert all(group["Parameters"] for group in interface.get("ParameterGroups", []))
    assert template["Parameters"]["Tier"], "the input is not changed"


# A Sub left with only a literal `${!x}` becomes the plain string `${x}`, which cfn-lint
# reports (E1029) when x names a parameter or pseudo parameter (and keeping the Sub, W1020):
# literals here are of the bound parameter only, which the bound template no longer declares.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates(literals=["Tier"]), st.sampled_from(TIERS))
def test_a_bound_template_is_cfn_lint_clean(template, tier):
    bound = bind(template, "Tier", tier)
    assert [str(m) for m in lint(json.dumps(bound))] == []


def test_a_literal_and_a_shadowing_variable_map_stay_as_they_are():
    template = {
        "Parameters": {"Tier": {"Type": "String"}},
        "Resources": {
            "P": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Name": {"Fn::Sub": "/x/${Tier}/${!Tier}/${AWS::StackName}"},
                    "Value": {"Fn::Sub": ["${Tier}-${AWS::Region}", {"Tier": "own"}]},
                    "Description": {"Fn::Sub": "${Tier} and ${!Tier}"},
                },
            }
        },
    }
    properties = bind(template, "Tier", "pii")["Resources"]["P"]["Properties"]
    assert properties["Name"] == {"Fn::Sub": "/x/pii/${!Tier}/${AWS::StackName}"}
    assert properties["Value"] == {"Fn::Sub": ["${Tier}-${AWS::Region}", {"Tier": "own"}]}
    # No variable left: a plain string, with the literal as Fn::Sub would have made it.
    assert properties["Description"] == "pii and ${Tier}"


def test_a_value_with_a_dollar_brace_stays_literal_in_a_sub():
    template = {
        "Parameters": {"Tier": {"Type": "String"}},
        "Outputs": {"O": {"Value": {"Fn::Sub": "${Tier}-${AWS::Region}"}}},
    }
    bound = bind(template, "Tier", "a${b}")
    assert bound["Outputs"]["O"]["Value"] == {"Fn::Sub": "a${!b}-${AWS::Region}"}
    assert evaluate(bound["Outputs"]["O"]["Value"], {}) == "a${b}-<AWS::Region>"


@pytest.mark.parametrize(
    "case,template,message",
    [
        ("undeclared", {"Parameters": {}}, "declares no parameter 'Tier'"),
        (
            "not allowed",
            {"Parameters": {"Tier": {"Type": "String", "AllowedValues": ["nonpii"]}}},
            "not one of",
        ),
        (
            "pattern",
            {"Parameters": {"Tier": {"Type": "String", "AllowedPattern": "[0-9]+"}}},
            "does not match",
        ),
        (
            "list type",
            {"Parameters": {"Tier": {"Type": "CommaDelimitedList"}}},
            "only String and Number bind",
        ),
        (
            "rule",
            {
                "Parameters": {"Tier": {"Type": "String"}},
                "Rules": {
                    "R": {
                        "Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "Tier"}, "pii"]}}],
                    }
                },
            },
            "a rule tests parameter 'Tier'",
        ),
        (
            "rule in a sub",
            {
                "Parameters": {"Tier": {"Type": "String"}},
                "Rules": {"R": {"Assertions": [{"Assert": {"Fn::Sub": "${Tier}"}}]}},
            },
            "a rule tests parameter 'Tier'",
        ),
        (
            "value of",
            {
                "Parameters": {"Tier": {"Type": "String"}},
                "Conditions": {"C": {"Fn::Equals": [{"Fn::ValueOf": ["Tier", "Name"]}, "x"]}},
            },
            "still referred to",
        ),
    ],
)
def test_what_cannot_be_bound_fails_loudly(case, template, message):
    with pytest.raises(BindError, match=re.escape(message)):
        bind(template, "Tier", "pii")


def test_conditions_and_outputs_are_bound_too():
    template = {
        "Parameters": {"Tier": {"Type": "String"}, "Other": {"Type": "String"}},
        "Conditions": {"IsPii": {"Fn::Equals": [{"Ref": "Tier"}, {"Ref": "Other"}]}},
        "Outputs": {"T": {"Value": {"Ref": "Tier"}, "Export": {"Name": {"Fn::Sub": "x-${Tier}"}}}},
    }
    bound = bind(template, "Tier", "pii")
    assert bound["Conditions"]["IsPii"] == {"Fn::Equals": ["pii", {"Ref": "Other"}]}
    assert bound["Outputs"]["T"] == {"Value": "pii", "Export": {"Name": "x-pii"}}
    assert list(bound["Parameters"]) == ["Other"]


def test_an_emptied_interface_goes():
    template = {
        "Metadata": {
            INTERFACE: {
                "ParameterGroups": [{"Label": {"default": "T"}, "Parameters": ["Tier"]}],
                "ParameterLabels": {"Tier": {"default": "Tier"}},
            },
        },
        "Parameters": {"Tier": {"Type": "String"}},
        "Resources": {},
    }
    assert bind(template, "Tier", "pii") == {"Resources": {}}
