"""LDAP login, and the test-only local mode, through the image's jupyterhub_config.py.

LDAP: a directory served by ldaptor (tests/support/ldap_server.py, a pure-Python server from PyPI,
so
the default `tox` run needs no apt packages). Proves: a user binds with their DN template, their
groups are found by membership under the group base and become hub groups, the admin group
makes an admin, and someone outside the tier group gets a 403 that says why. Does not prove:
TLS to a real directory (ldaps:// or StartTLS; the test server is plain LDAP on 127.0.0.1) nor
Active Directory's own schema.
S3 and servers are covered by test_hub_e2e.py; here a login starts its server (the hub's
default) in a stand-in container, as the image's user, like the hub itself.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.hub_services import DockerHost, Hub, wait_for

PEOPLE, GROUPS = "ou=people,dc=example,dc=com", "ou=groups,dc=example,dc=com"
DIRECTORY = f"""\
dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: alice-secret

dn: uid=mallory,{PEOPLE}
objectClass: inetOrgPerson
uid: mallory
cn: Mallory
sn: M
userPassword: mallory-secret

dn: cn=ds-pii,{GROUPS}
objectClass: groupOfNames
cn: ds-pii
member: uid=alice,{PEOPLE}

dn: cn=ds-admins,{GROUPS}
objectClass: groupOfNames
cn: ds-admins
member: uid=alice,{PEOPLE}
member: uid=mallory,{PEOPLE}

"""

HUB_ENV = {
    "LABCATALOG_TIER": "pii",
    "LABCATALOG_SERVER_SIZES": "1024:4096",
    "LABCATALOG_IDLE_TIMEOUT_MINUTES": "60",
    "LABCATALOG_NOTEBOOK_BUCKET": "not-used-here",
    "LABCATALOG_TIER_GROUP": f"cn=ds-pii,{GROUPS}",  # a DN works as well as a name
    "LABCATALOG_ADMIN_GROUP": "ds-admins",
}


@pytest.fixture(scope="module")
def ldap_hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ldap")
    (folder / "directory.ldif").write_text(DIRECTORY)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ldap_server", str(folder / "directory.ldif")],
        stdout=subprocess.PIPE,
        text=True,
    )
    docker = DockerHost(folder / "instance", {})
    try:
        port = int(server.stdout.readline())
        hub = Hub(
            folder,
            docker=docker,
            env={
                **HUB_ENV,
                "LABCATALOG_AUTH": "ldap",
                "LABCATALOG_LDAP_URL": f"ldap://127.0.0.1:{port}",
                "LABCATALOG_LDAP_BIND_DN_TEMPLATE": f"uid={{username}},{PEOPLE}",
                "LABCATALOG_LDAP_GROUP_SEARCH_BASE": GROUPS,
            },
        )
        yield hub
        hub.stop()
    finally:
        docker.close()
        server.terminate()
        server.wait(timeout=10)


def test_an_ldap_member_of_the_tier_group_logs_in_with_their_groups(ldap_hub):
    alice = ldap_hub.user("alice")
    response = alice.login_form("alice-secret")
    assert response.ok, response.text[:500]
    alice.make_token()
    model = alice.model()
    assert sorted(model["groups"]) == ["ds-admins", "ds-pii"]
    assert model["admin"] is True


def test_an_ldap_user_outside_the_tier_group_is_refused_with_a_message(ldap_hub):
    response = ldap_hub.user("mallory").login_form("mallory-secret")
    assert response.status_code == 403
    assert "ds-pii" in response.text


def test_a_wrong_ldap_password_is_refused(ldap_hub):
    response = ldap_hub.user("alice").login_form("wrong")
    assert response.status_code == 403
    assert "Invalid username or password" in response.text


@pytest.fixture
def docker(tmp_path):
    host = DockerHost(tmp_path / "instance", {})
    yield host
    host.close()


def test_local_mode_is_refused_unless_explicitly_enabled(tmp_path, docker):
    with pytest.raises(RuntimeError, match="LABCATALOG_ALLOW_LOCAL_AUTH=1"):
        Hub(tmp_path, {**HUB_ENV, "LABCATALOG_AUTH": "local"}, docker=docker)


def test_local_mode_logs_in_with_the_generated_secret_only(tmp_path, docker):
    env = {**HUB_ENV, "LABCATALOG_AUTH": "local", "LABCATALOG_ALLOW_LOCAL_AUTH": "1"}
    hub = Hub(tmp_path, env, docker=docker)
    try:
        secret_file = hub.state_dir / "local-auth-secret"
        assert secret_file.stat().st_mode & 0o077 == 0  # readable by the hub's user only
        assert hub.user("tester").login_form("guess").status_code == 403
        tester = hub.user("tester")
        assert tester.login_form(secret_file.read_text()).ok
        tester.make_token()
        wait_for(lambda: tester.model()["groups"] == ["ds-pii"], 5, "the tier group")
    finally:
        hub.stop()


def test_a_personal_hub_admits_only_its_owner_and_collaborators(tmp_path, docker):
    """The personal hub's gate (LABCATALOG_ALLOWED_USERS, from the launch's owner and
    collaborators) on a live hub: a tier member who is not listed is refused with a message."""
    env = {
        **HUB_ENV,
        "LABCATALOG_AUTH": "local",
        "LABCATALOG_ALLOW_LOCAL_AUTH": "1",
        "LABCATALOG_ALLOWED_USERS": "owner,collaborator",
    }
    hub = Hub(tmp_path, env, docker=docker)
    try:
        secret = (hub.state_dir / "local-auth-secret").read_text()
        for name in ("owner", "collaborator"):
            user = hub.user(name)
            assert user.login_form(secret).ok, name
            user.make_token()
            # A tier member, as the stranger is: only the list tells them apart.
            wait_for(lambda u=user: u.model()["groups"] == ["ds-pii"], 5, f"{name}'s tier group")
        refused = hub.user("stranger").login_form(secret)
        assert refused.status_code == 403
        assert "belongs to another data scientist" in refused.text
    finally:
        hub.stop()
