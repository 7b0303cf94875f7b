"""Who may use a hub: members of its tier's group. Members of the admin group become admins.

The identity provider says which groups a user is in (an OIDC claim, or LDAP group entries);
JupyterHub keeps them as the user's hub groups (`manage_groups`). Anyone outside the tier group
is refused with a 403 that says why, even an admin of another tier: the tier is the data boundary.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import urllib.request

import ldap3
from jupyterhub.auth import Authenticator
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from ldapauthenticator import LDAPAuthenticator
from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from traitlets import Unicode


def group_name(group: str) -> str:
    """A group's name from a name or a DN: `cn=ds-pii,ou=groups,dc=x` -> `ds-pii`."""
    first = ldap3.utils.dn.parse_dn(group)[0] if "=" in group else None
    return first[1] if first else group


class TierGate(Authenticator):
    """Admits members of `tier_group` (and, if set, only `allowed_users`)."""

    tier = Unicode(help="The tier this hub serves, for messages.").tag(config=True)
    tier_group = Unicode(help="Group whose members may log in.").tag(config=True)
    admin_group = Unicode(help="Group whose members are admins.").tag(config=True)

    async def check_allowed(self, username: str, auth_model: dict) -> bool:
        groups = set(auth_model.get("groups") or ())
        if group_name(self.tier_group) not in groups:
            raise web.HTTPError(
                403,
                f"{username} may not use this hub: it serves tier '{self.tier}', which needs "
                f"membership of the group '{group_name(self.tier_group)}'. Ask your identity "
                "team to add you to it, or use a hub of your own tier.",
            )
        if self.allowed_users and username not in self.allowed_users:
            raise web.HTTPError(
                403, f"{username} may not use this hub: it belongs to another data scientist."
            )
        return True

    def is_admin_by_groups(self, groups: list[str]) -> bool:
        return bool(self.admin_group) and group_name(self.admin_group) in groups


class OidcAuthenticator(TierGate, GenericOAuthenticator):
    """OpenID Connect (Amazon Cognito by default): groups come from a claim of the ID token."""

    groups_claim = Unicode("cognito:groups").tag(config=True)

    def get_user_groups(self, auth_state: dict) -> set[str]:
        claims = auth_state.get(self.user_auth_state_key) or {}
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):  # some providers send a single group as a string
            groups = [groups]
        return {group_name(group) for group in groups}


def discover(issuer: str, timeout: float = 10) -> dict:
    """The provider's OpenID configuration (endpoints), read once when the hub starts."""
    url = f"{issuer}/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


class LdapAuthenticator(TierGate, LDAPAuthenticator):
    """LDAP / Active Directory: the user binds, then their groups are looked up by membership."""

    group_search_base = Unicode(help="Where group entries are searched.").tag(config=True)
    group_member_filter = Unicode(
        "(|(member={userdn})(uniqueMember={userdn})(memberUid={uid}))",
        help="Filter for groups the user is a member of (AD, OpenLDAP and posixGroup).",
    ).tag(config=True)

    async def authenticate(self, handler, data):
        model = await super().authenticate(handler, data)
        if model is None:
            return None
        groups = await asyncio.to_thread(self.member_of, model["name"], data["password"])
        model["groups"] = groups
        model["admin"] = self.is_admin_by_groups(groups)
        return model

    def member_of(self, username: str, password: str) -> list[str]:
        """Names (cn) of the groups under `group_search_base` that list this user."""
        for template in self.bind_dn_template:
            userdn = template.format(username=escape_rdn(username))
            if self.lookup_dn_search_user:
                conn = self.get_connection(
                    self.lookup_dn_search_user, self.lookup_dn_search_password
                )
            else:
                conn = self.get_connection(userdn, password)
            if conn is None:
                continue
            conn.search(
                search_base=self.group_search_base,
                search_scope=ldap3.SUBTREE,
                search_filter=self.group_member_filter.format(
                    userdn=escape_filter_chars(userdn), uid=escape_filter_chars(username)
                ),
                attributes=["cn"],
            )
            found = sorted({str(entry.cn) for entry in conn.entries if entry.cn})
            conn.unbind()
            if found:
                return found
        return []


class LocalTestAuthenticator(TierGate):
    """Tests only: any name with the generated shared secret, as a member of the tier group."""

    secret = Unicode(help="The shared secret, generated at start-up.").tag(config=True)

    async def authenticate(self, handler, data):
        if not hmac.compare_digest(data.get("password", "").encode(), self.secret.encode()):
            return None
        return {"name": data["username"], "groups": [group_name(self.tier_group)]}
