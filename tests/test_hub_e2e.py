"""The hub image's jupyterhub_config.py, run for real: login, tiers, servers, S3 notebooks, culling.

Set-up (all on 127.0.0.1, started and stopped here): the platform template deployed into the
moto server, whose S3 then enforces the tier roles' IAM policies; a credentials endpoint that
hands out tier `pii`'s notebook role credentials like ECS does; a local OIDC provider; and a
real JupyterHub with its proxy, running the image's command and config as the image's user
(uid 1000, gid 100) with its state directory laid out as the template's EFS access point makes
it. The shared hub's servers are Fargate tasks, which cannot run here: each user's server is a
container of its own instead (the personal hub's `docker` mode, tests/support/docker_engine.py),
as the image's user, which gets the tier role's credentials as a task would.

What this proves: OIDC login with groups from the ID token, the tier gate (403 with a message),
admin from the admin group, a size picked from the allowed ones, notebooks saved through the
Contents API land in S3 under `<tier>/home/<user>/` and are shared through `<tier>/shared/`,
a kernel reaches its tier's lake prefix with the role from the default credential chain and is
refused another tier's, and an idle server is culled.

What it cannot prove: the Fargate or EC2 runtime (the image itself is not built here: no Docker
engine), the ECS spawner (tests/test_ecs_spawner.py covers its calls against moto), IAM
conditions (moto ignores them; the TLS-only policies are removed as in test_access_matrix.py),
and KMS (moto's S3 does not check key permissions).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.hub_services import (
    CredentialsEndpoint,
    DockerHost,
    Hub,
    OidcProvider,
    deploy_platform_for_hub,
    logged_in,
    oidc_hub_environment,
    wait_for,
)
from tests.support.moto_server import assume_role_credentials

TIER, OTHER = "pii", "nonpii"
IDLE_MINUTES = 0.3  # 18 s: short enough to watch a cull, long enough for the other tests
# Each test has users of its own, so that no test depends on what another did (or on order).
USERS = {
    "alice@example.com": ["ds-pii"],
    "bob@example.com": ["ds-pii", "ds-admins"],
    "carol@example.com": ["ds-pii"],
    "dave@example.com": ["ds-pii"],
    "erin@example.com": ["ds-pii"],
    "frank@example.com": ["ds-pii"],
    "mallory@example.com": ["ds-nonpii", "ds-admins"],  # an admin, but of another tier
}
LAKE_PROBE = {TIER: "pii/probe/data.csv", OTHER: "nonpii/probe/data.csv"}


@pytest.fixture(scope="module")
def lab(moto, tmp_path_factory):
    """Platform in moto (IAM enforced), credentials, OIDC provider and the hub; torn down after."""
    moto.reset()
    platform = deploy_platform_for_hub(moto, TIER, LAKE_PROBE.values())
    bucket, lake, reader = platform.notebook_bucket, platform.lake_bucket, platform.reader
    credentials = CredentialsEndpoint()
    credentials.roles[TIER] = assume_role_credentials(moto, platform.role_arn)
    provider = OidcProvider(USERS, client_id="labcatalog-hub", client_secret="test-secret")
    moto.enforce_iam(True)
    hub = None
    folder = tmp_path_factory.mktemp("hub")
    docker = DockerHost(folder / "instance", credentials.environment(TIER))
    try:
        hub = Hub(
            folder,
            oidc_hub_environment(
                TIER, provider, credentials, bucket, moto.endpoint_url, IDLE_MINUTES
            ),
            docker=docker,
        )
        yield hub, reader, bucket, lake
    finally:
        if hub is not None:
            hub.stop()
        docker.close()
        provider.stop()
        credentials.stop()
        moto.reset()


def test_a_tier_member_logs_in_and_saves_notebooks_in_their_home_prefix(lab):
    hub, reader, bucket, _ = lab
    alice = logged_in(hub, "alice@example.com")
    model = alice.model()
    assert model["groups"] == ["ds-pii"] and model["admin"] is False

    alice.start_server(size="2048:8192")
    saved = alice.put_notebook("home/analysis.ipynb", "print('hello')")
    assert saved.status_code in (200, 201), saved.text

    body = reader.get_object(Bucket=bucket, Key=f"{TIER}/home/alice@example.com/analysis.ipynb")
    notebook = json.loads(body["Body"].read())
    assert notebook["cells"][0]["source"] == "print('hello')"


def test_a_teammate_reads_what_was_copied_to_shared_but_not_the_others_home(lab):
    hub, reader, bucket, _ = lab
    frank = logged_in(hub, "frank@example.com")
    frank.start_server()
    assert frank.put_notebook("home/model.ipynb", "x = 42").status_code in (200, 201)
    # Copy home -> shared as the file browser does across the two drives: read, then save.
    original = frank.api.get(frank.server_url("api/contents/home/model.ipynb"), timeout=30)
    original.raise_for_status()
    copied = frank.api.put(
        frank.server_url("api/contents/shared/model.ipynb"),
        json={"type": "notebook", "content": original.json()["content"]},
        timeout=30,
    )
    assert copied.status_code in (200, 201), copied.text
    assert reader.head_object(Bucket=bucket, Key=f"{TIER}/shared/model.ipynb")

    bob = logged_in(hub, "bob@example.com")
    assert bob.model()["admin"] is True  # member of the admin group
    bob.start_server()
    shared = bob.api.get(bob.server_url("api/contents/shared/model.ipynb"), timeout=30)
    assert shared.ok, shared.text
    assert shared.json()["content"]["cells"][0]["source"] == "x = 42"
    # bob's home/ is his own prefix: frank's notebook is not there.
    assert (
        bob.api.get(bob.server_url("api/contents/home/model.ipynb"), timeout=30).status_code == 404
    )


def test_a_user_outside_the_tier_group_is_refused_with_a_message(lab):
    hub, *_ = lab
    response = hub.user("mallory@example.com").login_oidc()
    assert response.status_code == 403
    assert "ds-pii" in response.text and "tier" in response.text


def test_a_size_the_product_does_not_offer_is_refused(lab):
    hub, *_ = lab
    erin = logged_in(hub, "erin@example.com")
    assert "" not in erin.model()["servers"]
    response = erin.api.post(
        f"{hub.url}/hub/api/users/{erin.path}/server", json={"size": "4096:30720"}, timeout=30
    )
    assert response.status_code >= 400
    assert "not offered" in response.text
    assert "" not in erin.model()["servers"], "no server was started"


def test_a_kernel_reads_its_tiers_lake_prefix_and_is_denied_another_tiers(lab):
    hub, _, _, lake = lab
    carol = logged_in(hub, "carol@example.com")
    carol.start_server()
    code = f"""
import boto3, os
s3 = boto3.client("s3", endpoint_url=os.environ["LABCATALOG_S3_ENDPOINT_URL"])
for key in {sorted(LAKE_PROBE.values())!r}:
    try:
        s3.get_object(Bucket={lake!r}, Key=key)
        print(key, "allowed")
    except s3.exceptions.ClientError as err:
        print(key, err.response["Error"]["Code"])
"""
    printed = carol.run_code(code)
    assert f"{LAKE_PROBE[TIER]} allowed" in printed, printed
    assert f"{LAKE_PROBE[OTHER]} AccessDenied" in printed, printed


def test_an_idle_server_is_culled(lab):
    hub, *_ = lab
    dave = logged_in(hub, "dave@example.com")
    dave.start_server()
    started = time.monotonic()
    timeout = IDLE_MINUTES * 60
    wait_for(
        lambda: "" not in dave.model()["servers"], timeout * 3, "the idle server to be culled", 1
    )
    waited = time.monotonic() - started
    assert waited >= timeout * 0.8, f"culled after {waited:.0f}s, before the {timeout:.0f}s timeout"
    # Gone because the idle culler stopped it: the hub logged the culler's stop request.
    assert hub.server_stops_by("idle-culler", dave), f"not stopped by the culler:\n{hub.log()}"
    assert not hub.server_stops_by("dave@example.com", dave)
