"""A kernel's AWS credentials are its user's: brokered by the hub, as the person, renewed.

Set-up as tests/test_hub_e2e.py (all on 127.0.0.1): the platform template in moto with IAM
enforced, a local OIDC provider, and the image's real JupyterHub as the image's user. The hub's
own credentials are the tier's personal-hub instance role's (a credentials endpoint serves them
as the metadata service would); the users' servers, containers beside the hub, get none of the
instance's: on an instance the boot script's firewall rule keeps them off the metadata service.
So a kernel has AWS credentials only through its server's `credential_process`, which asks the
hub; the hub assumes the tier's data role in moto's STS with the user as source identity.

What it proves: `get_caller_identity()` in a kernel of a real hub-spawned server is the user's
session of the tier's data role (session name = the user), that session reads the tier's lake
prefix and not another tier's (moto enforces the data role's policies), a token that may not use
the server gets nothing, and a kernel's boto3 client goes on with a new session when the hub
renews it, without anything done in the kernel.

How it differs from production: sessions last 900 s (STS's least) instead of 3600 s, and the
hub renews a session 890 s before its end instead of 1200 s, so it renews after 10 s; 900 s is
inside botocore's own 15-minute refresh window, so the kernel asks the hub at each call (in
production botocore asks 15 minutes before the end, and the hub, renewing 20 minutes before,
has a new session by then). moto checks a trust policy against the caller's session ARN
instead of its role (so the data role's trust names the hub's session here), evaluates none of
its conditions (source identity, tags: tests/test_identity.py evaluates them), does not end a
session at its expiry, and records nothing in CloudTrail.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.hub_services import (
    CredentialsEndpoint,
    DockerHost,
    Hub,
    OidcProvider,
    deploy_platform_for_hub,
    logged_in,
    oidc_hub_environment,
)

TIER = "pii"
USERS = {"alice@example.com": ["ds-pii"], "bob@example.com": ["ds-pii"]}
LAKE_PROBE = {"pii": "pii/probe/data.csv", "nonpii": "nonpii/probe/data.csv"}
SESSION_SECONDS, REFRESH_SECONDS = 900, 890


@pytest.fixture(scope="module")
def lab(moto, tmp_path_factory):
    moto.reset()
    platform = deploy_platform_for_hub(moto, TIER, LAKE_PROBE.values())
    credentials = CredentialsEndpoint()
    credentials.roles[TIER] = platform.hub_credentials
    provider = OidcProvider(USERS, client_id="labcatalog-hub", client_secret="test-secret")
    moto.enforce_iam(True)
    hub = None
    folder = tmp_path_factory.mktemp("identity")
    docker = DockerHost(folder / "instance", {})  # servers: no instance credentials
    try:
        env = oidc_hub_environment(
            TIER, provider, credentials, platform.notebook_bucket, moto.endpoint_url, 60
        )
        env["LABCATALOG_CREDENTIALS_SESSION_SECONDS"] = str(SESSION_SECONDS)
        env["LABCATALOG_CREDENTIALS_REFRESH_SECONDS"] = str(REFRESH_SECONDS)
        hub = Hub(folder, env, docker=docker)
        yield hub, platform
    finally:
        if hub is not None:
            hub.stop()
        docker.close()
        provider.stop()
        credentials.stop()
        moto.reset()


KERNEL = """
import json, os, time, boto3
moto = os.environ["LABCATALOG_S3_ENDPOINT_URL"]
session = boto3.session.Session()
sts = session.client("sts", endpoint_url=moto)
s3 = session.client("s3", endpoint_url=moto)
def key():
    return session.get_credentials().get_frozen_credentials().access_key
seen = {"provider": session.get_credentials().method}
seen["first"] = sts.get_caller_identity()["Arn"]
seen["first_key"] = key()
reads = {}
for tier, probe in PROBES.items():
    try:
        s3.get_object(Bucket=LAKE, Key=probe)
        reads[tier] = "allowed"
    except s3.exceptions.ClientError as err:
        reads[tier] = err.response["Error"]["Code"]
seen["reads"] = reads
seen["variables"] = sorted(k for k in os.environ if k.startswith("AWS_") and "REGION" not in k)
time.sleep(WAIT)
seen["later"] = sts.get_caller_identity()["Arn"]
seen["later_key"] = key()
print(json.dumps(seen))
"""


def test_a_kernels_credentials_are_its_users_session_renewed_by_the_hub(lab):
    hub, platform = lab
    alice = logged_in(hub, "alice@example.com")
    alice.start_server()
    code = (
        KERNEL.replace("PROBES", repr(LAKE_PROBE))
        .replace("LAKE", repr(platform.lake_bucket))
        .replace("WAIT", str(SESSION_SECONDS - REFRESH_SECONDS + 2))
    )
    printed = alice.run_code(code, timeout=90)
    seen = json.loads(printed.strip().splitlines()[-1])
    session = "arn:aws:sts::123456789012:assumed-role/labcatalog-pii-data/alice@example.com"
    assert seen["provider"] == "custom-process"  # the server's credential_process, the hub
    assert seen["first"] == session and seen["later"] == session
    # No credentials of the instance or the hub in the kernel's environment: only the config.
    assert seen["variables"] == ["AWS_CONFIG_FILE"], seen["variables"]
    assert seen["reads"] == {"pii": "allowed", "nonpii": "AccessDenied"}, seen["reads"]
    # The hub renewed the session; the same client went on with the new one.
    assert seen["later_key"] != seen["first_key"]
    log = hub.log_path.read_text(errors="replace")
    assert log.count("AWS credentials for alice@example.com: session until") >= 2


def test_bobs_kernel_is_bob(lab):
    hub, _ = lab
    bob = logged_in(hub, "bob@example.com")
    bob.start_server()
    printed = bob.run_code(
        "import boto3, os\n"
        "sts = boto3.client('sts', endpoint_url=os.environ['LABCATALOG_S3_ENDPOINT_URL'])\n"
        "print(sts.get_caller_identity()['Arn'])"
    )
    assert printed.strip().endswith("assumed-role/labcatalog-pii-data/bob@example.com"), printed


def test_only_a_token_that_may_use_the_users_server_gets_credentials(lab):
    hub, _ = lab
    alice = logged_in(hub, "alice@example.com")
    url = f"{hub.url}/hub/api/labcatalog/credentials"
    # A token of alice's with every right she has (her server among them) gets her session...
    answer = alice.api.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    }
    # ...a token of hers scoped to reading her name gets nothing, and no token gets nothing.
    xsrf = alice.browser.cookies.get("_xsrf", path="/hub/")
    narrow = alice.browser.post(
        f"{hub.url}/hub/api/users/{alice.path}/tokens",
        json={"note": "narrow", "scopes": ["read:users:name!user"]},
        headers={"X-XSRFToken": xsrf},
        timeout=10,
    )
    narrow.raise_for_status()
    headers = {"Authorization": f"token {narrow.json()['token']}"}
    assert requests.get(url, headers=headers, timeout=30, allow_redirects=False).status_code == 403
    assert requests.get(url, timeout=30, allow_redirects=False).status_code == 403
