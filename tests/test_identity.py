"""A person, not only a tier, reaches the data: the data role, its trust, and the roles that
must not reach data, decided by an IAM evaluator that understands conditions and policy
variables (tests/support/iam_evaluator.py) on the example's built platform policies.

What it proves: the decisions AWS's documented evaluation logic gives for these requests, with
the context keys listed here: alice's session (source identity `alice`) reaches her own folder
and not bob's; only the tier's hub roles assume the tier's data role, and only with a source
identity and exactly the user and tier session tags of that tier; the servers' own role (the
shared hub's task role), the hubs' roles and the personal hub's instance role reach no data.
What it does not: that STS sends these keys (AWS documents them for AssumeRole with
SourceIdentity and Tags), that a source identity survives role chaining (AWS documents it), or
anything about a real account. The hub's own calls are tested end to end in
tests/test_hub_identity.py; moto ignores every condition here.
"""

from __future__ import annotations

import pytest

from generator.cfn import names
from tests.support.iam_evaluator import ACCOUNT, Request, decide
from tests.test_shared_hub_homes import platform_template, resolve, role_policies

NOTEBOOKS = "notebookbucket"  # the notebook bucket as tests.test_shared_hub_homes resolves it
LAKE = "example-datalake"
TLS = {"aws:SecureTransport": "true"}


def role(pattern: str, tier: str = "pii") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{pattern.format(tier=tier)}"


def session(pattern: str, name: str, tier: str = "pii") -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{pattern.format(tier=tier)}/{name}"


def policies_of(pattern: str, tier: str = "pii") -> tuple[dict, ...]:
    return tuple(role_policies(pattern.format(tier=tier), tier))


def s3_request(principal: str, role_pattern: str, action: str, resource: str, **context):
    return Request(principal, action, resource, {**TLS, **context}, policies_of(role_pattern))


# --- alice's session: her folder, not bob's ---


def alices(action: str, resource: str, identity: str | None = "alice", **context) -> Request:
    keys = {"aws:SourceIdentity": identity} if identity else {}
    return s3_request(
        session(names.DATA_ROLE, identity or "someone"),
        names.DATA_ROLE,
        action,
        resource,
        **keys,
        **context,
    )


def obj(key: str, bucket: str = NOTEBOOKS) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


@pytest.mark.parametrize(
    "case,request_,expected",
    [
        ("her folder, read", alices("s3:GetObject", obj("_users/pii/alice/a.csv")), "Allowed"),
        ("her folder, write", alices("s3:PutObject", obj("_users/pii/alice/a.csv")), "Allowed"),
        (
            "her folder, list",
            alices(
                "s3:ListBucket", f"arn:aws:s3:::{NOTEBOOKS}", **{"s3:prefix": "_users/pii/alice/"}
            ),
            "Allowed",
        ),
        (
            "bob's folder, read",
            alices("s3:GetObject", obj("_users/pii/bob/a.csv")),
            "ImplicitlyDenied",
        ),
        (
            "bob's folder, write",
            alices("s3:PutObject", obj("_users/pii/bob/a.csv")),
            "ImplicitlyDenied",
        ),
        (
            "bob's folder, list",
            alices(
                "s3:ListBucket", f"arn:aws:s3:::{NOTEBOOKS}", **{"s3:prefix": "_users/pii/bob/"}
            ),
            "ImplicitlyDenied",
        ),
        (
            "every user's folders, list",
            alices("s3:ListBucket", f"arn:aws:s3:::{NOTEBOOKS}", **{"s3:prefix": "_users/pii/"}),
            "ImplicitlyDenied",
        ),
        (
            "her folder of another tier",
            alices("s3:GetObject", obj("_users/nonpii/alice/a.csv")),
            "ImplicitlyDenied",
        ),
        (
            "a folder by a name that matches more",
            alices("s3:GetObject", obj("_users/pii/alice-bob/a.csv"), identity="alice"),
            "ImplicitlyDenied",
        ),
        (
            "no source identity: no folder",
            alices("s3:GetObject", obj("_users/pii/alice/a.csv"), identity=None),
            "ImplicitlyDenied",
        ),
        ("the tier's lake prefix", alices("s3:GetObject", obj("pii/t.parquet", LAKE)), "Allowed"),
        (
            "another tier's lake prefix",
            alices("s3:GetObject", obj("nonpii/t.parquet", LAKE)),
            "ImplicitlyDenied",
        ),
    ],
)
def test_alices_identity_reaches_her_data_and_not_bobs(case, request_, expected):
    assert decide([request_]) == [expected], case


# --- the data role's trust: the tier's hubs, for one person ---

PERSON = {
    "sts:SourceIdentity": "alice",
    f"aws:RequestTag/{names.USER_TAG}": "alice",
    f"aws:RequestTag/{names.TIER_TAG}": "pii",
    "aws:TagKeys": [names.USER_TAG, names.TIER_TAG],
}
ACTIONS = ("sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession")


def data_role_trust(tier: str = "pii") -> dict:
    resource = platform_template()["Resources"][f"{tier.capitalize()}DataRole"]
    return resolve(resource["Properties"]["AssumeRolePolicyDocument"], tier)


def assume(principal_pattern: str, context: dict, principal_tier: str = "pii", data_tier="pii"):
    """The three requests of an AssumeRole with a source identity and tags, by a session of
    `principal_pattern`'s role, on `data_tier`'s data role."""
    return [
        Request(
            session(principal_pattern, "task", principal_tier),
            action,
            role(names.DATA_ROLE, data_tier),
            {**context, "aws:PrincipalArn": role(principal_pattern, principal_tier)},
            policies_of(principal_pattern, principal_tier),
            data_role_trust(data_tier),
        )
        for action in ACTIONS
    ]


def without(*keys: str) -> dict:
    return {k: v for k, v in PERSON.items() if k not in keys}


@pytest.mark.parametrize("broker", [names.HUB_TASK_ROLE, names.PERSONAL_HUB_ROLE])
def test_the_tiers_hubs_assume_the_data_role_for_a_person(broker):
    assert decide(assume(broker, PERSON)) == ["Allowed"] * 3


@pytest.mark.parametrize(
    "case,context",
    [
        ("no source identity", without("sts:SourceIdentity")),
        ("no session tags", without(*[k for k in PERSON if "Tag" in k])),
        (
            "no user tag",
            {**without(f"aws:RequestTag/{names.USER_TAG}"), "aws:TagKeys": [names.TIER_TAG]},
        ),
        ("another tier's tag", {**PERSON, f"aws:RequestTag/{names.TIER_TAG}": "nonpii"}),
        (
            "a tag of the caller's choosing",
            {
                **PERSON,
                "aws:RequestTag/team": "x",
                "aws:TagKeys": [names.USER_TAG, names.TIER_TAG, "team"],
            },
        ),
    ],
)
def test_the_data_role_is_never_assumed_without_the_person(case, context):
    """AssumeRole itself is refused; the refused request is the one STS would send."""
    (assume_role, *_) = assume(names.HUB_TASK_ROLE, context)
    assert decide([assume_role]) != ["Allowed"], case


@pytest.mark.parametrize(
    "case,principal,principal_tier",
    [
        ("the servers' own role", names.NOTEBOOK_ROLE, "pii"),
        ("another tier's hub", names.HUB_TASK_ROLE, "nonpii"),
        ("another tier's personal hub", names.PERSONAL_HUB_ROLE, "nonpii"),
        ("the task execution role", names.TASK_EXECUTION_ROLE, "pii"),
    ],
)
def test_nothing_but_the_tiers_hubs_assumes_its_data_role(case, principal, principal_tier):
    decided = decide(assume(principal, PERSON, principal_tier))
    assert "Allowed" not in decided, case


def test_a_persons_session_cannot_assume_the_data_role_again_as_someone_else():
    """alice's session (her kernel's credentials) asking for bob's: the data role trusts only
    hub roles, and has no sts rights of its own."""
    request = Request(
        session(names.DATA_ROLE, "alice"),
        "sts:AssumeRole",
        role(names.DATA_ROLE),
        {**PERSON, "sts:SourceIdentity": "bob", "aws:PrincipalArn": role(names.DATA_ROLE)},
        policies_of(names.DATA_ROLE),
        data_role_trust(),
    )
    assert decide([request]) != ["Allowed"]


# --- the roles that run users' servers and hubs reach no data ---

DATA = [
    ("s3:GetObject", obj("pii/t.parquet", LAKE), {}),
    ("s3:PutObject", obj("pii/scratch/t.parquet", LAKE), {}),
    ("s3:ListBucket", f"arn:aws:s3:::{LAKE}", {"s3:prefix": "pii/"}),
    ("s3:GetObject", obj("pii/notebook.ipynb"), {}),
    ("s3:GetObject", obj("_users/pii/alice/a.csv"), {"aws:SourceIdentity": "alice"}),
]


@pytest.mark.parametrize(
    "case,principal",
    [
        ("the servers' own task role", names.NOTEBOOK_ROLE),
        ("the shared hub's task role", names.HUB_TASK_ROLE),
        ("the personal hub's instance role", names.PERSONAL_HUB_ROLE),
    ],
)
def test_the_servers_and_hubs_own_roles_reach_no_data(case, principal):
    requests = [
        s3_request(session(principal, "task"), principal, action, resource, **context)
        for action, resource, context in DATA
    ]
    assert set(decide(requests)) == {"ImplicitlyDenied"}, case
    # The same requests by the data role (as alice) are allowed: the probe can tell.
    data = [
        s3_request(
            session(names.DATA_ROLE, "alice"),
            names.DATA_ROLE,
            action,
            resource,
            **{"aws:SourceIdentity": "alice", **context},
        )
        for action, resource, context in DATA
    ]
    assert set(decide(data)) == {"Allowed"}


# --- the servers' tokens: each hub keeps its own tier's users' secrets only ---


def token_secret(tier: str) -> str:
    return (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
        f"{names.SERVER_TOKEN_SECRETS.format(tier=tier)}alice@example.com-AbCdEf"
    )


@pytest.mark.parametrize(
    "secret_tier,expected", [("pii", "Allowed"), ("nonpii", "ImplicitlyDenied")]
)
def test_a_hub_keeps_its_own_tiers_server_tokens_only(secret_tier, expected):
    tagged = {
        f"aws:RequestTag/{names.TIER_TAG}": "pii",
        f"aws:RequestTag/{names.USER_TAG}": "alice@example.com",
        "aws:TagKeys": [names.USER_TAG, names.TIER_TAG],
    }
    requests = [
        Request(
            session(names.HUB_TASK_ROLE, "task"),
            action,
            token_secret(secret_tier),
            context,
            policies_of(names.HUB_TASK_ROLE),
        )
        for action, context in (
            ("secretsmanager:CreateSecret", tagged),
            ("secretsmanager:TagResource", tagged),
            ("secretsmanager:PutSecretValue", {}),
        )
    ]
    assert decide(requests) == [expected] * 3
    # Reading a token back is no hub's business (the task execution role resolves it).
    read = Request(
        session(names.HUB_TASK_ROLE, "task"),
        "secretsmanager:GetSecretValue",
        token_secret("pii"),
        {},
        policies_of(names.HUB_TASK_ROLE),
    )
    assert decide([read]) == ["ImplicitlyDenied"]


# --- the hub's broker: its AssumeRole request (checked against STS's API model), its cache ---


def test_the_hubs_names_are_the_platforms():
    from products.hub_image.labcatalog_hub import credentials

    assert credentials.DATA_ROLE == names.DATA_ROLE
    assert (credentials.USER_TAG, credentials.TIER_TAG) == (names.USER_TAG, names.TIER_TAG)
    config = (credentials.__file__.rsplit("/", 2)[0]) + "/jupyterhub_config.py"
    with open(config) as text:
        assert 'f"labcatalog/{settings.tier}/server-tokens/"' in text.read()
    assert names.SERVER_TOKEN_SECRETS == "labcatalog/{tier}/server-tokens/"


@pytest.mark.parametrize(
    "user,identity",
    [
        ("alice@example.com", "alice@example.com"),
        ("a", "a-ca978112ca1b"),  # too short for STS: a hash makes it unique and long enough
        (
            "o'brien smith",
            "o-brien-smith-" + __import__("hashlib").sha256(b"o'brien smith").hexdigest()[:12],
        ),
    ],
)
def test_a_users_source_identity_is_their_name_or_a_safe_unique_form_of_it(user, identity):
    from products.hub_image.labcatalog_hub.credentials import source_identity

    assert source_identity(user) == identity


def test_the_broker_assumes_as_the_person_caches_and_renews():
    import asyncio
    from datetime import UTC, datetime, timedelta

    import boto3
    from botocore.stub import Stubber

    from products.hub_image.labcatalog_hub.credentials import CredentialBroker

    sts = boto3.session.Session(region_name="us-east-1").client("sts")
    broker = CredentialBroker("pii", sts=sts, session_seconds=3600, refresh_seconds=1200)
    stubber = Stubber(sts)
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/labcatalog-pii-hub/task-1"
    stubber.add_response(
        "get_caller_identity", {"Arn": caller, "Account": ACCOUNT, "UserId": "AROA:x"}
    )
    now = datetime.now(UTC)

    def answer(key: str, ends: datetime) -> dict:
        credentials = {
            "AccessKeyId": key,
            "SecretAccessKey": "secret-key-of-" + key,
            "SessionToken": "token",
            "Expiration": ends,
        }
        return {"Credentials": credentials}

    expected = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/labcatalog-pii-data",
        "RoleSessionName": "alice@example.com",
        "SourceIdentity": "alice@example.com",
        "Tags": [
            {"Key": names.USER_TAG, "Value": "alice@example.com"},
            {"Key": names.TIER_TAG, "Value": "pii"},
        ],
        "DurationSeconds": 3600,
    }
    # The first session ends in 30 minutes: kept while more than 20 are left.
    stubber.add_response(
        "assume_role", answer("ASIAFIRST0000000", now + timedelta(minutes=30)), expected
    )
    stubber.add_response(
        "assume_role", answer("ASIASECOND000000", now + timedelta(hours=1)), expected
    )
    with stubber:
        first = asyncio.run(broker.session("alice@example.com"))
        again = asyncio.run(broker.session("alice@example.com"))
        assert first.access_key_id == again.access_key_id == "ASIAFIRST0000000"
        # 15 minutes later (as the clock sees it), it has less than 20 left: a new one.
        broker._sessions["alice@example.com"] = first.__class__(
            first.access_key_id,
            first.secret_access_key,
            first.session_token,
            now + timedelta(minutes=15),
        )
        renewed = asyncio.run(broker.session("alice@example.com"))
        assert renewed.access_key_id == "ASIASECOND000000"
        stubber.assert_no_pending_responses()
    output = renewed.as_process_output()
    assert output["Version"] == 1 and output["Expiration"].endswith("Z")
