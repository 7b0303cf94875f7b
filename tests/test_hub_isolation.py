"""Users' code never runs with the hub's uid, environment or files: proven from a user's kernel.

The personal hub, as its boot script lays it out and starts it (tests/support/
personal_hub_support.py: the script's own functions, only `docker` stubbed): the data volume's
state and homes folders, the crypt key, the environment file and the secrets `docker run`
passes by name. The hub runs that image command with that environment as the image's user, and
starts each user's server through the Docker socket, as on the instance; the daemon behind the
socket is a stand-in (tests/support/docker_engine.py) that runs each server as the image's
user in its own PID and mount namespaces with only its home mounted, which is what a container
is made of. A logged-in user's kernel then tries to read the hub's environment
(/proc/<hub pid>/environ, any process's environ holding a hub secret), its cookie secret, its
database, the crypt key file, the Docker socket, at the paths the hub and the instance use; each
must fail, and the kernel's own environment must hold none of the hub's secrets. The user's own
work must still succeed: a file written and read back in their home (which persists on the data
volume), and a notebook saved through the Contents API.

What differs from production: the hub signs users in with the test-only local authenticator
instead of the launch's LDAP (the hub's LDAP password stays in its environment all the same);
the server shares the host's network (on the instance it has its own address on the hub's
Docker network); the shared hub, whose servers are Fargate tasks of their own with their own
role and no hub volume, is covered by its template tests (test_shared_hub_template.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.container import IMAGE_GID, IMAGE_UID
from tests.support.hub_services import CredentialsEndpoint, DockerHost, Hub, shared_hub_template
from tests.support.personal_hub_support import (
    boot_script,
    docker_run,
    run_boot_functions,
    tier_settings,
)

BOOT = "prepare_data_dirs; ensure_crypt_key; write_environment; export_crypt_key; start_hub"
LDAP_PASSWORD = "ldap-bind-password-from-secrets-manager"
PROBE = """
import json, os, pathlib
def attempt(path):
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as err:
        return type(err).__name__
    return "READ " + data[:40].decode(errors="replace")
secrets = {secrets!r}
leaks = []
for entry in pathlib.Path("/proc").iterdir():
    if entry.name.isdigit():
        try:
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        leaks += [entry.name for s in secrets if s in environ]
print(json.dumps({{
    "uid": os.getuid(),
    "paths": {{path: attempt(path) for path in {paths!r}}},
    "processes_holding_a_hub_secret": leaks,
    "kernel_env_holds_a_hub_secret": [s for s in secrets if s in repr(dict(os.environ))],
}}))
"""
OWN_WORK = """
import pathlib
home = pathlib.Path.home()
(home / "notes.txt").write_text("my own work")
print(home, (home / "notes.txt").read_text())
"""


@pytest.fixture(scope="module")
def personal_hub(example, moto, tmp_path_factory):
    """The personal hub as its boot script starts it, with a user logged in and their server."""
    folder = tmp_path_factory.mktemp("isolation")
    calls = run_boot_functions(
        boot_script(example, folder),
        folder,
        BOOT,
        {"LABCATALOG_LDAP_BIND_PASSWORD": LDAP_PASSWORD},
        tier_settings(example, example.tiers[0].name),
    )
    booted = docker_run(calls)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="notebooks")
    credentials = CredentialsEndpoint()
    credentials.roles["instance"] = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_session_token": "testing",
    }
    data = folder / "data"
    docker = DockerHost(folder / "instance", credentials.environment("instance"), data / "homes")
    env = {
        **booted.env,
        # Stand-ins: the local authenticator, and S3 in moto.
        "LABCATALOG_AUTH": "local",
        "LABCATALOG_ALLOW_LOCAL_AUTH": "1",
        "LABCATALOG_NOTEBOOK_BUCKET": "notebooks",
        "LABCATALOG_S3_ENDPOINT_URL": moto.endpoint_url,
    }
    hub = Hub(folder, env, state=data / "state", docker=docker)
    try:
        user = hub.user("alice")
        assert user.login_form((data / "state" / "local-auth-secret").read_text()).ok
        user.make_token()
        user.start_server()
        yield hub, user, booted.env, data
    finally:
        hub.stop()
        docker.close()
        credentials.stop()


def test_the_hub_and_the_servers_run_as_the_image_user_never_root(personal_hub):
    hub, user, _, _ = personal_hub
    status = Path(f"/proc/{hub.pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    gid_line = next(line for line in status.splitlines() if line.startswith("Gid:"))
    assert set(uid_line.split()[1:]) == {str(IMAGE_UID)}
    assert set(gid_line.split()[1:]) == {str(IMAGE_GID)}
    ids = user.run_code("import os; print(os.getuid(), os.getgid(), os.getpid())").split()
    assert ids[:2] == [str(IMAGE_UID), str(IMAGE_GID)]
    assert int(ids[2]) < 100, "the kernel sees its own PID namespace, not the host's"


def test_a_kernel_cannot_read_the_hubs_environment_cookie_secret_database_or_secrets(
    personal_hub,
):
    hub, user, hub_env, data = personal_hub
    state = data / "state"
    secrets = [LDAP_PASSWORD, hub_env["JUPYTERHUB_CRYPT_KEY"]]
    secrets.append((state / "jupyterhub_cookie_secret").read_bytes().hex()[:32])
    paths = [
        f"/proc/{hub.pid}/environ",
        "/srv/jupyterhub/state/jupyterhub_cookie_secret",
        "/srv/jupyterhub/state/jupyterhub.sqlite",
        "/srv/jupyterhub/state/local-auth-secret",
        str(state / "jupyterhub_cookie_secret"),
        str(state / "jupyterhub.sqlite"),
        str(data / "crypt-key"),
        "/var/run/docker.sock",
    ]
    for path in paths[1:4]:  # they are there, as the hub sees them
        assert (state / path.rsplit("/", 1)[1]).exists(), path
    printed = user.run_code(PROBE.format(secrets=secrets, paths=paths))
    result = json.loads(printed.strip().splitlines()[-1])
    readable = {p: r for p, r in result["paths"].items() if r.startswith("READ")}
    assert not readable, f"a user's kernel read the hub's files: {readable}"
    assert result["processes_holding_a_hub_secret"] == []
    assert result["kernel_env_holds_a_hub_secret"] == []


def test_the_users_own_work_succeeds(personal_hub):
    _, user, _, data = personal_hub
    printed = user.run_code(OWN_WORK)
    assert printed.strip() == "/home/jovyan my own work", printed
    kept = data / "homes" / "alice" / "notes.txt"  # on the data volume, the user's own
    assert kept.read_text() == "my own work"
    assert (kept.stat().st_uid, kept.parent.stat().st_mode & 0o777) == (IMAGE_UID, 0o700)
    saved = user.put_notebook("analysis.ipynb", "print('mine')")
    assert saved.status_code in (200, 201), saved.text
    assert (data / "homes" / "alice" / "analysis.ipynb").exists()  # the home is the root
    again = user.api.get(user.server_url("api/contents/analysis.ipynb"), timeout=30)
    assert again.json()["content"]["cells"][0]["source"] == "print('mine')"


def test_the_shared_hubs_servers_are_tasks_of_their_own_without_the_hubs_secrets_or_state():
    """On Fargate the separation is the template's: a user's server is its own task, with the
    tier's notebook role (not the hub's), no hub secret and no hub volume; the hub's state is an
    EFS file system only the hub's role may mount. No mode runs servers inside the hub's task."""
    template = shared_hub_template()
    resources = template["Resources"]
    assert "ServerMode" not in template["Parameters"]
    assert "ServersInsideTheHub" not in template["Conditions"]
    assert not any("in-hub" in json.dumps(c) for c in template["Conditions"].values())
    servers = resources["ServerTaskDefinition"]["Properties"]
    hub = resources["HubTaskDefinition"]["Properties"]
    (server,) = servers["ContainerDefinitions"]
    # The only volume is the team's folder on the tier's home file system (the spawner adds
    # the user's own home): never the hub's state.
    (volume,) = servers["Volumes"]
    assert volume["EFSVolumeConfiguration"]["FilesystemId"].endswith("/homes-file-system-id}}")
    assert [m["SourceVolume"] for m in server["MountPoints"]] == [volume["Name"]]
    assert "Secrets" not in server and "Environment" not in server
    assert servers["TaskRoleArn"].endswith("/notebook-role-arn}}")
    # The hub's role is the hub role only, never chosen by a condition, never the notebook role.
    assert isinstance(hub["TaskRoleArn"], str)  # the tier's, read from SSM at launch
    assert hub["TaskRoleArn"].endswith("/hub-task-role-arn}}")
    (statement,) = resources["HubStateFileSystem"]["Properties"]["FileSystemPolicy"]["Statement"]
    assert statement["Principal"]["AWS"] == hub["TaskRoleArn"]
