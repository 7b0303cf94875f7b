"""Each tier's end-user policy: reach one's own hub by port forwarding, nothing more.

The policy is read from the platform's templates as built and evaluated with a third-party IAM
evaluator that evaluates conditions and policy variables (tests/support/iam_evaluator.py). The
requests carry the context keys Session Manager and Service Catalog document for them (the
instance's tags as `ssm:resourceTag/...`, `ssm:SessionDocumentAccessCheck`, the caller's
`aws:username`, principal tags and `aws:userid`, `servicecatalog:userLevel`); that the services
send exactly these is AWS's side and not proved here.

Two kinds of user: an IAM user (its name is `aws:username`) and a federated one, a session of a
tier's role whose identity provider sets the principal tag `labcatalog:owner`.
"""

from __future__ import annotations

import functools
import json

import pytest

from generator.cfn import names
from products.personal_hub import names as hub_names
from products.platform import end_users
from tests.support.iam_evaluator import ACCOUNT, REGION, Request, decide
from tests.test_self_service_actions import platform, pseudo

MANAGED_POLICY_LIMIT = 6_144  # IAM's limit for one managed policy, without whitespace
OWNER = f"ssm:resourceTag/{names.OWNER_TAG}"


@functools.cache
def end_user_resource(tier: str) -> dict:
    (policy,) = [
        r["Properties"]
        for r in platform()["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"].get("ManagedPolicyName") == names.END_USER_POLICY.format(tier=tier)
    ]
    return policy


def policy(tier: str) -> dict:
    return pseudo(end_user_resource(tier)["PolicyDocument"])


# Who asks: an IAM user, and a federated user (a session of the tier's role, tagged by the IdP).
USERS = {
    "iam-alice": (f"arn:aws:iam::{ACCOUNT}:user/alice", {"aws:username": "alice"}),
    "federated-alice": (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientistsPII/alice@example.com",
        {f"aws:PrincipalTag/{names.OWNER_TAG}": "alice", "aws:userid": "AROAEXAMPLE:alice"},
    ),
}


def ask(user: str, action: str, resource: str, tier: str = "pii", **context) -> Request:
    principal, identity = USERS[user]
    return Request(principal, action, resource, {**identity, **context}, (policy(tier),))


def hub(owner: str, tier: str = "pii", product: str = hub_names.PRODUCT) -> dict[str, str]:
    return {
        OWNER: owner,
        f"ssm:resourceTag/{names.TIER_TAG}": tier,
        f"ssm:resourceTag/{names.PRODUCT_TAG}": product,
        "ssm:SessionDocumentAccessCheck": "true",
    }


INSTANCE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"


def document(name: str) -> str:
    # The evaluator takes document ARNs with an account (AWS's own are also written without).
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{name}"


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize(
    "case,context,expected",
    [
        ("their own hub", hub("alice"), "Allowed"),
        ("a colleague's hub", hub("bob"), "ImplicitlyDenied"),
        ("their hub of another tier", hub("alice", tier="nonpii"), "ImplicitlyDenied"),
        ("a shared hub's server", hub("alice", product="shared-hub"), "ImplicitlyDenied"),
        ("an untagged instance", {"ssm:SessionDocumentAccessCheck": "true"}, "ImplicitlyDenied"),
    ],
)
def test_a_user_starts_sessions_only_on_their_own_hub(user, case, context, expected):
    (decided,) = decide([ask(user, "ssm:StartSession", INSTANCE, **context)])
    assert decided == expected, case


@pytest.mark.parametrize(
    "case,resource,expected",
    [
        ("port forwarding", document("AWS-StartPortForwardingSession"), "Allowed"),
        # No document named: Session Manager checks its default shell document.
        ("the default shell", document("SSM-SessionManagerRunShell"), "ImplicitlyDenied"),
        ("an interactive command", document("AWS-StartInteractiveCommand"), "ImplicitlyDenied"),
        ("ssh", document("AWS-StartSSHSession"), "ImplicitlyDenied"),
        (
            "port forwarding to another host",
            document("AWS-StartPortForwardingSessionToRemoteHost"),
            "ImplicitlyDenied",
        ),
    ],
)
def test_port_forwarding_is_the_only_session_document(case, resource, expected):
    decided = decide([ask(user, "ssm:StartSession", resource) for user in sorted(USERS)])
    assert decided == [expected] * len(USERS), case


def test_a_role_session_named_like_the_owner_is_not_the_owner():
    # The session name is chosen by whoever assumes the role: without the IdP's tag, no hub.
    untagged = Request(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientistsPII/alice",
        "ssm:StartSession",
        INSTANCE,
        {"aws:userid": "AROAEXAMPLE:alice", **hub("alice")},
        (policy("pii"),),
    )
    assert decide([untagged]) == ["ImplicitlyDenied"]


@pytest.mark.parametrize(
    "session_of,expected", [("AROAEXAMPLE:alice", "Allowed"), ("AIDAOTHER", "ImplicitlyDenied")]
)
def test_a_user_ends_or_resumes_only_their_own_sessions(session_of, expected):
    session = f"arn:aws:ssm:{REGION}:{ACCOUNT}:session/alice-0123456789abcdef0"
    context = {"ssm:resourceTag/aws:ssmmessages:session-id": session_of}
    requests = [
        ask("federated-alice", action, session, **context)
        for action in ("ssm:TerminateSession", "ssm:ResumeSession")
    ]
    assert decide(requests) == [expected, expected]


def action_role(tier: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{hub_names.ACTION_ROLE.format(tier=tier)}"


def definition(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/{name}:$DEFAULT"


@pytest.mark.parametrize(
    "case,action,resource,context,expected",
    [
        (
            "run an action on one's own product",
            "servicecatalog:ExecuteProvisionedProductServiceAction",
            "*",
            {"servicecatalog:userLevel": "self"},
            "Allowed",
        ),
        (
            "run an action on anyone's product",
            "servicecatalog:ExecuteProvisionedProductServiceAction",
            "*",
            {"servicecatalog:accountLevel": "self"},
            "ImplicitlyDenied",
        ),
        (
            "start the resize document",
            "ssm:StartAutomationExecution",
            definition("labcatalog-PersonalHub-Resize"),
            {},
            "Allowed",
        ),
        (
            "start another automation",
            "ssm:StartAutomationExecution",
            definition("AWS-RestartEC2Instance"),
            {},
            "ImplicitlyDenied",
        ),
        (
            "pass the tier's action role to Systems Manager",
            "iam:PassRole",
            action_role("pii"),
            {"iam:PassedToService": "ssm.amazonaws.com"},
            "Allowed",
        ),
        (
            "pass the tier's action role to EC2",
            "iam:PassRole",
            action_role("pii"),
            {"iam:PassedToService": "ec2.amazonaws.com"},
            "ImplicitlyDenied",
        ),
        (
            "pass another tier's action role",
            "iam:PassRole",
            action_role("nonpii"),
            {"iam:PassedToService": "ssm.amazonaws.com"},
            "ImplicitlyDenied",
        ),
        (
            "pass the tier's launch role",
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/{names.LAUNCH_ROLE.format(tier='pii')}",
            {"iam:PassedToService": "ssm.amazonaws.com"},
            "ImplicitlyDenied",
        ),
        (
            "launch the tier's product",
            "servicecatalog:ProvisionProduct",
            f"arn:aws:catalog:{REGION}:{ACCOUNT}:product/prod-abcdefghijklm",
            {f"aws:ResourceTag/{names.TIER_TAG}": "pii"},
            "Allowed",
        ),
        (
            "launch another tier's product",
            "servicecatalog:ProvisionProduct",
            f"arn:aws:catalog:{REGION}:{ACCOUNT}:product/prod-abcdefghijklm",
            {f"aws:ResourceTag/{names.TIER_TAG}": "nonpii"},
            "ImplicitlyDenied",
        ),
        (
            "terminate one's own product",
            "servicecatalog:TerminateProvisionedProduct",
            "*",
            {"servicecatalog:userLevel": "self"},
            "Allowed",
        ),
        (
            "terminate a colleague's product",
            "servicecatalog:TerminateProvisionedProduct",
            "*",
            {"servicecatalog:accountLevel": "self"},
            "ImplicitlyDenied",
        ),
        ("stop an instance directly", "ec2:StopInstances", INSTANCE, {}, "ImplicitlyDenied"),
        ("send a command", "ssm:SendCommand", INSTANCE, {}, "ImplicitlyDenied"),
        (
            "write a stack",
            "cloudformation:UpdateStack",
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SC-{ACCOUNT}-pp-x/1",
            {},
            "ImplicitlyDenied",
        ),
    ],
)
def test_the_catalog_and_its_actions_on_the_users_own_products(
    case, action, resource, context, expected
):
    (decided,) = decide([ask("iam-alice", action, resource, **context)])
    assert decided == expected, case


def test_each_tiers_policy_is_attached_to_its_principals_of_this_account(example):
    for tier in example.tiers:
        resource = end_user_resource(tier.name)
        attached = {k: resource.get(k, []) for k in ("Roles", "Users", "Groups")}
        assert attached == {
            "Roles": [p.split("/", 1)[1] for p in tier.principals if p.startswith("role/")],
            "Users": [],
            "Groups": [],
        }
        size = len(json.dumps(resource["PolicyDocument"], separators=(",", ":")))
        assert size < MANAGED_POLICY_LIMIT


@pytest.mark.parametrize(
    "principals,expected",
    [
        (["role/DataScientists"], {"Roles": ["DataScientists"]}),
        (["role/teams/ds/Leads", "user/alice"], {"Roles": ["Leads"], "Users": ["alice"]}),
        (["group/Analysts", "group/Admins"], {"Groups": ["Admins", "Analysts"]}),
        # Another account's, or an Identity Center role: the policy is not attached by name.
        (["arn:aws:iam::210987654321:role/DataScientists"], {}),
    ],
)
def test_attachments_by_name(principals, expected):
    assert end_users.attachments(principals) == expected
