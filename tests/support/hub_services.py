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
import hashlib
import json
import os
import secrets
import socket
import subprocess
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

HUB_IMAGE = Path(__file__).parents[2] / "products" / "hub_image"
EXAMPLE = Path(__file__).parents[2] / "portfolio.yaml"


@dataclass(frozen=True)
class HubPlatform:
    notebook_bucket: str
    lake_bucket: str
    role_arn: str
    reader: Any  # an S3 client that may read anything, for the tests' own checks


def deploy_platform_for_hub(moto, tier: str, lake_keys) -> HubPlatform:
    """The example's platform stack in moto, the lake seeded with `lake_keys`, for `tier`'s hub.

    moto ignores IAM conditions and would apply the TLS-only Deny to every request, so the
    notebook bucket policy and the role's `require-tls` policy are removed (as in
    test_access_matrix.py; test_platform_template.py asserts them on the documents). Checks by
    the tests themselves go through an IAM user allowed everything, because IAM enforcement
    also refuses moto's default `testing` keys.
    """
    from generator.model.config import load_portfolio
    from tests.conftest import deploy_platform

    example = load_portfolio(EXAMPLE)
    outputs = deploy_platform(moto, example)
    bucket, lake = outputs["NotebookBucketName"], example.data_lake.bucket
    s3, iam = moto.client("s3"), moto.client("iam")
    s3.delete_bucket_policy(Bucket=bucket)
    s3.create_bucket(Bucket=lake)
    for key in lake_keys:
        s3.put_object(Bucket=lake, Key=key, Body=b"id,value\n1,2\n")
    role = iam.get_role(RoleName=f"labcatalog-{tier}-notebook")["Role"]
    iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="require-tls")
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
    return HubPlatform(bucket, lake, role["Arn"], reader)


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
        "LABCATALOG_SERVER_MODE": "in-hub",
        "LABCATALOG_SERVER_SIZES": "1024:4096,2048:8192",
        "LABCATALOG_DEFAULT_SERVER_SIZE": "1024:4096",
        "LABCATALOG_IDLE_TIMEOUT_MINUTES": str(idle_minutes),
        "LABCATALOG_NOTEBOOK_BUCKET": bucket,
        "LABCATALOG_S3_ENDPOINT_URL": s3_endpoint,
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


# Variables of the tests' own environment that must not reach the hub: static keys would win
# over the container credentials in botocore's chain.
_STATIC_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def proxy_command() -> str:
    """The image's proxy: configurable-http-proxy from its package-lock, installed by tox."""
    command = Path(sys.prefix) / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not command.exists():
        raise FileNotFoundError(
            f"{command} is missing: tox installs it (commands_pre of [testenv:py]) with "
            "npm ci from products/hub_image/proxy/package-lock.json"
        )
    return str(command)


class Hub:
    """The image's jupyterhub_config.py in a real JupyterHub (and proxy) on 127.0.0.1."""

    def __init__(
        self,
        state_dir: Path,
        env: dict[str, str],
        port: int | None = None,
        api_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.env = env
        # The hub API's own port; restart() picks a new one, as a new task has a new address.
        self.api_port = api_port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = state_dir
        self.log_path = state_dir / "hub.log"
        environment = {k: v for k, v in os.environ.items() if k not in _STATIC_AWS}
        # jupyterhub-singleuser and the kernels are this Python's, as in the image.
        environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        environment.update(
            LABCATALOG_PUBLIC_URL=self.url,
            LABCATALOG_STATE_DIR=str(state_dir / "state"),
            AWS_DEFAULT_REGION="us-east-1",
            **env,
        )
        command = [
            sys.executable,
            "-m",
            "jupyterhub",
            "-f",
            str(HUB_IMAGE / "jupyterhub_config.py"),
            # Ports only: on AWS the defaults (8000, 8081, 8001) are free in the task.
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--JupyterHub.hub_bind_url=http://127.0.0.1:{self.api_port}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
            f"--ConfigurableHTTPProxy.command={proxy_command()}",
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=environment, cwd=state_dir, stdout=self._log, stderr=subprocess.STDOUT
        )
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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # JupyterHub stops its servers and proxy on SIGTERM
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def user(self, name: str) -> HubUser:
        return HubUser(self, name)

    def restart(self) -> None:
        """End the hub as its task ends, then start a new hub on the same state and public port.

        The hub and what runs beside it in its task (proxy, idle culler) are killed, with no
        clean shutdown; users' servers, which stand in for their own Fargate tasks, stay. The
        new hub's API gets a new port, as a new task gets a new address.
        """
        import psutil

        hub = psutil.Process(self.process.pid)
        servers = {
            p.pid
            for p in hub.children(recursive=True)
            if any("jupyterhub-singleuser" in part for part in p.cmdline())
        }
        for server in list(servers):
            servers |= {p.pid for p in psutil.Process(server).children(recursive=True)}
        task = [hub, *(p for p in hub.children(recursive=True) if p.pid not in servers)]
        for process in task:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(task, timeout=10)
        self.process.wait()
        self._log.close()
        self.log_path.rename(self.log_path.with_suffix(f".{time.time_ns()}.log"))
        self.__init__(self.state_dir, self.env, port=self.port)


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
