"""A hub restart: running servers keep working, through the hub's stable name, and are culled.

Set-up as tests/test_hub_e2e.py (the platform in moto with IAM enforced, credentials endpoint,
local OIDC provider, the image's config in a real JupyterHub), plus a stand-in for the shared
hub's Cloud Map name (tests/support/stable_name.py) given to the hub as
LABCATALOG_HUB_CONNECT_URL, as the shared-hub template does.

What this proves: two users start servers; the hub is killed as its task ends (no clean
shutdown; its proxy and culler go with it) and a new hub process starts on the same state with
a hub API address of its own, as a new task would. Both users then reach the same running
servers (same start time), save a notebook in their home and run code with a token made after the
restart, which their servers can only check by calling the new hub through the stable name.
A second restart then brings a hub whose idle timeout is short (an update of the product, a new
task definition): its culler culls both servers, as the hub's own log records, no sooner than
the timeout after their last use. Reverting the stable name (servers told the hub's own
address) fails here: the servers keep calling the old hub's address.
Why the first two hubs have a long idle timeout: the servers' idle clock runs through server
starts and a hub restart, whose length depends on the machine's load; with a short timeout a
slow machine culls a server before the test uses it after the restart.
What it cannot prove: that ECS registers the new task in Cloud Map or how fast DNS follows
(tests/test_shared_hub_restart.py checks the template's side), nor a Fargate task's lifecycle.
"""

from __future__ import annotations

import time

import pytest

from tests.support.hub_services import (
    CredentialsEndpoint,
    DockerHost,
    Hub,
    OidcProvider,
    deploy_platform_for_hub,
    free_port,
    logged_in,
    oidc_hub_environment,
    wait_for,
)
from tests.support.stable_name import StableName

TIER = "pii"
IDLE_MINUTES = 0.75  # the last hub's: 45 s, a cull soon after the test's last use
WORKING_IDLE_MINUTES = 60  # the first two hubs': no cull however slow the machine is
USERS = {"alice@example.com": ["ds-pii"], "bob@example.com": ["ds-pii"]}


@pytest.fixture(scope="module")
def lab(moto, tmp_path_factory):
    moto.reset()
    platform = deploy_platform_for_hub(moto, TIER, [])
    credentials = CredentialsEndpoint()
    credentials.roles[TIER] = platform.hub_credentials
    provider = OidcProvider(USERS, client_id="labcatalog-hub", client_secret="test-secret")
    first_api_port = free_port()
    hub = None
    # As ECS registers whichever hub task runs: the name follows the hub's current API port.
    name = StableName(lambda: hub.api_port if hub else first_api_port)
    folder = tmp_path_factory.mktemp("hub")
    # Users' servers are containers of their own, as Fargate tasks are: killing the hub leaves
    # them running (the hub here runs in docker mode; the stable name is the shared hub's).
    docker = DockerHost(folder / "instance", credentials.environment(TIER))
    moto.enforce_iam(True)
    try:
        env = oidc_hub_environment(
            TIER,
            provider,
            credentials,
            platform.notebook_bucket,
            moto.endpoint_url,
            WORKING_IDLE_MINUTES,
        )
        env["LABCATALOG_HUB_CONNECT_URL"] = name.url
        hub = Hub(folder, env, docker=docker, api_port=first_api_port)
        yield hub, docker
    finally:
        if hub is not None:
            hub.stop()
        docker.close()
        name.stop()
        provider.stop()
        credentials.stop()
        moto.reset()


def server_container(hub, user) -> str:
    """The name of the container that runs `user`'s server (its environment names the user)."""
    (name,) = [
        c.name
        for c in hub.docker.engine.containers.values()
        if f"JUPYTERHUB_USER={user.name}" in (c.config.get("Env") or [])
    ]
    return name


def test_running_servers_survive_a_hub_restart_and_are_still_culled(lab):
    hub, docker = lab
    users = [logged_in(hub, name) for name in USERS]
    for user in users:
        user.start_server()
    started = {user.name: user.model()["servers"][""]["started"] for user in users}
    containers = {user.name: server_container(hub, user) for user in users}
    old_api_port = hub.api_port

    hub.restart()

    assert hub.api_port != old_api_port  # the new hub has an address of its own
    for user in users:
        user.make_token()  # a token the server has never seen: it must ask the new hub
        server = user.model()["servers"][""]
        assert server["ready"] and server["started"] == started[user.name], "same server"
        saved = user.put_notebook("after-restart.ipynb", "print('still here')")
        assert saved.status_code in (200, 201), f"{saved.status_code} {saved.text[:300]}"
        assert (docker.homes / user.name / "after-restart.ipynb").exists()  # in their home
        assert user.run_code("print(6 * 7)").strip() == "42"
    worked = time.monotonic()

    hub.restart({**hub.env, "LABCATALOG_IDLE_TIMEOUT_MINUTES": str(IDLE_MINUTES)})

    for user in users:
        wait_for(
            lambda user=user: "" not in user.model()["servers"],
            IDLE_MINUTES * 60 * 3 + 60,  # the timeout after the last use, plus a hub start
            f"the new hub's culler to cull {user.name}'s server\n{hub.log()}",
            every=1,
        )
        assert hub.server_stops_by("idle-culler", user), f"not stopped by the culler\n{hub.log()}"
        assert ("stop", containers[user.name]) in hub.docker.engine.calls, "the server stopped"
    assert time.monotonic() - worked >= IDLE_MINUTES * 60 * 0.8, "culled while in use"
