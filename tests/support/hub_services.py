"""Local stand-ins for what a hub talks to on AWS, each on 127.0.0.1, plus a hub runner.

- `OidcProvider`: a small OpenID Connect provider (authorization code flow with PKCE, RS256 ID
  tokens with a groups claim, discovery, JWKS), written here with Flask and joserfc, which the
  suite already pins. Why not `oidc-provider-mock` from PyPI: it needs Python >= 3.12 and this
  project's machines run 3.11; a provider in the tests also lets them choose each user's groups.
- `CredentialsEndpoint`: serves a role's temporary credentials the way the ECS agent does for
  `AWS_CONTAINER_CREDENTIALS_FULL_URI` (with an authorization token), so the hub and its
  servers find them through botocore's default chain, exactly as on Fargate.
- `Hub`: runs the image's own jupyterhub_config.py in a real JupyterHub with its proxy, and a
  `HubUser` that logs in through a browser-like HTTP session and uses the REST APIs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlparse

import requests
from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from tests.support.container import IMAGE_GID, IMAGE_UID, Container, image_command

HUB_IMAGE = Path(__file__).parents[2] / "products" / "hub_image"
EXAMPLE = Path(__file__).parents[2] / "portfolio.yaml"


@dataclass(frozen=True)
class HubPlatform:
    notebook_bucket: str
    lake_bucket: str
    role_arn: str  # the hub's own role: the tier's personal-hub instance role (it brokers)
    hub_credentials: dict[str, str]  # a session of it, which the data role's trust names
    reader: Any  # an S3 client that may read anything, for the tests' own checks


def deploy_platform_for_hub(moto, tier: str, lake_keys) -> HubPlatform:
    """The example's platform stack in moto, the lake seeded with `lake_keys`, for `tier`'s hub.

    The hub's role is the tier's personal-hub instance role, which brokers the tier's data role
    for its users (the servers here are containers beside the hub, as on a personal hub).
    moto ignores IAM conditions and would apply the TLS-only Deny to every request, so the
    notebook bucket policy and the data role's `require-tls` policy are removed (as in
    test_access_matrix.py; test_platform_template.py asserts them on the documents). Checks by
    the tests themselves go through an IAM user allowed everything, because IAM enforcement
    also refuses moto's default `testing` keys.
    """
    from generator.engine.registry import load_portfolio
    from tests.conftest import deploy_platform
    from tests.support.moto_server import assume_role_credentials

    example = load_portfolio(EXAMPLE)
    outputs = deploy_platform(moto, example)
    bucket, lake = outputs["NotebookBucketName"], example.data_lake.bucket
    s3, iam = moto.client("s3"), moto.client("iam")
    s3.delete_bucket_policy(Bucket=bucket)
    s3.create_bucket(Bucket=lake)
    for key in lake_keys:
        s3.put_object(Bucket=lake, Key=key, Body=b"id,value\n1,2\n")
    iam.delete_role_policy(RoleName=f"labcatalog-{tier}-data", PolicyName="require-tls")
    role = iam.get_role(RoleName=f"labcatalog-{tier}-personal-hub")["Role"]
    iam.create_user(UserName="test-reader")
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName="test-reader",
        PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    key = iam.create_access_key(UserName="test-reader")["AccessKey"]
    reader = moto.client(
        "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    hub_credentials = assume_role_credentials(moto, role["Arn"], HUB_SESSION)
    trust_the_hubs_session(moto, tier, role["Arn"])
    return HubPlatform(bucket, lake, role["Arn"], hub_credentials, reader)


HUB_SESSION = "i-0123456789abcdef0"  # the instance's id names its role's sessions


def trust_the_hubs_session(moto, tier: str, hub_role_arn: str) -> None:
    """moto checks a trust policy's principal against the caller's session ARN, never its
    role's, and so refuses every role chaining: the data role's trust names the hub's session
    here instead (tests/test_identity.py evaluates the real trust, with its conditions)."""
    account, role = hub_role_arn.split(":")[4], hub_role_arn.rsplit("/", 1)[1]
    caller = f"arn:aws:sts::{account}:assumed-role/{role}/{HUB_SESSION}"
    statement = {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "sts:AssumeRole"}
    moto.client("iam").update_assume_role_policy(
        RoleName=f"labcatalog-{tier}-data",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


class LocalServer:
    """A WSGI app served from a daemon thread on 127.0.0.1 and an OS-chosen port."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


class OidcProvider(LocalServer):
    """Users and their groups are given by the test; a user "signs in" by posting a form."""

    def __init__(self, users: dict[str, list[str]], client_id: str, client_secret: str) -> None:
        self.users = users
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.codes: dict[str, dict] = {}
        app = Flask("oidc-provider")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/jwks", view_func=self.jwks)
        app.add_url_rule("/authorize", view_func=self.authorize, methods=["GET", "POST"])
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        super().__init__(app)

    def discovery(self):
        return jsonify(
            issuer=self.url,
            authorization_endpoint=f"{self.url}/authorize",
            token_endpoint=f"{self.url}/token",
            jwks_uri=f"{self.url}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    def jwks(self):
        return jsonify(keys=[self.key.as_dict(private=False)])

    def authorize(self):
        args = request.values
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            abort(400, "unknown client or response type")
        if request.method == "GET":  # the sign-in page: a form that names the user
            hidden = "".join(
                f'<input type="hidden" name="{k}" value="{v}">' for k, v in args.items()
            )
            return f'<form method="post">{hidden}<input name="username"></form>'
        username = args.get("username", "")
        if username not in self.users:
            abort(403, "no such user")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "username": username,
            "redirect_uri": args["redirect_uri"],
            "challenge": args.get("code_challenge"),
            "nonce": args.get("nonce"),
        }
        query = urlencode({"code": code, "state": args.get("state", "")})
        return redirect(f"{args['redirect_uri']}?{query}")

    def _client_authenticated(self) -> bool:
        auth = request.authorization
        if auth is not None:
            return (auth.username, auth.password) == (self.client_id, self.client_secret)
        form = request.form
        return (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def token(self):
        form = request.form
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if not self._client_authenticated():
            return jsonify(error="invalid_client"), 401
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return jsonify(error="invalid_grant"), 400
        if grant["challenge"]:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
        username = grant["username"]
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)),
            "aud": self.client_id,
            "iat": now,
            "exp": now + 600,
            "email": username,
            "cognito:groups": self.users[username],
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return jsonify(
            access_token=secrets.token_urlsafe(24),
            id_token=id_token,
            token_type="Bearer",
            expires_in=600,
        )


class CredentialsEndpoint(LocalServer):
    """Role credentials at `/<name>`, as the ECS agent serves a task's role credentials."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(16)
        self.roles: dict[str, dict[str, str]] = {}
        app = Flask("credentials")
        app.add_url_rule("/<name>", view_func=self.credentials)
        super().__init__(app)

    def credentials(self, name: str):
        if request.headers.get("Authorization") != self.token:
            abort(401)
        creds = self.roles.get(name) or abort(404)
        expiration = datetime.now(UTC) + timedelta(hours=1)
        return jsonify(
            AccessKeyId=creds["aws_access_key_id"],
            SecretAccessKey=creds["aws_secret_access_key"],
            Token=creds["aws_session_token"],
            Expiration=expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def environment(self, name: str) -> dict[str, str]:
        """What ECS puts in a container's environment for its role credentials."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{self.url}/{name}",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }


def oidc_hub_environment(
    tier: str,
    provider: OidcProvider,
    credentials: CredentialsEndpoint,
    bucket: str,
    s3_endpoint: str,
    idle_minutes: float,
) -> dict[str, str]:
    """A tier hub's environment as the shared-hub template sets it, pointed at local services."""
    return {
        "LABCATALOG_TIER": tier,
        "LABCATALOG_AUTH": "oidc",
        "LABCATALOG_OIDC_ISSUER": provider.url,
        "LABCATALOG_OIDC_CLIENT_ID": provider.client_id,
        "LABCATALOG_OIDC_CLIENT_SECRET": provider.client_secret,
        "LABCATALOG_OIDC_GROUPS_CLAIM": "cognito:groups",
        "LABCATALOG_OIDC_USERNAME_CLAIM": "email",
        "LABCATALOG_TIER_GROUP": f"ds-{tier}",
        "LABCATALOG_ADMIN_GROUP": "ds-admins",
        "LABCATALOG_SERVER_SIZES": "1024:4096,2048:8192",
        "LABCATALOG_DEFAULT_SERVER_SIZE": "1024:4096",
        "LABCATALOG_IDLE_TIMEOUT_MINUTES": str(idle_minutes),
        "LABCATALOG_NOTEBOOK_BUCKET": bucket,
        "LABCATALOG_S3_ENDPOINT_URL": s3_endpoint,
        # The hub assumes its users' data-role sessions from the same moto server.
        "AWS_ENDPOINT_URL_STS": s3_endpoint,
        **credentials.environment(tier),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """Call `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.ConnectionError):
            result = check()
            if result:
                return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def proxy_command() -> str:
    """The image's proxy: configurable-http-proxy from its package-lock, installed by tox."""
    command = Path(sys.prefix) / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not command.exists():
        raise FileNotFoundError(
            f"{command} is missing: tox installs it (commands_pre of [testenv:py]) with "
            "npm ci from products/hub_image/proxy/package-lock.json"
        )
    return str(command)


STATE_DIR = "/srv/jupyterhub/state"  # where the shared-hub task mounts its EFS access point
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_SOCKET_GID = 990  # the instance's `docker` group: any group but the image user's own
HOMES_IN_HUB = "/srv/jupyterhub/homes"  # userdata.sh: the data volume's homes/, in the hub


class DockerHost:
    """A personal hub's instance as its hub container sees it: the Docker daemon's socket (a
    stand-in, tests/support/docker_engine.py) and the folder of users' homes.

    The shared hub's servers are Fargate tasks, which cannot run here (moto's ECS records tasks
    and runs nothing): its end-to-end tests run the same hub with these containers instead.
    """

    def __init__(self, folder: Path, metadata_env: dict[str, str], homes: Path | None = None):
        from tests.support.docker_engine import DockerEngine

        folder.mkdir(parents=True, exist_ok=True)
        if homes is None:
            homes = folder / "homes"
            homes.mkdir()
            os.chown(homes, IMAGE_UID, IMAGE_GID)
        self.homes = homes
        self.engine = DockerEngine(folder, DOCKER_SOCKET_GID, metadata_env)

    def hub_environment(self) -> dict[str, str]:
        return {
            "LABCATALOG_SERVER_MODE": "docker",
            "LABCATALOG_DOCKER_IMAGE": "labcatalog/hub:tests",
            "LABCATALOG_DOCKER_NETWORK": "labcatalog",
            "LABCATALOG_DOCKER_HOMES": HOMES_IN_HUB,
            "LABCATALOG_DOCKER_HOMES_ON_HOST": str(self.homes),
        }

    def hub_mounts(self) -> dict[str, Path]:
        return {DOCKER_SOCKET: self.engine.socket, HOMES_IN_HUB: self.homes}

    def close(self) -> None:
        self.engine.close()


@functools.cache
def shared_hub_template(tier: str = "pii") -> dict:
    """The example's shared-hub template for `tier`, as built (its tier bound; the values
    production uses come from it)."""
    from generator.engine import build as builder
    from generator.engine.registry import load_portfolio

    portfolio = load_portfolio(EXAMPLE)
    key = builder.product_stack("shared-hub", tier)
    (stack,) = [s for s in builder.stacks(portfolio) if s.key == key]
    return builder.template_body(stack.build(portfolio), stack)


def efs_access_point_root(folder: Path) -> Path:
    """A directory laid out as the shared hub's EFS access point creates its root directory.

    The owner and mode come from the built template's access point (CreationInfo). On EFS every
    file operation through the access point is also made as its PosixUser; here the hub's own
    uid and gid are used, so its files get the image's group (100) instead of the access
    point's: the owner, and with it every permission check that matters, is the same.
    """
    resources = shared_hub_template()["Resources"]
    (access_point,) = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::EFS::AccessPoint"
    ]
    creation = access_point["RootDirectory"]["CreationInfo"]
    root = folder / "efs" / access_point["RootDirectory"]["Path"].strip("/")
    root.mkdir(parents=True)
    os.chown(root, int(creation["OwnerUid"]), int(creation["OwnerGid"]))
    root.chmod(int(creation["Permissions"], 8))
    return root


class Hub:
    """The image's CMD in a stand-in container (tests/support/container.py) on 127.0.0.1.

    The hub runs as the image's user (uid 1000, gid 100), never root, with its state directory
    mounted where production mounts it: by default a directory laid out as the shared hub's EFS
    access point makes it; the personal hub's test passes the directory its boot script made.
    Only the ports differ from the image's command: on AWS the defaults are free in the task.
    """

    def __init__(
        self,
        folder: Path,
        env: dict[str, str],
        *,
        state: Path | None = None,
        docker: DockerHost | None = None,
        mounts: dict[str, Path] | None = None,
        groups: tuple[int, ...] = (),
        port: int | None = None,
        api_port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.env = env
        self.docker = docker
        self._options = {
            "state": state,
            "docker": docker,
            "mounts": mounts,
            "groups": groups,
            "args": args,
        }
        # The hub API's own port; restart() picks a new one, as a new task has a new address.
        self.api_port = api_port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.state_dir = state if state is not None else efs_access_point_root(folder)
        self.log_path = folder / "hub.log"
        hub_api = f"http://127.0.0.1:{self.api_port}"
        environment = {
            "LABCATALOG_PUBLIC_URL": self.url,
            "LABCATALOG_STATE_DIR": STATE_DIR,
            "AWS_DEFAULT_REGION": "us-east-1",
            **(docker.hub_environment() if docker else {}),
            **env,
        }
        mounts = {
            STATE_DIR: self.state_dir,
            **(docker.hub_mounts() if docker else {}),
            **(mounts or {}),
        }
        if docker:
            groups = (*groups, DOCKER_SOCKET_GID)
        proxy_command()  # says how to install the proxy when it is missing
        # Servers call the hub's API where the image's config says (LABCATALOG_HUB_CONNECT_URL,
        # the shared hub's stable name) or, when the test gives none, at this hub's own port.
        connect = (
            []
            if "LABCATALOG_HUB_CONNECT_URL" in env
            else [f"--JupyterHub.hub_connect_url={hub_api}"]
        )
        command = [
            *image_command(),
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--JupyterHub.hub_bind_url={hub_api}",
            *connect,
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
            # The servers' containers share the tests' network: each needs a port of its own.
            "--DockerSpawner.server_port=0",
            *args,  # more command-line configuration (the benchmarks' stand-in servers)
        ]
        self.container = Container(mounts=mounts, env=environment, groups=groups)
        self._log = self.log_path.open("wb")
        self.process = self.container.start(command, self._log)
        try:
            wait_for(self._healthy, 60, f"the hub to start (log: {self.log_path})")
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the hub exited:\n{self.log()}")
        return requests.get(f"{self.url}/hub/health", timeout=2).ok

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def server_stops_by(self, client: str, user: HubUser) -> list[str]:
        """The hub's own record (its access log) of `client` stopping `user`'s server: each
        successful `DELETE /hub/api/users/<user>/server` that the hub logged as made by
        `client` (a service's or a user's name)."""
        paths = "|".join(re.escape(p) for p in {user.path, quote(user.name, safe="")})
        stop = re.compile(
            rf"\b20[24] DELETE /hub/api/users/(?:{paths})/server(?:\?\S*)? "
            rf"\({re.escape(client)}@"
        )
        return [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if stop.search(line)
        ]

    def stop(self) -> None:
        self.container.stop()  # JupyterHub stops its servers and proxy on SIGTERM
        self._log.close()

    def user(self, name: str) -> HubUser:
        return HubUser(self, name)

    @property
    def pid(self) -> int:
        """The hub's host PID (PID 1 of its container's namespace)."""
        return self.container.main_pid()

    def restart(self, env: dict[str, str] | None = None) -> None:
        """End the hub as its task ends, then start a new hub on the same state and public port.

        The hub's container is killed, with no clean shutdown, and with it everything that runs
        beside the hub in its task (proxy, idle culler): they are in its PID namespace. Users'
        servers, containers of their own (as Fargate tasks are), stay. The new hub's API gets a
        new port, as a new task gets a new address; `env` replaces the hub's environment, as an
        update of the product gives the new task a new task definition.
        """
        self.container.kill()
        self._log.close()
        self.log_path.rename(self.log_path.with_suffix(f".{time.time_ns()}.log"))
        options = {**self._options, "state": self.state_dir}
        self.__init__(self.folder, self.env if env is None else env, port=self.port, **options)


def logged_in(hub: Hub, name: str) -> HubUser:
    """`name` signed in through the OIDC provider, with an API token of their own."""
    user = hub.user(name)
    response = user.login_oidc()
    assert response.ok, f"{response.status_code}: {response.text[:500]}\n{hub.log()}"
    user.make_token()
    return user


class HubUser:
    """One person's browser session: logs in, then uses a hub API token."""

    def __init__(self, hub: Hub, name: str) -> None:
        self.hub, self.name = hub, name
        self.path = quote(name, safe="@~")  # as JupyterHub's url_escape_path
        self.browser = requests.Session()
        self.browser.trust_env = False  # never a proxy: everything is on 127.0.0.1
        self.api = requests.Session()
        self.api.trust_env = False

    def login_oidc(self) -> requests.Response:
        """Follow the OIDC code flow; returns the last response (the hub's page or its 403)."""
        page = self.browser.get(f"{self.hub.url}/hub/oauth_login", timeout=10)
        page.raise_for_status()
        assert page.url.split("?")[0].endswith("/authorize"), page.url
        form = dict(parse_qsl(urlparse(page.url).query))
        return self.browser.post(
            page.url.split("?")[0], data={**form, "username": self.name}, timeout=30
        )

    def login_form(self, password: str) -> requests.Response:
        """The hub's own login form (LDAP and local modes)."""
        self.browser.get(f"{self.hub.url}/hub/login", timeout=10).raise_for_status()
        xsrf = self.browser.cookies.get("_xsrf", path="/hub/")
        return self.browser.post(
            f"{self.hub.url}/hub/login",
            data={"username": self.name, "password": password, "_xsrf": xsrf},
            timeout=30,
        )

    def make_token(self) -> None:
        """An API token of this user, made with the browser's login cookie."""
        self.browser.get(f"{self.hub.url}/hub/home", timeout=10).raise_for_status()
        xsrf = self.browser.cookies.get("_xsrf", path="/hub/")
        response = self.browser.post(
            f"{self.hub.url}/hub/api/users/{self.path}/tokens",
            json={"note": "tests"},
            headers={"X-XSRFToken": xsrf},
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        self.api.headers["Authorization"] = f"token {self.token}"

    def model(self) -> dict:
        response = self.api.get(f"{self.hub.url}/hub/api/users/{self.path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def start_server(self, size: str | None = None, timeout: float = 90) -> None:
        options = {"size": size} if size else {}
        response = self.api.post(
            f"{self.hub.url}/hub/api/users/{self.path}/server", json=options, timeout=30
        )
        running = response.status_code == 400 and "already running" in response.text
        assert response.status_code in (201, 202) or running, response.text
        wait_for(
            lambda: self.model()["servers"].get("", {}).get("ready"),
            timeout,
            f"{self.name}'s server to be ready",
        )

    def server_url(self, path: str) -> str:
        return f"{self.hub.url}/user/{self.path}/{path.lstrip('/')}"

    def put_notebook(self, path: str, source: str) -> requests.Response:
        notebook = {
            "cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": []}],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        for cell in notebook["cells"]:
            cell["execution_count"] = None
        return self.api.put(
            self.server_url(f"api/contents/{path}"),
            json={"type": "notebook", "content": notebook},
            timeout=30,
        )

    def run_code(self, code: str, timeout: float = 60) -> str:
        """Run `code` in a new Python kernel of this user's server; return what it printed."""
        from tests.support.kernel_client import execute

        response = self.api.post(self.server_url("api/kernels"), json={"name": "python3"})
        response.raise_for_status()
        kernel = response.json()["id"]
        try:
            url = self.server_url(f"api/kernels/{kernel}/channels").replace("http", "ws", 1)
            return execute(url, {"Authorization": f"token {self.token}"}, code, timeout)
        finally:
            self.api.delete(self.server_url(f"api/kernels/{kernel}"), timeout=10)
