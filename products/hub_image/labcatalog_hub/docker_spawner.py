"""Each user's server as a container of its own beside the hub (the personal hub's `docker` mode).

The hub container talks to the instance's Docker daemon through its socket and starts, for each
user, a container of the same image: as the image's user, on the network the hub shares with
its servers, with the user's home folder from the data volume at /home/jovyan, and with nothing
of the hub's: not its environment (only what `get_env` gives every server: the server's own
API token and settings), not its state directory, not its processes (a container has its own
PID namespace). AWS credentials come from the hub only: the user's session of the tier's data
role (labcatalog_hub/credentials.py), never the instance role, whose metadata service the boot
script's firewall rule leaves to the hub's container. Docker calls go to a worker thread, so the
hub's loop never blocks.
The container id is the spawner's state: after a hub restart, `poll()` and `stop()` find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from jupyterhub.spawner import Spawner
from jupyterhub.utils import random_port
from traitlets import Any as AnyTrait
from traitlets import Bool, Integer, Unicode, default

from .spawners import SizedSpawner

HOME_IN_SERVER = "/home/jovyan"  # the image user's home (the Dockerfile's WORKDIR)
DOCKER_API_VERSION = "1.41"  # Docker Engine 20.10 and later
# Passed on to each server: the region for boto (ECS sets it on Fargate; not a secret).
PASSED_ON = ("AWS_REGION", "AWS_DEFAULT_REGION")


class DockerSpawnFailed(RuntimeError):
    """A server could not start; the message is shown to the user on the spawn page."""


def container_name(user: str, server: str = "") -> str:
    """A Docker container name for a user's server (Docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{user}-{server}" if server else user)
    return f"labcatalog-server-{safe}"


class DockerSpawner(SizedSpawner, Spawner):
    """A container per user server on the hub's Docker host; configured by jupyterhub_config.py."""

    image = Unicode(help="Image of the users' servers: the hub's own image.").tag(config=True)
    network = Unicode(help="Docker network shared by the hub and the servers.").tag(config=True)
    homes_host_dir = Unicode(
        help="On the Docker host: the folder of users' homes, `<folder>/<user>`."
    ).tag(config=True)
    homes_dir = Unicode(
        help="The same folder as the hub sees it; the hub creates each user's home there."
    ).tag(config=True)
    gpus = Bool(False, help="Give each server every GPU of the host.").tag(config=True)
    server_port = Integer(
        8888, help="Port the server listens on in its container; 0 picks a free one (tests)."
    ).tag(config=True)
    docker_url = Unicode(
        help="The Docker daemon's socket; DOCKER_HOST or /var/run/docker.sock."
    ).tag(config=True)
    client = AnyTrait(help="The docker APIClient.")

    container_id = Unicode(None, allow_none=True)

    @default("docker_url")
    def _docker_url(self) -> str:
        return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")

    @default("client")
    def _client(self) -> Any:
        return docker.APIClient(base_url=self.docker_url, version=DOCKER_API_VERSION)

    @default("env_keep")
    def _no_hub_environment(self) -> list[str]:
        # The server's container has the image's own PATH and settings; nothing of the hub's.
        return []

    # --- state kept in the hub database, so a restarted hub finds its containers again ---

    def get_state(self) -> dict:
        state = super().get_state()
        if self.container_id:
            state["container_id"] = self.container_id
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self.container_id = state.get("container_id")

    def clear_state(self) -> None:
        super().clear_state()
        self.container_id = None

    # --- the Spawner API ---

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)

    def home(self) -> tuple[Path, str]:
        """The user's home: as the hub sees it, and its path on the Docker host."""
        name = self.user.name
        if name in (".", "..") or "/" in name:
            raise DockerSpawnFailed(f"{name!r} cannot name a home folder")
        return Path(self.homes_dir) / name, f"{self.homes_host_dir.rstrip('/')}/{name}"

    def server_environment(self) -> dict[str, str]:
        env = self.get_env()
        env.update({k: os.environ[k] for k in PASSED_ON if os.environ.get(k)})
        return env

    async def start(self) -> tuple[str, int]:
        size = self.chosen_size()
        home, host_home = self.home()
        # Made by the hub, as the image user, before Docker would make it as root.
        home.mkdir(mode=0o700, parents=False, exist_ok=True)
        self.ip, self.port = "0.0.0.0", self.server_port or random_port()
        name = container_name(self.user.name, self.name)
        with contextlib.suppress(NotFound):
            await self._call("remove_container", name, force=True)
        host_config = self.client.create_host_config(
            binds={host_home: {"bind": HOME_IN_SERVER, "mode": "rw"}},
            network_mode=self.network,
            mem_limit=size.memory * 1024 * 1024 if size else None,
            nano_cpus=size.cpu * 1_000_000_000 // 1024 if size else None,
            init=True,
            device_requests=(
                [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
                if self.gpus
                else None
            ),
        )
        try:
            created = await self._call(
                "create_container",
                self.image,
                command=[*self.cmd, *self.get_args()],
                name=name,
                environment=self.server_environment(),
                labels={"labcatalog.user": self.user.name, "labcatalog.server": self.name},
                host_config=host_config,
                working_dir=HOME_IN_SERVER,
            )
            self.container_id = created["Id"]
            await self._call("start", self.container_id)
            info = await self._call("inspect_container", self.container_id)
        except APIError as err:
            raise DockerSpawnFailed(f"Docker could not start your server: {err}") from err
        return self.container_ip(info), self.port

    def container_ip(self, info: dict) -> str:
        """The container's address on the shared network."""
        networks = info.get("NetworkSettings", {}).get("Networks", {})
        address = networks.get(self.network, {}).get("IPAddress")
        if not address:
            raise DockerSpawnFailed(f"Your server's container has no address on {self.network}.")
        return address

    async def poll(self) -> int | None:
        """None while the container runs; its exit code once it has stopped or is gone."""
        if not self.container_id:
            return 0
        try:
            info = await self._call("inspect_container", self.container_id)
        except NotFound:
            return 0
        state = info.get("State", {})
        return None if state.get("Running") else int(state.get("ExitCode") or 0)

    async def stop(self, now: bool = False) -> None:
        if not self.container_id:
            return
        try:
            await self._call("stop", self.container_id, timeout=0 if now else 10)
            await self._call("remove_container", self.container_id, force=True)
        except NotFound:
            pass  # already gone is what we wanted
        self.container_id = None
