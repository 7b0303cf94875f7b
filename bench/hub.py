"""Benchmark: the hub image's JupyterHub on this machine, in its local test setup.

Run with: .tox/py/bin/python bench/hub.py   (after `tox -e py`, which installs the hub's
packages and its proxy). The same set-up as tests/test_hub_e2e.py: the platform in a moto
server with IAM enforcement, a local OIDC provider and credentials endpoint, a real JupyterHub
run as the image's user, each user's server in a container of its own (the stand-ins of
tests/support/container.py and docker_engine.py; run as root, which they need to make
namespaces). For each of RUNS users it times, and prints the medians of:
- login -> ready server: the OIDC login, then starting a server until the hub reports it ready;
- first save: the first notebook saved through the Contents API into S3;
- culling delay: from that save (the last activity) until the idle culler removed the server,
  with an idle timeout of IDLE_MINUTES.
Then, with every user's server running, it restarts the hub RESTARTS times (tests' Hub.restart:
the hub killed as its task ends, a new one on the same state with a new API address, servers
reaching it through a stand-in for its Cloud Map name) and prints the median of:
- hub restart -> every running server reachable again: from the kill until each user, with a
  token of the new hub, gets an answer from their own running server through the new proxy.
Fargate start-up (image pull, ENI) is not in these figures: it is AWS's and takes minutes.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import moto_cfn
from tests.support.hub_services import (
    CredentialsEndpoint,
    DockerHost,
    Hub,
    OidcProvider,
    deploy_platform_for_hub,
    oidc_hub_environment,
    wait_for,
)
from tests.support.moto_server import assume_role_credentials, start_moto_server

RUNS = 5
IDLE_MINUTES = 0.1  # 6 s
TIER = "pii"


def one_user(hub: Hub, name: str) -> tuple[float, float, float]:
    started = time.monotonic()
    user = hub.user(name)
    assert user.login_oidc().ok
    user.make_token()
    user.start_server()
    ready = time.monotonic()
    saved = user.put_notebook("home/first.ipynb", "1 + 1")
    assert saved.status_code in (200, 201), saved.text
    first_save = time.monotonic()
    wait_for(lambda: "" not in user.model()["servers"], 120, "the cull", every=0.25)
    culled = time.monotonic()
    return ready - started, first_save - ready, culled - first_save


def main() -> None:
    moto_cfn.install()
    moto = start_moto_server()
    users = {f"user{n}@example.com": [f"ds-{TIER}"] for n in range(RUNS)}
    provider = OidcProvider(users, client_id="bench-hub", client_secret="bench-secret")
    credentials = CredentialsEndpoint()
    try:
        platform = deploy_platform_for_hub(moto, TIER, [])
        credentials.roles[TIER] = assume_role_credentials(moto, platform.role_arn)
        moto.enforce_iam(True)
        env = oidc_hub_environment(
            TIER, provider, credentials, platform.notebook_bucket, moto.endpoint_url, IDLE_MINUTES
        )
        with tempfile.TemporaryDirectory() as folder:
            docker = DockerHost(Path(folder) / "instance", credentials.environment(TIER))
            try:
                hub = Hub(Path(folder), env, docker=docker)
                try:
                    runs = [one_user(hub, name) for name in users]
                finally:
                    hub.stop()
            finally:
                docker.close()
        restarts = restart_times(env, users, credentials)
    finally:
        provider.stop()
        credentials.stop()
        moto.stop()
    login, save, cull = (statistics.median(column) for column in zip(*runs, strict=True))
    print(f"medians of {RUNS} users, idle timeout {IDLE_MINUTES * 60:.0f} s")
    print(f"login -> ready server  {login:6.2f} s")
    print(f"first save             {save:6.2f} s")
    print(f"culling delay          {cull:6.2f} s")
    print(
        f"hub restart -> every running server reachable again  "
        f"{statistics.median(restarts):6.2f} s (median of {RESTARTS} restarts, {RUNS} servers)"
    )


RESTARTS = 5


def restart_times(env: dict[str, str], users: dict[str, list[str]], credentials) -> list[float]:
    """Seconds from each hub restart until every user's running server answers again."""
    from tests.support.hub_services import free_port
    from tests.support.stable_name import StableName

    hub, first_api_port = None, free_port()
    name = StableName(lambda: hub.api_port if hub else first_api_port)
    env = {**env, "LABCATALOG_IDLE_TIMEOUT_MINUTES": "60", "LABCATALOG_HUB_CONNECT_URL": name.url}
    times = []
    with tempfile.TemporaryDirectory() as folder:
        docker = DockerHost(Path(folder) / "instance", credentials.environment(TIER))
        hub = Hub(Path(folder), env, docker=docker, api_port=first_api_port)
        try:
            people = [hub.user(user) for user in users]
            for person in people:
                assert person.login_oidc().ok
                person.make_token()
                person.start_server()
            for _ in range(RESTARTS):
                started = time.monotonic()
                hub.restart()
                for person in people:
                    # A new token: the server can only check it by asking the new hub.
                    person.make_token()  # restart() returns once the new hub answers
                    wait_for(
                        lambda p=person: p.api.get(p.server_url("api/status"), timeout=5).ok,
                        60,
                        f"{person.name}'s server through the new hub",
                        every=0.1,
                    )
                times.append(time.monotonic() - started)
        finally:
            hub.stop()
            docker.close()
            name.stop()
    return times


if __name__ == "__main__":
    main()
