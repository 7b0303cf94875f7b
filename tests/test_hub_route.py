"""The hub route function (products/shared_hub/route_function.py) against a moto server.

Each test runs the handler in this process, twice: as the module and as the inline code the
template embeds (route_code.inline_source). Its boto3 client reaches moto through
AWS_ENDPOINT_URL; its answer to CloudFormation goes to a local HTTP server standing in for the
pre-signed S3 URL. moto's elbv2 has what the function uses (rules with tags, PriorityInUse,
RuleNotFound, paging of DescribeRules, ModifyRule); what it does not prove: IAM (who may invoke
the function, what its role may do) and real ALB host-header matching.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import socket
import types
from collections.abc import Callable, Iterator

import pytest

from generator.cfn import names
from products.shared_hub import route_code
from tests.support.custom_resource import Responses
from tests.support.moto_server import MotoServer

TIER = "pii"
OTHER_TIER = "np"
SUFFIXES = {TIER: ".pii.jupyter.example.com", OTHER_TIER: ".np.jupyter.example.com"}
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/labcatalog-pii-alpha/1"
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:labcatalog-pii-hub-route"


@pytest.fixture(scope="module")
def responses() -> Iterator[Responses]:
    server = Responses()
    yield server
    server.stop()


class Account:
    """The account's load balancer in moto: the shared HTTPS listener and tiers' target groups."""

    def __init__(self, aws: MotoServer) -> None:
        self.elb = aws.client("elbv2")
        ec2 = aws.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.vpc = vpc
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)
            for i, zone in enumerate(("us-east-1a", "us-east-1b"))
        ]
        load_balancer = self.elb.create_load_balancer(
            Name="labcatalog-hubs",
            Subnets=[subnet["Subnet"]["SubnetId"] for subnet in subnets],
            Type="application",
        )["LoadBalancers"][0]["LoadBalancerArn"]
        certificate = aws.client("acm").request_certificate(DomainName="*.jupyter.example.com")
        not_found = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
        self.listener = self.elb.create_listener(
            LoadBalancerArn=load_balancer,
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate["CertificateArn"]}],
            DefaultActions=not_found,
        )["Listeners"][0]["ListenerArn"]
        # The same load balancer's plain-HTTP listener: none of the function's business.
        self.http_listener = self.elb.create_listener(
            LoadBalancerArn=load_balancer, Protocol="HTTP", Port=80, DefaultActions=not_found
        )["Listeners"][0]["ListenerArn"]
        self._names = itertools.count()

    def target_group(self, tier: str | None) -> str:
        """A new target group, tagged with `tier` (untagged for None)."""
        tags = [{"Key": names.TIER_TAG, "Value": tier}] if tier else []
        return self.elb.create_target_group(
            Name=f"hub-{next(self._names)}",
            Protocol="HTTP",
            Port=8000,
            VpcId=self.vpc,
            TargetType="ip",
            **({"Tags": tags} if tags else {}),
        )["TargetGroups"][0]["TargetGroupArn"]

    def rules(self, listener: str | None = None) -> dict[str, dict]:
        """The listener's rules other than the default one, by ARN."""
        found = self.elb.describe_rules(ListenerArn=listener or self.listener)["Rules"]
        return {rule["RuleArn"]: rule for rule in found if not rule["IsDefault"]}

    def add_rule(self, host: str, priority: int, tags: dict[str, str] | None = None) -> str:
        """A rule made outside the function (by another tier's function, or by hand)."""
        extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
        return self.elb.create_rule(
            ListenerArn=self.listener,
            Priority=priority,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
            **extra,
        )["Rules"][0]["RuleArn"]

    def tags(self, arn: str) -> dict[str, str]:
        found = self.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
        return {tag["Key"]: tag["Value"] for tag in found}


@pytest.fixture
def account(aws: MotoServer) -> Account:
    return Account(aws)


def load_module(variant: str) -> types.ModuleType:
    """A fresh copy of the function as Lambda would load it, from the environment as it is now."""
    if variant == "source":
        spec = importlib.util.spec_from_file_location("hub_route", route_code.ROUTE_FUNCTION)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType("hub_route_inline")
    exec(compile(route_code.inline_source(), "<inline hub route>", "exec"), module.__dict__)
    return module


Invoke = Callable[..., dict]


@pytest.fixture(params=["source", "inline"])
def load(request, aws, account, responses, monkeypatch, capsys) -> Callable[..., Invoke]:
    """`load(tier)`: a function that invokes tier's route function with one request and returns
    the answer CloudFormation received (the module is on the invoker as `.module`)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("LISTENER_ARN", account.listener)
    requests = itertools.count()

    def load_tier(tier: str = TIER) -> Invoke:
        monkeypatch.setenv("TIER", tier)
        monkeypatch.setenv("HOST_NAME_SUFFIX", SUFFIXES[tier])
        module = load_module(request.param)

        def invoke(kind: str, properties: dict, physical_id: str | None = None, old=None) -> dict:
            number = next(requests)
            event = {
                "RequestType": kind,
                "RequestId": f"request-{number}",
                "ResponseURL": f"{responses.url}/response/{number}?signature=secret",
                "ResourceType": "Custom::HubRoute",
                "LogicalResourceId": "HubRoute",
                "StackId": STACK_ID,
                "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **properties},
            }
            if physical_id is not None:
                event["PhysicalResourceId"] = physical_id
            if old is not None:
                event["OldResourceProperties"] = {"ServiceToken": SERVICE_TOKEN, **old}
            before = len(responses.received)
            assert module.handler(event, None) is None
            log = capsys.readouterr().out
            assert kind in log, "the log says what was asked"
            assert "signature" not in log, "the pre-signed URL is a secret: never logged"
            assert len(responses.received) == before + 1, "exactly one answer per request"
            answer = responses.received[-1]
            assert answer["path"] == f"/response/{number}?signature=secret"
            assert answer["content_type"] == "", "the pre-signed URL is signed for no type"
            body = answer["body"]
            assert len(json.dumps(body)) <= 4096, "CloudFormation's limit for an answer"
            assert body["RequestId"] == f"request-{number}"
            assert body["StackId"] == STACK_ID
            assert body["LogicalResourceId"] == "HubRoute"
            assert body["PhysicalResourceId"]
            if body["Status"] == "FAILED":
                assert body["Reason"]
            return body

        invoke.module = module
        return invoke

    return load_tier


def hub(name: str, target: str) -> dict:
    return {"HubName": name, "TargetGroupArn": target}


def hosts(rule: dict) -> list[str]:
    return [v for c in rule["Conditions"] for v in c["HostHeaderConfig"]["Values"]]


def forwards_to(rule: dict) -> str:
    (action,) = rule["Actions"]
    assert action["Type"] == "forward"
    return action["TargetGroupArn"]


def test_create_routes_the_hub_name_and_the_tier_suffix_to_the_target_group(load, account):
    target = account.target_group(TIER)
    answer = load()("Create", hub("alpha", target))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"] == {"HostName": "alpha.pii.jupyter.example.com"}
    rules = account.rules()
    assert list(rules) == [answer["PhysicalResourceId"]]
    rule = rules[answer["PhysicalResourceId"]]
    assert rule["Conditions"] == [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["alpha.pii.jupyter.example.com"]}}
    ]
    assert forwards_to(rule) == target
    assert rule["Priority"] == "1"
    # Not the tier tag: launch roles may change what carries that one.
    assert account.tags(rule["RuleArn"]) == {
        names.ROUTE_TIER_TAG: TIER,
        names.STACK_TAG: "shared-hub",
    }


def test_each_hub_gets_the_lowest_free_priority(load, account):
    invoke = load()
    target = account.target_group(TIER)
    first = invoke("Create", hub("alpha", target))["PhysicalResourceId"]
    second = invoke("Create", hub("beta", target))["PhysicalResourceId"]
    rules = account.rules()
    assert (rules[first]["Priority"], rules[second]["Priority"]) == ("1", "2")
    assert invoke("Delete", hub("alpha", target), first)["Status"] == "SUCCESS"
    third = invoke("Create", hub("gamma", target))["PhysicalResourceId"]
    assert account.rules()[third]["Priority"] == "1"


def test_a_host_name_already_routed_is_refused(load, account):
    invoke = load()
    target = account.target_group(TIER)
    first = invoke("Create", hub("alpha", target))
    again = invoke("Create", hub("alpha", account.target_group(TIER)))
    assert again["Status"] == "FAILED"
    assert "alpha.pii.jupyter.example.com" in again["Reason"]
    # A failed Create names no rule: the rollback's Delete must not remove the first hub's.
    assert again["PhysicalResourceId"] not in account.rules()
    assert list(account.rules()) == [first["PhysicalResourceId"]]
    assert invoke("Delete", hub("alpha", target), again["PhysicalResourceId"])["Status"] == (
        "SUCCESS"
    )
    assert list(account.rules()) == [first["PhysicalResourceId"]]


def test_a_host_name_is_compared_without_case(load, account):
    account.add_rule("Alpha.PII.jupyter.example.com", 7, {names.ROUTE_TIER_TAG: TIER})
    answer = load()("Create", hub("alpha", account.target_group(TIER)))
    assert answer["Status"] == "FAILED"


@pytest.mark.parametrize(
    "name,accepted",
    [
        ("a", True),
        ("alpha-2", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("", False),
        ("Alpha", False),
        ("-alpha", False),
        ("alpha-", False),
        ("alpha.np", False),
        ("alpha_b", False),
        ("alpha\n", False),
    ],
)
def test_hub_names(load, account, name, accepted):
    answer = load()("Create", hub(name, account.target_group(TIER)))
    assert (answer["Status"] == "SUCCESS") is accepted, answer
    if accepted:
        assert [hosts(rule) for rule in account.rules().values()] == [[name + SUFFIXES[TIER]]]
    else:
        assert "HubName" in answer["Reason"]
        assert account.rules() == {}


def test_a_missing_hub_name_is_refused(load, account):
    answer = load()("Create", {"TargetGroupArn": account.target_group(TIER)})
    assert answer["Status"] == "FAILED"
    assert "HubName" in answer["Reason"]


@pytest.mark.parametrize("owner", [OTHER_TIER, None])
def test_a_tier_routes_only_to_its_own_target_groups(load, account, owner):
    answer = load()("Create", hub("alpha", account.target_group(owner)))
    assert answer["Status"] == "FAILED"
    assert "target group" in answer["Reason"]
    assert account.rules() == {}


def test_tiers_get_their_own_suffix_for_the_same_hub_name(load, account):
    pii = load(TIER)("Create", hub("alpha", account.target_group(TIER)))
    np = load(OTHER_TIER)("Create", hub("alpha", account.target_group(OTHER_TIER)))
    assert pii["Data"]["HostName"] == "alpha.pii.jupyter.example.com"
    assert np["Data"]["HostName"] == "alpha.np.jupyter.example.com"
    rules = account.rules()
    assert account.tags(np["PhysicalResourceId"])[names.ROUTE_TIER_TAG] == OTHER_TIER
    assert sorted(hosts(rule)[0] for rule in rules.values()) == [
        "alpha.np.jupyter.example.com",
        "alpha.pii.jupyter.example.com",
    ]


def before_create_rule(invoke: Invoke, hook: Callable[[dict], None]) -> None:
    """Run `hook` with CreateRule's parameters just before the function's client sends it."""

    def handler(params: dict, **kwargs: object) -> None:
        hook(params)

    invoke.module.elb.meta.events.register(
        "before-parameter-build.elastic-load-balancing-v2.CreateRule", handler
    )


def test_a_priority_taken_meanwhile_is_tried_again_with_the_next_free_one(load, account):
    invoke = load()
    occupied = []

    def another_launch(params: dict) -> None:
        # Another hub's rule takes the chosen priority between the listing and the creation.
        if not occupied:
            occupied.append(account.add_rule("other.pii.jupyter.example.com", params["Priority"]))

    before_create_rule(invoke, another_launch)
    answer = invoke("Create", hub("alpha", account.target_group(TIER)))
    assert answer["Status"] == "SUCCESS", answer
    rules = account.rules()
    assert rules[occupied[0]]["Priority"] == "1"
    assert rules[answer["PhysicalResourceId"]]["Priority"] == "2"
    assert hosts(rules[answer["PhysicalResourceId"]]) == ["alpha.pii.jupyter.example.com"]


def test_priorities_taken_every_time_fail_after_a_few_attempts(load, account):
    invoke = load()
    taken = []

    def always(params: dict) -> None:
        taken.append(account.add_rule(f"other-{len(taken)}.example.com", params["Priority"]))

    before_create_rule(invoke, always)
    answer = invoke("Create", hub("alpha", account.target_group(TIER)))
    assert answer["Status"] == "FAILED"
    assert "priority" in answer["Reason"]
    assert len(taken) == 5
    assert set(account.rules()) == set(taken)


def test_two_hubs_of_one_name_at_once_leave_at_most_one_route(load, account):
    invoke = load()
    other = []

    def same_name_launch(params: dict) -> None:
        # The other launch passed its check too and creates its rule first.
        if not other:
            other.append(account.add_rule("alpha.pii.jupyter.example.com", 9))

    before_create_rule(invoke, same_name_launch)
    answer = invoke("Create", hub("alpha", account.target_group(TIER)))
    assert answer["Status"] == "FAILED"
    assert "alpha.pii.jupyter.example.com" in answer["Reason"]
    assert list(account.rules()) == other, "the function backed out of its own rule"


def test_rules_are_read_page_by_page(load, account):
    invoke = load()
    invoke.module.PAGE_SIZE = 2
    for priority in range(1, 6):
        account.add_rule(f"other-{priority}.example.com", priority)
    account.add_rule("alpha.pii.jupyter.example.com", 6)  # on the last page
    pages = []
    invoke.module.elb.meta.events.register(
        "before-call.elastic-load-balancing-v2.DescribeRules", lambda **kwargs: pages.append(1)
    )
    refused = invoke("Create", hub("alpha", account.target_group(TIER)))
    assert refused["Status"] == "FAILED"
    assert len(pages) == 4, "6 rules and the default one, 2 a page"
    created = invoke("Create", hub("beta", account.target_group(TIER)))
    assert account.rules()[created["PhysicalResourceId"]]["Priority"] == "7"


def test_update_with_the_same_properties_keeps_the_rule(load, account):
    invoke = load()
    props = hub("alpha", account.target_group(TIER))
    created = invoke("Create", props)["PhysicalResourceId"]
    before = account.rules()
    calls = []
    invoke.module.elb.meta.events.register("before-call", lambda **kwargs: calls.append(1))
    answer = invoke("Update", props, created, old=props)
    assert calls == [], "nothing to do: the listener is left alone"
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == created
    assert answer["Data"] == {"HostName": "alpha.pii.jupyter.example.com"}
    assert account.rules() == before


def test_update_with_a_new_hub_name_makes_a_new_rule_and_delete_removes_the_old(load, account):
    invoke = load()
    target = account.target_group(TIER)
    old_id = invoke("Create", hub("alpha", target))["PhysicalResourceId"]
    answer = invoke("Update", hub("beta", target), old_id, old=hub("alpha", target))
    assert answer["Status"] == "SUCCESS"
    new_id = answer["PhysicalResourceId"]
    assert new_id != old_id
    assert answer["Data"] == {"HostName": "beta.pii.jupyter.example.com"}
    assert hosts(account.rules()[new_id]) == ["beta.pii.jupyter.example.com"]
    # CloudFormation then deletes the old one.
    assert invoke("Delete", hub("alpha", target), old_id)["Status"] == "SUCCESS"
    assert list(account.rules()) == [new_id]


def test_update_with_a_new_target_group_changes_the_rule_in_place(load, account):
    invoke = load()
    old_target, new_target = account.target_group(TIER), account.target_group(TIER)
    rule_id = invoke("Create", hub("alpha", old_target))["PhysicalResourceId"]
    answer = invoke("Update", hub("alpha", new_target), rule_id, old=hub("alpha", old_target))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == rule_id
    (rule,) = account.rules().values()
    assert forwards_to(rule) == new_target
    assert hosts(rule) == ["alpha.pii.jupyter.example.com"]
    assert rule["Priority"] == "1"
    # The rollback of a failed stack update changes it back the same way.
    back = invoke("Update", hub("alpha", old_target), rule_id, old=hub("alpha", new_target))
    assert back["PhysicalResourceId"] == rule_id
    assert forwards_to(account.rules()[rule_id]) == old_target


def test_update_to_another_tiers_target_group_is_refused(load, account):
    invoke = load()
    target = account.target_group(TIER)
    rule_id = invoke("Create", hub("alpha", target))["PhysicalResourceId"]
    other = account.target_group(OTHER_TIER)
    answer = invoke("Update", hub("alpha", other), rule_id, old=hub("alpha", target))
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == rule_id, "a failed update keeps the resource's id"
    assert forwards_to(account.rules()[rule_id]) == target


def test_update_of_a_rule_gone_meanwhile_makes_a_new_one(load, account):
    invoke = load()
    old_target, new_target = account.target_group(TIER), account.target_group(TIER)
    rule_id = invoke("Create", hub("alpha", old_target))["PhysicalResourceId"]
    account.elb.delete_rule(RuleArn=rule_id)
    answer = invoke("Update", hub("alpha", new_target), rule_id, old=hub("alpha", old_target))
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] != rule_id
    assert forwards_to(account.rules()[answer["PhysicalResourceId"]]) == new_target


def test_update_never_changes_another_tiers_rule(load, account):
    # A forged id: another tier's rule holding this tier's host name cannot be taken over.
    other = account.add_rule("alpha.pii.jupyter.example.com", 3, {names.ROUTE_TIER_TAG: "np"})
    old_target, new_target = account.target_group(TIER), account.target_group(TIER)
    answer = load()("Update", hub("alpha", new_target), other, old=hub("alpha", old_target))
    assert answer["Status"] == "FAILED"
    assert account.rules()[other]["Actions"][0]["Type"] == "fixed-response"


def test_delete_removes_the_tiers_own_rule(load, account):
    invoke = load()
    target = account.target_group(TIER)
    rule_id = invoke("Create", hub("alpha", target))["PhysicalResourceId"]
    answer = invoke("Delete", hub("alpha", target), rule_id)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == rule_id
    assert account.rules() == {}
    # Deleting it again (a retried request) finds nothing to do.
    assert invoke("Delete", hub("alpha", target), rule_id)["Status"] == "SUCCESS"


@pytest.mark.parametrize("tags", [{names.ROUTE_TIER_TAG: OTHER_TIER}, {names.TIER_TAG: TIER}, {}])
def test_delete_never_removes_a_rule_that_is_not_the_tiers(load, account, tags):
    rule_id = account.add_rule("beta.np.jupyter.example.com", 4, tags)
    answer = load()("Delete", hub("beta", account.target_group(TIER)), rule_id)
    assert answer["Status"] == "FAILED"
    assert "not tier pii's" in answer["Reason"]
    assert list(account.rules()) == [rule_id]


@pytest.mark.parametrize("placeholder", ["none", "arn:aws:elasticloadbalancing:elsewhere"])
def test_delete_of_an_id_that_is_no_rule_of_the_listener_does_nothing(load, account, placeholder):
    kept = account.add_rule("beta.pii.jupyter.example.com", 4, {names.ROUTE_TIER_TAG: TIER})
    answer = load()("Delete", hub("beta", account.target_group(TIER)), placeholder)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == placeholder
    assert list(account.rules()) == [kept]


def test_delete_leaves_the_rules_of_other_listeners_alone(load, account):
    elsewhere = account.elb.create_rule(
        ListenerArn=account.http_listener,
        Priority=1,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["x.example.com"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
        Tags=[{"Key": names.ROUTE_TIER_TAG, "Value": TIER}],
    )["Rules"][0]["RuleArn"]
    answer = load()("Delete", hub("x", account.target_group(TIER)), elsewhere)
    assert answer["Status"] == "SUCCESS"
    assert list(account.rules(account.http_listener)) == [elsewhere]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("kind", ["Create", "Delete"])
def test_an_error_inside_still_answers_failed(load, account, monkeypatch, kind):
    target = account.target_group(TIER)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    rule_id = account.listener.replace(":listener/", ":listener-rule/") + "/0123456789abcdef"
    answer = load()(kind, hub("alpha", target), rule_id if kind == "Delete" else None)
    assert answer["Status"] == "FAILED"
    assert "Could not connect" in answer["Reason"]
    assert len(answer["Reason"]) <= 500
    assert account.rules() == {}


def test_the_tag_key_is_the_one_in_names(load):
    assert load().module.ROUTE_TIER_TAG == names.ROUTE_TIER_TAG
    assert names.HUB_ROUTE_FUNCTION.format(tier=TIER) == "labcatalog-pii-hub-route"


def test_the_inline_code_fits_cloudformation_and_is_the_same_program():
    inline = route_code.inline_source()
    assert len(inline) <= route_code.INLINE_CODE_LIMIT
    assert inline.startswith(route_code.HEADER)
    source = route_code.ROUTE_FUNCTION.read_text()
    expected = route_code.without_docstrings(ast.parse(source))
    assert ast.dump(ast.parse(inline)) == ast.dump(expected)
    assert '"""' not in inline and "\n\n" not in inline
    assert not [line for line in inline.splitlines()[1:] if line.lstrip().startswith("#")]


def test_the_function_imports_only_the_standard_library_and_boto3():
    tree = ast.parse(route_code.ROUTE_FUNCTION.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported == {"json", "os", "re", "urllib", "boto3"}


@pytest.mark.parametrize(
    "source,expected",
    [
        ('"""Module."""\nx = 1\n', "x = 1\n"),
        ('class A:\n    """Only a docstring."""\n', "class A:\n pass\n"),
        ("def f():\n    # why\n    return 1  # see\n\n\ny = 2\n", "def f():\n return 1\ny = 2\n"),
        ('s = """a\n\n    b"""\n', "s = 'a\\n\\n    b'\n"),
        ("if x:\n    if y:\n        z = (1,\n             2)\n", "if x:\n if y:\n  z = (1, 2)\n"),
    ],
)
def test_compact_python(source, expected):
    assert route_code.compact_python(source) == expected
