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

Run with `bench/hub.py load [USERS]` (default 50) for the hub's own CPU and memory under load,
the figures the shared hub's default task size (HubSize) is chosen from: see `load` below.
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


def _hub_processes(hub: Hub) -> list:
    """The hub task's own processes: JupyterHub, its proxy and its idle culler (never the
    stand-in servers, which on AWS are tasks of their own)."""
    import psutil

    main_process = psutil.Process(hub.pid)
    return [
        p
        for p in [main_process, *main_process.children(recursive=True)]
        if not any(arg.endswith("standin_server.py") for arg in p.cmdline()[1:2])
    ]


def _sample(hub: Hub) -> tuple[float, float]:
    """(CPU seconds used so far, resident MiB now) of the hub task's processes."""
    cpu = rss = 0.0
    for process in _hub_processes(hub):
        try:
            times = process.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += process.memory_info().rss / 2**20
        except (OSError, ValueError):  # a process that just ended
            continue
    return cpu, rss


class Meter:
    """The hub task's CPU (vCPU used, per WINDOW seconds) and memory (resident MiB), sampled
    every second in a thread of its own."""

    WINDOW = 5.0

    def __init__(self, hub: Hub) -> None:
        import threading

        self.hub, self.samples = hub, []  # (monotonic time, cpu seconds, rss MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            cpu, rss = _sample(self.hub)
            self.samples.append((time.monotonic(), cpu, rss))
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def phase(self, start: float, end: float) -> dict[str, float]:
        """Mean and peak vCPU (over WINDOW-second windows) and peak and last MiB in [start, end]."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        windows = []
        for i, (t0, c0, _) in enumerate(inside):
            later = [s for s in inside[i:] if s[0] - t0 >= self.WINDOW]
            if later:
                windows.append((later[0][1] - c0) / (later[0][0] - t0))
        first, last = inside[0], inside[-1]
        return {
            "mean_vcpu": (last[1] - first[1]) / max(last[0] - first[0], 1e-9),
            "peak_vcpu": max(windows, default=0.0),
            "peak_mib": max(s[2] for s in inside),  # sampled each second
            "last_mib": last[2],
        }


def _simulated_user(hub: Hub, person, until: float, every_proxy: float, every_api: float):
    """A logged-in user with a running server: JupyterLab's polling of the server through the
    hub's proxy every `every_proxy` s, and the hub's API (the user's model) every `every_api` s."""
    next_api, answered = time.monotonic(), 0
    while time.monotonic() < until:
        response = person.api.get(person.server_url("api/status"), timeout=30)
        assert response.ok and "started" in response.json(), response.text[:200]
        answered += 1
        if time.monotonic() >= next_api:
            person.model()
            next_api += every_api
            answered += 1
        time.sleep(every_proxy)
    return answered


def load(users: int = 50, steady_seconds: float = 180) -> None:
    """The hub's own CPU and memory: idle; while `users` users log in and start servers; and
    with all of them working for `steady_seconds`.

    The real JupyterHub of the image (its configuration, proxy and idle culler with the
    template's default idle timeout, 20 minutes) in the stand-in container, as uid 1000, with
    OIDC logins against the local provider. Each user's server is bench/standin_server.py,
    started by JupyterHub's SimpleLocalProcessSpawner (command-line configuration): it answers
    at its URL through the proxy and reports activity to the hub's API as a real server does,
    and nothing else, so the figures are the hub's alone (the stand-ins are not counted). Each
    simulated user polls their server through the proxy every 5 s (JupyterLab polls its
    kernels, sessions and terminals every few seconds) and reads their model from the hub's API
    every 30 s (the hub's pages do). CPU is vCPU used (1.0 = one core of this machine), summed
    over the hub, proxy and culler processes; memory is their resident set. It reports; it
    asserts nothing about the figures.
    """
    from concurrent.futures import ThreadPoolExecutor

    bench = Path(__file__).resolve().parent
    names = [f"user{n}@example.com" for n in range(users)]
    provider = OidcProvider(
        {name: [f"ds-{TIER}"] for name in names}, client_id="bench-hub", client_secret="bench"
    )
    credentials = CredentialsEndpoint()
    nowhere = "http://127.0.0.1:9"  # the stand-in servers read no S3
    env = oidc_hub_environment(TIER, provider, credentials, "bench-bucket", nowhere, 20)
    # A valid server mode for the image's configuration; the spawner itself is replaced below.
    env |= {
        "LABCATALOG_SERVER_MODE": "docker",
        "LABCATALOG_DOCKER_IMAGE": "unused",
        "LABCATALOG_DOCKER_NETWORK": "unused",
        "LABCATALOG_DOCKER_HOMES": "/tmp",
        "LABCATALOG_DOCKER_HOMES_ON_HOST": "/tmp",
    }
    args = (
        "--JupyterHub.spawner_class=simple",
        f"--Spawner.cmd={sys.executable}",
        "--Spawner.args=/opt/bench/standin_server.py",
        "--Spawner.http_timeout=60",
    )
    phases = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            hub = Hub(Path(folder), env, mounts={"/opt/bench": bench}, args=args)
            meter = Meter(hub)
            try:
                time.sleep(15)
                phases["idle hub"] = (time.monotonic() - 14, time.monotonic())
                started = time.monotonic()
                people = []

                def arrive(name):
                    person = hub.user(name)
                    assert person.login_oidc().ok, hub.log()
                    person.make_token()
                    person.start_server(timeout=300)
                    return person

                with ThreadPoolExecutor(max_workers=10) as pool:
                    people = list(pool.map(arrive, names))
                phases[f"{users} users log in and start servers"] = (started, time.monotonic())
                started = time.monotonic()
                until = started + steady_seconds
                with ThreadPoolExecutor(max_workers=users) as pool:
                    futures = [
                        pool.submit(_simulated_user, hub, p, until, 5.0, 30.0) for p in people
                    ]
                    answered = sum(future.result() for future in futures)
                counted = sorted(
                    {" ".join(p.cmdline()[:2]).rsplit("/", 1)[-1] for p in _hub_processes(hub)}
                )
                phases[f"{users} users working, {steady_seconds:.0f} s"] = (
                    started,
                    time.monotonic(),
                )
            finally:
                meter.stop()
                hub.stop()
    finally:
        provider.stop()
        credentials.stop()
    print(f"the hub task's processes (JupyterHub, proxy, idle culler), {users} users")
    print(f"{'phase':48}{'mean vCPU':>10}{'peak vCPU':>10}{'peak MiB':>10}{'last MiB':>10}")
    for label, (start, end) in phases.items():
        figures = meter.phase(start, end)
        print(
            f"{label:48}{figures['mean_vcpu']:10.3f}{figures['peak_vcpu']:10.3f}"
            f"{figures['peak_mib']:10.0f}{figures['last_mib']:10.0f}"
        )
    print(f"peak vCPU: the busiest {Meter.WINDOW:.0f} s; 1.0 = one core of this machine")
    print(f"processes counted: {'; '.join(counted)}")
    print(f"requests answered while working: {answered} ({answered / steady_seconds:.1f} a second)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        load(int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    else:
        main()
