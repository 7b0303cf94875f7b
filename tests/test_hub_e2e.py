"""The hub image's jupyterhub_config.py, run for real: login, tiers, servers, homes, culling.

Set-up (all on 127.0.0.1, started and stopped here): the platform template deployed into the
moto server, whose S3 then enforces the tier roles' IAM policies; a credentials endpoint that
hands out the hub's role credentials as the metadata service does; a local OIDC provider; and a
real JupyterHub with its proxy, running the image's command and config as the image's user
(uid 1000, gid 100) with its state directory laid out as the template's EFS access point makes
it. The shared hub's servers are Fargate tasks, which cannot run here: each user's server is a
container of its own instead (the personal hub's `docker` mode, tests/support/docker_engine.py),
as the image's user, which gets its user's credentials from the hub (tests/test_hub_identity.py).

Each user's home is a folder of the test's (the stand-in Docker host's `homes/<user>`) mounted
at /home/jovyan, as the personal hub mounts the data volume's folder. On the shared hub the same
path is the user's EFS access point on the tier's file system (uid 1000, rooted at
`/home/<user>`), which NFS serves to the task: here it is a local directory, so EFS's own
behaviour (the access point forcing uid 1000, its root being created on first mount, NFS
locking) is not exercised; tests/test_shared_hub_homes.py checks the access point and the
task definition that mount it.

What this proves: OIDC login with groups from the ID token, the tier gate (403 with a message),
admin from the admin group, a size picked from the allowed ones, notebooks saved through the
Contents API land in the user's own home and nobody else's, what a kernel writes and what
`pip install --user` installs stay in the home across a cull and a new server, and the file
browser shows what the kernel wrote (its root is the kernel's working directory), a kernel
reaches its tier's lake prefix with its user's session from the hub (the default chain) and is
refused another tier's, and an idle server is culled.

What it cannot prove: the Fargate or EC2 runtime (the image itself is not built here: no Docker
engine), the ECS spawner (tests/test_ecs_spawner.py covers its calls against moto), IAM
conditions (moto ignores them; the TLS-only policies are removed as in test_access_matrix.py),
and KMS (moto's S3 does not check key permissions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.container import IMAGE_GID, IMAGE_UID
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
    "grace@example.com": ["ds-pii"],
    "mallory@example.com": ["ds-nonpii", "ds-admins"],  # an admin, but of another tier
}
LAKE_PROBE = {TIER: "pii/probe/data.csv", OTHER: "nonpii/probe/data.csv"}


@pytest.fixture(scope="module")
def lab(moto, tmp_path_factory):
    """Platform in moto (IAM enforced), credentials, OIDC provider and the hub; torn down after."""
    moto.reset()
    platform = deploy_platform_for_hub(moto, TIER, LAKE_PROBE.values())
    bucket, lake = platform.notebook_bucket, platform.lake_bucket
    credentials = CredentialsEndpoint()
    credentials.roles[TIER] = platform.hub_credentials
    provider = OidcProvider(USERS, client_id="labcatalog-hub", client_secret="test-secret")
    moto.enforce_iam(True)
    hub = None
    folder = tmp_path_factory.mktemp("hub")
    # The servers reach no instance credentials (the boot script's firewall rule): their
    # kernels get their user's session from the hub (tests/test_hub_identity.py).
    docker = DockerHost(folder / "instance", {})
    try:
        hub = Hub(
            folder,
            oidc_hub_environment(
                TIER, provider, credentials, bucket, moto.endpoint_url, IDLE_MINUTES
            ),
            docker=docker,
        )
        yield hub, docker.homes, lake
    finally:
        if hub is not None:
            hub.stop()
        docker.close()
        provider.stop()
        credentials.stop()
        moto.reset()


def test_a_tier_member_logs_in_and_saves_notebooks_in_their_home(lab):
    hub, homes, _ = lab
    alice = logged_in(hub, "alice@example.com")
    model = alice.model()
    assert model["groups"] == ["ds-pii"] and model["admin"] is False

    alice.start_server(size="2048:8192")
    saved = alice.put_notebook("analysis.ipynb", "print('hello')")
    assert saved.status_code in (200, 201), saved.text

    kept = homes / "alice@example.com" / "analysis.ipynb"
    assert "".join(json.loads(kept.read_text())["cells"][0]["source"]) == "print('hello')"
    assert kept.stat().st_uid == IMAGE_UID  # written by the server as the image's user


def test_a_teammate_does_not_see_anothers_home(lab):
    hub, homes, _ = lab
    frank = logged_in(hub, "frank@example.com")
    frank.start_server()
    assert frank.put_notebook("model.ipynb", "x = 42").status_code in (200, 201)

    bob = logged_in(hub, "bob@example.com")
    assert bob.model()["admin"] is True  # member of the admin group
    bob.start_server()
    assert bob.api.get(bob.server_url("api/contents/model.ipynb"), timeout=30).status_code == 404
    printed = bob.run_code("import os; print(sorted(os.listdir('/home')), os.getcwd())")
    assert printed.split() == ["['jovyan']", "/home/jovyan"], printed
    assert not (homes / "bob@example.com" / "model.ipynb").exists()


def make_wheel(folder: Path, name: str, source: str) -> Path:
    """A pure-Python wheel of one module `name` (version 1.0), as `pip wheel` would build it."""
    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


BEFORE_THE_CULL = """
import os, subprocess, sys
with open("measurements.csv", "w") as f:
    f.write("id,value\\n1,2\\n")
installed = subprocess.run(
    [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "wheels/{wheel}"],
    capture_output=True, text=True,
)
print(os.getcwd(), installed.returncode, installed.stdout[-300:], installed.stderr[-600:])
"""
AFTER_THE_CULL = """
import csv, os, labcatalog_probe
print(os.getcwd(), labcatalog_probe.VALUE, labcatalog_probe.__file__)
print(list(csv.reader(open("measurements.csv"))))
"""


def test_files_packages_and_notebooks_in_the_home_survive_a_cull(lab):
    """What the kernel writes, what `pip install --user` (the image's PIP_USER) installs, and a
    saved notebook are still there in a new server after the idle culler stopped the old one."""
    hub, homes, _ = lab
    grace = logged_in(hub, "grace@example.com")
    home = homes / "grace@example.com"
    grace.start_server()
    wheel = make_wheel(home / "wheels", "labcatalog_probe", "VALUE = 42\n")
    for path in (home / "wheels", wheel):
        os.chown(path, IMAGE_UID, IMAGE_GID)

    printed = grace.run_code(BEFORE_THE_CULL.format(wheel=wheel.name), timeout=120)
    assert printed.startswith("/home/jovyan 0 "), printed
    saved = grace.put_notebook("analysis.ipynb", "import labcatalog_probe")
    assert saved.status_code in (200, 201), saved.text

    wait_for(lambda: "" not in grace.model()["servers"], IDLE_MINUTES * 180, "the cull", 1)
    grace.start_server()
    printed = grace.run_code(AFTER_THE_CULL)
    site = "/home/jovyan/.local/lib/python3.11/site-packages/labcatalog_probe/__init__.py"
    assert printed.split("\n")[0].split() == ["/home/jovyan", "42", site], printed
    assert "[['id', 'value'], ['1', '2']]" in printed, printed
    # The file browser's root is the kernel's working directory: it lists what the kernel wrote.
    listing = grace.api.get(grace.server_url("api/contents/"), timeout=30)
    listing.raise_for_status()
    names = {item["name"] for item in listing.json()["content"]}
    assert {"measurements.csv", "analysis.ipynb", "wheels"} <= names, names
    notebook = grace.api.get(grace.server_url("api/contents/analysis.ipynb"), timeout=30).json()
    assert notebook["content"]["cells"][0]["source"] == "import labcatalog_probe"
    # On the volume, the user's own: nothing of it was kept anywhere else.
    assert (home / ".local" / "lib").is_dir() and (home / "measurements.csv").exists()


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
    hub, _, lake = lab
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
