"""The hub's environment contract: environment.md and the code that reads it agree.

Proves: every variable in products/hub_image/environment.md is read by the hub's settings, the
settings read no variable the contract does not name, and a broken environment is refused with
every problem named. The templates' side (each name they set is in the table) is checked with
the templates.
"""

from __future__ import annotations

import re

import pytest

from products.hub_image.labcatalog_hub.settings import HubSettings, ServerSize, SettingsError
from tests.support.hub_services import HUB_IMAGE

CONTRACT = HUB_IMAGE / "environment.md"


def contract_names() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", CONTRACT.read_text(), flags=re.MULTILINE))


class Recording(dict):
    """An environment that remembers which names were asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, name, default=None):
        self.asked.add(name)
        return super().get(name, default)


COMMON = {
    "LABCATALOG_TIER": "pii",
    "LABCATALOG_PUBLIC_URL": "https://hub.example.com/",
    "LABCATALOG_STATE_DIR": "/srv/jupyterhub/state",
    "LABCATALOG_TIER_GROUP": "ds-pii",
    "LABCATALOG_ADMIN_GROUP": "ds-admins",
    "LABCATALOG_ALLOWED_USERS": "",
    "LABCATALOG_SERVER_SIZES": "1024:4096, 2048:8192",
    "LABCATALOG_DEFAULT_SERVER_SIZE": "2048:8192",
    "LABCATALOG_IDLE_TIMEOUT_MINUTES": "60",
    "LABCATALOG_NOTEBOOK_BUCKET": "notebooks",
    "LABCATALOG_S3_ENDPOINT_URL": "",
    "JUPYTERHUB_CRYPT_KEY": "x" * 64,
}
OIDC_FARGATE = {
    **COMMON,
    "LABCATALOG_AUTH": "oidc",
    "LABCATALOG_OIDC_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
    "LABCATALOG_OIDC_CLIENT_ID": "client",
    "LABCATALOG_OIDC_CLIENT_SECRET": "secret",
    "LABCATALOG_SERVER_MODE": "fargate",
    "LABCATALOG_ECS_CLUSTER": "arn:aws:ecs:eu-west-1:123456789012:cluster/labcatalog-pii_x",
    "LABCATALOG_ECS_TASK_DEFINITION": "labcatalog-pii_user_x",
    "LABCATALOG_ECS_SUBNETS": "subnet-a,subnet-b",
    "LABCATALOG_ECS_SECURITY_GROUPS": "sg-1",
    "LABCATALOG_ECS_CAPACITY_PROVIDER": "FARGATE_SPOT",
    "LABCATALOG_HUB_CONNECT_URL": "http://hub.labcatalog-pii.internal:8081",
}
LDAP_DOCKER = {
    **COMMON,
    "LABCATALOG_AUTH": "ldap",
    "LABCATALOG_LDAP_URL": "ldaps://ad.example.com:636",
    "LABCATALOG_LDAP_BIND_DN_TEMPLATE": "uid={username},ou=people,dc=x;cn={username},dc=x",
    "LABCATALOG_LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=x",
    "LABCATALOG_SERVER_MODE": "docker",
    "LABCATALOG_DOCKER_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/labcatalog/hub:1",
    "LABCATALOG_DOCKER_NETWORK": "labcatalog",
    "LABCATALOG_DOCKER_HOMES": "/srv/jupyterhub/homes",
    "LABCATALOG_DOCKER_HOMES_ON_HOST": "/srv/labcatalog/homes",
}
LOCAL = {**LDAP_DOCKER, "LABCATALOG_AUTH": "local"}


def test_the_settings_read_exactly_the_contracts_variables():
    asked: set[str] = set()
    for env in (OIDC_FARGATE, LDAP_DOCKER, {**LOCAL, "LABCATALOG_ALLOW_LOCAL_AUTH": "1"}):
        recording = Recording(env)
        HubSettings.from_env(recording)
        asked |= recording.asked
    assert asked == contract_names()


def test_a_valid_environment_becomes_typed_settings():
    settings = HubSettings.from_env(OIDC_FARGATE)
    assert settings.public_url == "https://hub.example.com"
    assert settings.sizes == (ServerSize(1024, 4096), ServerSize(2048, 8192))
    assert settings.default_size == ServerSize(2048, 8192)
    assert settings.idle_timeout_seconds == 3600
    assert settings.oidc.groups_claim == "cognito:groups"  # Cognito's defaults
    assert settings.oidc.username_claim == "email"
    assert settings.ecs.subnets == ("subnet-a", "subnet-b")
    assert settings.s3_endpoint_url is None and settings.encrypt_auth_state
    ldap = HubSettings.from_env(LDAP_DOCKER).ldap
    assert ldap.bind_dn_templates == ("uid={username},ou=people,dc=x", "cn={username},dc=x")


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"LABCATALOG_AUTH": "local"}, "LABCATALOG_ALLOW_LOCAL_AUTH=1"),
        ({"LABCATALOG_AUTH": "saml"}, "LABCATALOG_AUTH must be one of oidc, ldap, local"),
        ({"LABCATALOG_OIDC_ISSUER": ""}, "LABCATALOG_OIDC_ISSUER is required for oidc"),
        ({"LABCATALOG_TIER_GROUP": " "}, "LABCATALOG_TIER_GROUP is required"),
        ({"LABCATALOG_SERVER_MODE": "k8s"}, "LABCATALOG_SERVER_MODE must be one of"),
        ({"LABCATALOG_SERVER_SIZES": "1024"}, "'1024' is not cpu:memory"),
        ({"LABCATALOG_SERVER_SIZES": "1000:4096"}, "cpu must be one of"),
        ({"LABCATALOG_DEFAULT_SERVER_SIZE": "4096:16384"}, "is not one of LABCATALOG_SERVER_SIZES"),
        ({"LABCATALOG_IDLE_TIMEOUT_MINUTES": "soon"}, "must be a positive number"),
        ({"LABCATALOG_ECS_SUBNETS": ""}, "LABCATALOG_ECS_SUBNETS is required for fargate"),
        ({"LABCATALOG_ECS_CAPACITY_PROVIDER": "EC2"}, "FARGATE, FARGATE_SPOT"),
        # Servers as processes of the hub would share its uid, environment and files.
        ({"LABCATALOG_SERVER_MODE": "in-hub"}, "must be one of fargate, docker"),
        ({"LABCATALOG_HUB_CONNECT_URL": ""}, "LABCATALOG_HUB_CONNECT_URL is required for fargate"),
        ({"LABCATALOG_HUB_CONNECT_URL": "hub:8081"}, "must be http://HOST:PORT"),
    ],
)
def test_a_broken_environment_is_refused_with_the_reason(change, expected):
    with pytest.raises(SettingsError, match=re.escape(expected)):
        HubSettings.from_env({**OIDC_FARGATE, **change})


def test_hub_hours_become_the_login_pages_notice():
    assert HubSettings.from_env(OIDC_FARGATE).hub_hours_notice == ""  # always on
    settings = HubSettings.from_env(
        {**OIDC_FARGATE, "LABCATALOG_HUB_HOURS": "7-20", "LABCATALOG_HUB_TIME_ZONE": "Europe/Paris"}
    )
    assert settings.hub_hours == (7, 20)
    assert settings.hub_hours_notice == (
        "This hub runs Monday to Friday from 7:00 to 20:00 (Europe/Paris). Outside those hours "
        "it is stopped and comes back at 7:00 on the next working day; your files are kept."
    )
    with pytest.raises(SettingsError, match="LABCATALOG_HUB_HOURS must be START-STOP"):
        HubSettings.from_env({**OIDC_FARGATE, "LABCATALOG_HUB_HOURS": "7:00-20:00"})


def test_every_problem_is_reported_at_once():
    broken = {k: v for k, v in OIDC_FARGATE.items() if k not in ("LABCATALOG_TIER",)}
    broken["LABCATALOG_LDAP_URL"] = "ignored for oidc"
    broken["LABCATALOG_ECS_CLUSTER"] = ""
    with pytest.raises(SettingsError) as error:
        HubSettings.from_env(broken)
    assert "LABCATALOG_TIER is required" in str(error.value)
    assert "LABCATALOG_ECS_CLUSTER is required" in str(error.value)


def test_ldap_templates_must_name_the_user():
    with pytest.raises(SettingsError, match=re.escape("has no {username}")):
        HubSettings.from_env({**LDAP_DOCKER, "LABCATALOG_LDAP_BIND_DN_TEMPLATE": "cn=admin,dc=x"})


def test_docker_servers_may_use_the_whole_host_but_fargate_needs_sizes():
    without_sizes = {"LABCATALOG_SERVER_SIZES": "", "LABCATALOG_DEFAULT_SERVER_SIZE": ""}
    settings = HubSettings.from_env({**LDAP_DOCKER, **without_sizes})
    assert settings.sizes == () and settings.default_size is None
    assert settings.docker.homes_on_host == "/srv/labcatalog/homes" and not settings.docker.gpus
    with pytest.raises(SettingsError, match="LABCATALOG_SERVER_SIZES is required"):
        HubSettings.from_env({**OIDC_FARGATE, **without_sizes})
