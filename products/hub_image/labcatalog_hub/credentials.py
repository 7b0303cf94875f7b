"""The hub brokers each user's AWS credentials: the tier's data role, as that person.

A user's server gets AWS credentials only from its hub. The hub assumes the tier's data role
(`labcatalog-<tier>-data`, made by the platform) with the user as the session's source identity
and with session tags (user, tier), and hands the session's credentials to the user's server at
`/hub/api/labcatalog/credentials`, authenticated by the server's own hub API token. The server
reads them through the AWS SDKs' standard `credential_process` (server_config/aws_credentials.py,
which the server's config names in its AWS config file), so boto3, the AWS CLI and every other
SDK in a kernel or a terminal use them, and refresh them, without being told anything.

Why the hub and not the server: the data role trusts only the tier's hub roles, and only with a
source identity and the two tags, so a person's identity can be set only by the hub that
authenticated them; their server's own role (the shared hub's task role, the personal hub's
instance role behind its firewall rule) reaches no data. A source identity cannot be changed by
any session chained from this one, so what CloudTrail records of every request is the person.

Role chaining (the hub's own credentials are a role's) caps each session at one hour: sessions
are cached per user and a new one is assumed `refresh_seconds` before the cached one expires,
more than the SDKs' own refresh window (botocore asks again from 15 minutes before the end), so
a server asking again always gets a session with time left.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from jupyterhub.apihandlers import APIHandler
from jupyterhub.user import User
from tornado import web

DATA_ROLE = "labcatalog-{tier}-data"  # generator.cfn.names.DATA_ROLE
USER_TAG, TIER_TAG = "labcatalog:user", "labcatalog:tier"  # generator.cfn.names
# Where a server asks, below the hub's API URL (JUPYTERHUB_API_URL).
API_PATH = "labcatalog/credentials"
SESSION_SECONDS = 3600  # the most role chaining allows
REFRESH_SECONDS = 20 * 60  # botocore refreshes from 15 minutes before the end


def source_identity(user: str) -> str:
    """The user's name as STS takes it for a source identity, a session name and a tag value
    (2-64 of letters, digits and `_+=,.@-`): the name itself when it fits, else a readable part
    and a hash of the name, so two names never share one identity."""
    safe = re.sub(r"[^\w+=,.@-]", "-", user, flags=re.ASCII)
    if safe == user and 2 <= len(user) <= 64:
        return user
    return f"{safe[:48]}-{hashlib.sha256(user.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Session:
    """One user's data-role session, in the `credential_process` output format."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def seconds_left(self) -> float:
        return (self.expiration - datetime.now(UTC)).total_seconds()

    def as_process_output(self) -> dict[str, Any]:
        return {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class CredentialBroker:
    """Assumes the tier's data role for a user, caches the session, renews it before its end."""

    def __init__(
        self,
        tier: str,
        *,
        role_arn: str = "",
        session_seconds: int = SESSION_SECONDS,
        refresh_seconds: int = REFRESH_SECONDS,
        sts: Any = None,
    ) -> None:
        self.tier = tier
        self.session_seconds = session_seconds
        self.refresh_seconds = refresh_seconds
        self._role_arn = role_arn
        self._sts = sts
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def sts(self) -> Any:
        if self._sts is None:
            # The hub's own credentials (task or instance role); AWS_ENDPOINT_URL_STS in tests.
            self._sts = boto3.session.Session().client("sts")
        return self._sts

    def role_arn(self) -> str:
        """The tier's data role, in the hub's own account and partition (read from the hub's
        identity once) unless configured."""
        if not self._role_arn:
            arn = self.sts.get_caller_identity()["Arn"]  # arn:PARTITION:sts::ACCOUNT:...
            _, partition, _, _, account, _ = arn.split(":", 5)
            name = DATA_ROLE.format(tier=self.tier)
            self._role_arn = f"arn:{partition}:iam::{account}:role/{name}"
        return self._role_arn

    def assume_role_request(self, user: str) -> dict[str, Any]:
        """AssumeRole for `user`: the person as source identity and session name, and tagged."""
        identity = source_identity(user)
        return {
            "RoleArn": self.role_arn(),
            "RoleSessionName": identity,
            "SourceIdentity": identity,
            "Tags": [{"Key": USER_TAG, "Value": identity}, {"Key": TIER_TAG, "Value": self.tier}],
            "DurationSeconds": self.session_seconds,
        }

    def _assume(self, user: str) -> Session:
        credentials = self.sts.assume_role(**self.assume_role_request(user))["Credentials"]
        return Session(
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
            credentials["Expiration"],
        )

    async def session(self, user: str) -> Session:
        """The user's session: the cached one while it has more than `refresh_seconds` left."""
        lock = self._locks.setdefault(user, asyncio.Lock())
        async with lock:
            cached = self._sessions.get(user)
            if cached is None or cached.seconds_left() <= self.refresh_seconds:
                cached = await asyncio.to_thread(self._assume, user)
                self._sessions[user] = cached
            return cached


class CredentialsHandler(APIHandler):
    """GET: the caller's own data-role session, for a token that may use the caller's server
    (the server's own token has that scope; a token scoped to less gets nothing)."""

    def initialize(self, broker: CredentialBroker) -> None:
        self.broker = broker

    async def get(self) -> None:
        user = self.current_user  # None without a token: refused, never sent to a login page
        if not isinstance(user, User):
            raise web.HTTPError(403, "AWS credentials are for users' servers only")
        if not self.has_scope(f"access:servers!server={user.name}/"):
            raise web.HTTPError(403, "this token may not use your server, so gets no credentials")
        started = time.monotonic()
        try:
            session = await self.broker.session(user.name)
        except (BotoCoreError, ClientError) as err:
            self.log.error("AWS credentials for %s: %s", user.name, err)
            raise web.HTTPError(502, f"the hub could not get your AWS credentials: {err}") from err
        self.log.info(
            "AWS credentials for %s: session until %s (%.2fs)",
            user.name,
            session.expiration.isoformat(),
            time.monotonic() - started,
        )
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(session.as_process_output()))


def handlers(broker: CredentialBroker) -> list[tuple]:
    """The hub's extra handlers (JupyterHub.extra_handlers), served on the hub's API port."""
    return [(f"/api/{API_PATH}", CredentialsHandler, {"broker": broker})]
