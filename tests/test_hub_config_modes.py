"""The image's jupyterhub_config.py loaded in the shared hub's fargate mode, with the environment
the built shared-hub template gives the hub container (the tier's settings as the platform
publishes them from portfolio.yaml, resolved), and the traits it sets checked.

The hub end-to-end tests run the config in docker mode (servers as containers), because Fargate
cannot run here; this test loads the same file the way JupyterHub does (traitlets' Python config
loader) with the template's environment, resolved for a launch with the given parameters, so a
variable the template forgets, or a trait the fargate branch sets wrong, fails here.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from traitlets.config.loader import PyFileConfigLoader

from generator.cfn import names
from generator.engine.registry import load_portfolio
from products.platform import settings
from tests.conftest import EXAMPLE
from tests.support.hub_services import HUB_IMAGE, OidcProvider, shared_hub_template

CLUSTER = "arn:aws:ecs:eu-west-1:111122223333:cluster/labcatalog-pii_hub"
TASK_DEFINITION = "arn:aws:ecs:eu-west-1:111122223333:task-definition/labcatalog-pii_user:3"
SERVER_GROUP = "sg-0123456789abcdef0"
STACK = "labcatalog-pii-hub"
# What the launch gives (parameters without defaults, and the ones this test chooses).
LAUNCH = {
    "FargateSpot": "true",
    "HubName": "team1",
    "IdleTimeoutMinutes": "45",
}
NOTEBOOK_BUCKET = "labcatalog-notebooks-111122223333"
HOMES_FILE_SYSTEM = "fs-0123456789abcdef0"
# The SSM parameters of the platform (deployed) that a launch resolves, and their values here.
PLATFORM_VALUES = {
    names.NOTEBOOK_BUCKET_PARAMETER: NOTEBOOK_BUCKET,
    names.HOMES_FILE_SYSTEM_ID_PARAMETER.format(tier="pii"): HOMES_FILE_SYSTEM,
}
_REFERENCE = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")


def tier_settings(issuer: str) -> dict[str, str]:
    """The pii tier's settings as the platform publishes them from the example portfolio.yaml,
    its OIDC issuer the test's provider."""
    portfolio = load_portfolio(EXAMPLE)
    oidc = portfolio.platform.identity.oidc.model_copy(update={"issuer_url": issuer})
    identity = portfolio.platform.identity.model_copy(update={"oidc": oidc})
    platform = portfolio.platform.model_copy(update={"identity": identity})
    return settings.tier_settings(platform, portfolio.tier("pii"))


class Launch:
    """The template's values as CloudFormation resolves them for one launch."""

    def __init__(self, template: dict, given: dict, ssm: dict[str, str]) -> None:
        self.template = template
        self.ssm = {**PLATFORM_VALUES, **ssm}  # only the platform's values a hub reads
        self.parameters = {
            name: spec.get("Default") for name, spec in template["Parameters"].items()
        } | given
        for name, spec in template["Parameters"].items():
            value = self.parameters[name]
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                self.parameters[name] = value.split(",")

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, value):
        if isinstance(value, list):
            return [v for v in (self.value(x) for x in value) if v is not None]
        if isinstance(value, str):
            return _REFERENCE.sub(lambda m: self.ssm[m.group(1)], value)
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
            return {k: self.value(v) for k, v in value.items()}  # e.g. {"Name": .., "Value": ..}
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return None
            if argument == "AWS::StackName":
                return STACK
            if argument == "ServerTaskDefinition":
                return TASK_DEFINITION
            if argument in self.template["Resources"]:
                return f"<{argument}>"  # e.g. a secret's ARN: its value is given below
            return self.parameters[argument]
        if function == "Fn::GetAtt":
            return {
                ("HubCluster", "Arn"): CLUSTER,
                ("ServerSecurityGroup", "GroupId"): SERVER_GROUP,
            }[tuple(argument)]
        if function == "Fn::If":
            name, then, otherwise = argument
            return self.value(then if self.condition(name) else otherwise)
        if function == "Fn::Join":
            return argument[0].join(self.value(argument[1]))
        if function == "Fn::Equals":
            return self.value(argument[0]) == self.value(argument[1])
        if function == "Fn::Not":
            return not self.value(argument[0])
        if function == "Fn::And":
            return all(self.value(a) for a in argument)
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Sub":
            text = argument
            for name, given in (("AWS::StackName", STACK), *self.parameters.items()):
                if isinstance(given, str):
                    text = text.replace("${" + name + "}", given)
            assert "${" not in text, text
            return self.value(text)
        raise AssertionError(f"cannot resolve {value}")


def hub_container_environment(launch: Launch) -> dict[str, str]:
    """The hub container's environment and secrets, as the ECS agent would set them."""
    resources = launch.template["Resources"]
    (hub,) = [
        container
        for r in resources.values()
        if r["Type"] == "AWS::ECS::TaskDefinition"
        for container in r["Properties"]["ContainerDefinitions"]
        if container["Name"] == "hub"
    ]
    environment = {}
    for item in launch.value(hub["Environment"]):
        environment[item["Name"]] = str(launch.value(item["Value"]))
    secrets = {"JUPYTERHUB_CRYPT_KEY": "ab" * 32, "LABCATALOG_OIDC_CLIENT_SECRET": "s3cret"}
    for item in launch.value(hub["Secrets"]):
        environment[item["Name"]] = secrets[item["Name"]]
    return environment


@pytest.fixture
def provider():
    provider = OidcProvider({}, client_id="1example23456789", client_secret="s3cret")
    yield provider
    provider.stop()


def test_the_fargate_config_loads_with_the_templates_environment(provider, tmp_path, monkeypatch):
    launch = Launch(shared_hub_template(), LAUNCH, tier_settings(provider.url))
    environment = hub_container_environment(launch)
    assert environment["LABCATALOG_SERVER_MODE"] == "fargate"
    # The state directory the task mounts (EFS) stands here as a temporary folder.
    assert environment["LABCATALOG_STATE_DIR"] == "/srv/jupyterhub/state"
    environment["LABCATALOG_STATE_DIR"] = str(tmp_path)
    for name in [n for n in os.environ if n.startswith("LABCATALOG_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(HUB_IMAGE))

    c = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_IMAGE)).load_config()

    spawner = c.JupyterHub.spawner_class
    assert (spawner.__module__, spawner.__name__) == ("labcatalog_hub.ecs_spawner", "EcsSpawner")
    assert c.EcsSpawner.cluster == CLUSTER
    assert c.EcsSpawner.task_definition == TASK_DEFINITION
    # The tier's server subnets, from the platform's settings (portfolio.yaml).
    assert c.EcsSpawner.subnets == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    assert c.EcsSpawner.security_groups == [SERVER_GROUP]
    assert c.EcsSpawner.capacity_provider == "FARGATE_SPOT"  # FargateSpot=true
    # Servers outlive a hub restart and reach the new hub by the stack's stable name.
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.hub_bind_url == "http://0.0.0.0:8081"
    assert c.JupyterHub.hub_connect_url == f"http://hub.{STACK}.labcatalog.internal:8081"
    # The hub's name in the platform's host-name pattern for the tier.
    assert c.JupyterHub.public_url == "https://team1.pii.jupyter.example.com"
    # Sign-in through the issuer the launch named, with the tier gate of the launch's tier.
    authenticator = c.JupyterHub.authenticator_class
    assert authenticator.__name__ == "OidcAuthenticator"
    assert c.OidcAuthenticator.authorize_url == f"{provider.url}/authorize"
    assert c.OidcAuthenticator.token_url == f"{provider.url}/token"
    assert c.OidcAuthenticator.client_id == "1example23456789"
    assert c.OidcAuthenticator.client_secret == "s3cret"
    assert c.OidcAuthenticator.oauth_callback_url == (
        "https://team1.pii.jupyter.example.com/hub/oauth_callback"
    )
    assert c.OidcAuthenticator.groups_claim == "cognito:groups"
    assert c.OidcAuthenticator.username_claim == "email"
    assert (c.TierGate.tier, c.TierGate.tier_group, c.TierGate.admin_group) == (
        "pii",
        "data-scientists-pii",
        "data-platform-admins",
    )
    # Sizes from the template's default list; the idle timeout of the launch (45 min).
    assert c.Spawner.sizes == ["1024:4096", "2048:8192", "4096:16384"]
    assert c.Spawner.default_size == "1024:4096"
    assert c.Spawner.environment["LABCATALOG_NOTEBOOK_BUCKET"] == NOTEBOOK_BUCKET
    assert c.Spawner.environment["LABCATALOG_TIER"] == "pii"
    (culler,) = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert "--timeout=2700" in culler["command"], json.dumps(culler)
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"


def test_hub_hours_reach_the_login_page_and_the_servers(provider, tmp_path, monkeypatch):
    given = {**LAUNCH, "HubHours": "7-20"}
    launch = Launch(shared_hub_template(), given, tier_settings(provider.url))
    environment = hub_container_environment(launch)
    environment["LABCATALOG_STATE_DIR"] = str(tmp_path)
    for name in [n for n in os.environ if n.startswith("LABCATALOG_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(HUB_IMAGE))

    c = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_IMAGE)).load_config()

    notice = c.JupyterHub.template_vars["announcement_login"]
    assert "from 7:00 to 20:00 (UTC)" in notice and "comes back at 7:00" in notice
    # Servers stop themselves when idle while the hub is away (server_config).
    assert c.Spawner.environment["LABCATALOG_IDLE_TIMEOUT_SECONDS"] == str(45 * 60)


@pytest.mark.parametrize("idle", ["", "2700"])
def test_a_server_stops_itself_when_idle_only_when_the_hub_may_be_away(idle, monkeypatch, tmp_path):
    """The server's own config: with the hub hours' variable, idle kernels are culled and the
    server exits after the idle timeout; without it, the hub's culler alone decides."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LABCATALOG_IDLE_TIMEOUT_SECONDS", idle)
    folder = HUB_IMAGE / "server_config"
    c = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    if idle:
        assert c.MappingKernelManager.cull_idle_timeout == 2700
        assert c.MappingKernelManager.cull_connected is True
        assert c.ServerApp.shutdown_no_activity_timeout == 2700
    else:
        assert "cull_idle_timeout" not in c.MappingKernelManager
        assert "shutdown_no_activity_timeout" not in c.ServerApp
