"""The hub database: upgraded at start after a backup, and never written by two hubs at once.

Proves: a database written by JupyterHub 5 (the previous major; tests/fixtures/hub_database/,
made by the script there with a real JupyterHub 5 from PyPI) is copied to `backups/` on the
state directory and upgraded to this JupyterHub's schema with its users, admin, group and
servers (their state and address) kept; the shipped config starts a real JupyterHub on it and
serves those users; while one hub holds a state directory, a second hub started on it refuses
to start and says why. The deployment configuration side (one hub task, the old one stopped
first) is in tests/test_shared_hub_restart.py.
Does not prove: NFS lock semantics on EFS itself (the lock here is on a local file system; EFS
supports the same POSIX locks over NFSv4.1).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from products.hub_image.labcatalog_hub import database
from tests.support.container import IMAGE_GID, IMAGE_UID
from tests.support.hub_services import (
    HUB_IMAGE,
    Hub,
    efs_access_point_root,
    free_port,
    proxy_command,
)

FIXTURE = Path(__file__).parent / "fixtures" / "hub_database" / "jupyterhub-5.sqlite"
JUPYTERHUB_5_HEAD = "4621fec11365"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/labcatalog-pii_hub1/0123456789abcdef"
LOCAL_HUB = {
    "LABCATALOG_TIER": "pii",
    "LABCATALOG_AUTH": "local",
    "LABCATALOG_ALLOW_LOCAL_AUTH": "1",
    "LABCATALOG_TIER_GROUP": "ds-pii",
    # A mode the image supports whose settings need no AWS and no engine until a server
    # starts; these tests start none.
    "LABCATALOG_SERVER_MODE": "docker",
    "LABCATALOG_DOCKER_IMAGE": "labcatalog/hub:tests",
    "LABCATALOG_DOCKER_NETWORK": "labcatalog",
    "LABCATALOG_DOCKER_HOMES": "/srv/jupyterhub/homes",
    "LABCATALOG_DOCKER_HOMES_ON_HOST": "/srv/labcatalog/homes",
    "LABCATALOG_SERVER_SIZES": "1024:4096,2048:8192",
    "LABCATALOG_IDLE_TIMEOUT_MINUTES": "60",
    "LABCATALOG_NOTEBOOK_BUCKET": "notebooks",
}


def previous_major_state(folder: Path) -> Path:
    """A hub state directory as the shared hub's EFS access point makes it, holding the
    previous major's database, owned like every file the hub (the image's user) writes."""
    state = efs_access_point_root(folder)
    shutil.copyfile(FIXTURE, state / "jupyterhub.sqlite")
    os.chown(state / "jupyterhub.sqlite", IMAGE_UID, IMAGE_GID)
    return state


def test_the_fixture_is_the_previous_major_schema():
    assert database.schema_revision(FIXTURE) == JUPYTERHUB_5_HEAD
    assert database.current_revision() != JUPYTERHUB_5_HEAD, "not an upgrade any more"


def test_a_previous_major_database_is_backed_up_then_upgraded_keeping_its_users(tmp_path):
    from jupyterhub import orm
    from sqlalchemy import create_engine

    state = previous_major_state(tmp_path)
    db_file = state / "jupyterhub.sqlite"
    backup = database.upgrade(db_file, state / database.BACKUPS)

    assert backup is not None and backup.parent == state / database.BACKUPS
    assert backup.name.endswith(f".{JUPYTERHUB_5_HEAD}")
    assert database.schema_revision(backup) == JUPYTERHUB_5_HEAD  # the copy is the old one
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert database.schema_revision(db_file) == database.current_revision()
    orm.check_db_revision(create_engine(f"sqlite:///{db_file}"))  # JupyterHub accepts it now

    session = orm.new_session_factory(f"sqlite:///{db_file}")()
    try:
        users = {user.name: user for user in session.query(orm.User)}
        assert set(users) == {"alice@example.com", "bob@example.com"}
        assert (users["alice@example.com"].admin, users["bob@example.com"].admin) == (False, True)
        assert [g.name for g in users["alice@example.com"].groups] == ["ds-pii"]
        bob = users["bob@example.com"].orm_spawners[""]
        assert bob.state == {"task_arn": TASK_ARN}
        assert (bob.server.ip, bob.server.port) == ("10.0.1.23", 40002)
        assert bob.user_options == {"size": "2048:8192"}
    finally:
        session.close()
    # Current already: nothing is copied or changed at the next start.
    assert database.upgrade(db_file, state / database.BACKUPS) is None
    assert len(list((state / database.BACKUPS).iterdir())) == 1


def test_a_database_of_a_newer_jupyterhub_is_refused_not_touched(tmp_path):
    state = previous_major_state(tmp_path)
    db_file = state / "jupyterhub.sqlite"
    with closing(sqlite3.connect(db_file)) as db:
        db.execute("UPDATE alembic_version SET version_num = 'fffffffffff1'")
        db.commit()
    before = db_file.read_bytes()
    with pytest.raises(SystemExit, match="newer release"):
        database.upgrade(db_file, state / database.BACKUPS)
    assert db_file.read_bytes() == before


def test_the_shipped_hub_starts_on_a_previous_major_database(tmp_path):
    state = previous_major_state(tmp_path)
    hub = Hub(tmp_path, LOCAL_HUB, state=state)
    try:
        secret = (state / "local-auth-secret").read_text().strip()
        bob = hub.user("bob@example.com")  # an admin in the old database
        assert bob.login_form(secret).ok
        bob.make_token()
        response = bob.api.get(f"{hub.url}/hub/api/users", timeout=10)
        response.raise_for_status()
        users = {user["name"]: user for user in response.json()}
        assert users["alice@example.com"]["groups"] == ["ds-pii"]  # never logged in here
        assert users["bob@example.com"]["admin"] is True
    finally:
        hub.stop()
    (backup,) = (state / database.BACKUPS).iterdir()
    assert database.schema_revision(backup) == JUPYTERHUB_5_HEAD


def second_hub(state: Path, folder: Path) -> subprocess.CompletedProcess:
    """The shipped config in a second JupyterHub on `state`, waiting 2 s for its lock."""
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        LOCAL_HUB,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        LABCATALOG_PUBLIC_URL="http://127.0.0.1:1",
        LABCATALOG_STATE_DIR=str(state),
        LABCATALOG_STATE_LOCK_WAIT_SECONDS="2",
    )
    command = [
        sys.executable,
        "-m",
        "jupyterhub",
        "-f",
        str(HUB_IMAGE / "jupyterhub_config.py"),
        "--ip=127.0.0.1",
        f"--port={free_port()}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
        f"--ConfigurableHTTPProxy.command={proxy_command()}",
    ]
    return subprocess.run(
        command, env=env, cwd=folder, capture_output=True, text=True, timeout=90, check=False
    )


def test_a_second_hub_on_the_same_state_refuses_to_start(tmp_path):
    (tmp_path / "first").mkdir()
    hub = Hub(tmp_path / "first", LOCAL_HUB)
    try:
        result = second_hub(hub.state_dir, tmp_path / "second")
        assert result.returncode != 0
        assert "another hub holds" in result.stderr + result.stdout, result.stderr[-2000:]
        assert hub.process.poll() is None, "the first hub keeps running"
        assert hub.user("x").browser.get(f"{hub.url}/hub/health", timeout=5).ok
    finally:
        hub.stop()
    # Once the first hub has gone, its lock went with it: a hub starts on the same state.
    again = Hub(tmp_path / "first", LOCAL_HUB, state=hub.state_dir)
    again.stop()
