"""A stand-in for the Docker daemon of a personal hub's instance: its Engine API on a socket.

It answers the calls the hub's DockerSpawner makes through the `docker` package (create, start,
inspect, stop, remove a container) and runs each container with tests/support/container.py:
as the image's user, in its own mount and PID namespaces, with only the image's files and the
container's bind mounts visible, and with only the environment the create call gave it plus the
image's own. That is where the stand-in must be faithful: what a user's server can see.

How it differs from Docker: the image is not pulled or checked (every image name runs the hub
image's files); a container shares the host's network, so it listens on 127.0.0.1 and inspect
reports that address on every network (Docker gives it an address on the named network); memory
and CPU limits are recorded, not enforced. The image's Python is a conda environment, which has a
user site (`pip install --user`, under the home); the tests' Python is a virtualenv, which has
none unless its pyvenv.cfg says `include-system-site-packages = true`: each container gets a
copy that says so over the original (the base interpreter's few packages then come last on
sys.path, after the environment's own). The instance metadata service, which every container
on the instance reaches for the instance role's credentials, stands here as `metadata_env`: the
credentials endpoint's variables, added to every container.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server

from tests.support.container import DOCKERFILE, IMAGE_GID, IMAGE_UID, Container


def image_env() -> dict[str, str]:
    """The Dockerfile's ENV instructions (`ENV A=1 \\ B=2`), which every container has."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = re.findall(r"^ENV (.*)$", text, flags=re.MULTILINE)
    pairs = [pair for line in lines for pair in line.split()]
    return dict(pair.split("=", 1) for pair in pairs)


IMAGE_ENV = image_env()


def user_site_venv_config(folder: Path) -> Path:
    """A copy of the tests' pyvenv.cfg that gives the environment a user site, as conda's has."""
    original = Path(sys.prefix) / "pyvenv.cfg"
    copy = folder / "pyvenv.cfg"
    text = original.read_text().replace(
        "include-system-site-packages = false", "include-system-site-packages = true"
    )
    copy.write_text(text)
    return copy


@dataclass
class FakeContainer:
    id: str
    name: str
    config: dict
    log: Path
    runtime: Container | None = None
    exit_code: int | None = field(default=None)

    def running(self) -> bool:
        return self.runtime is not None and self.runtime.process.poll() is None

    def inspect(self) -> dict:
        running = self.running()
        if self.runtime is not None and not running:
            self.exit_code = self.runtime.process.returncode
        network = self.config.get("HostConfig", {}).get("NetworkMode", "bridge")
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Config": {k: v for k, v in self.config.items() if k != "HostConfig"},
            "HostConfig": self.config.get("HostConfig", {}),
            "State": {
                "Running": running,
                "Status": "running" if running else "exited",
                "ExitCode": self.exit_code or 0,
                "Pid": self.runtime.main_pid() if running else 0,
            },
            "NetworkSettings": {"Networks": {network: {"IPAddress": "127.0.0.1"}}},
        }


class DockerEngine:
    """The Engine API on a Unix socket owned by root and the group `socket_gid`, mode 0660."""

    def __init__(self, folder: Path, socket_gid: int, metadata_env: dict[str, str]) -> None:
        self.folder = folder
        self.socket = folder / "docker.sock"
        self.metadata_env = metadata_env
        self.containers: dict[str, FakeContainer] = {}
        self.calls: list[tuple[str, str]] = []
        app = Flask("docker-engine")
        prefix = "/v<version>"
        app.add_url_rule(f"{prefix}/containers/create", view_func=self.create, methods=["POST"])
        app.add_url_rule(f"{prefix}/containers/<ref>/start", view_func=self.start, methods=["POST"])
        app.add_url_rule(f"{prefix}/containers/<ref>/json", view_func=self.inspect)
        app.add_url_rule(f"{prefix}/containers/<ref>/stop", view_func=self.stop, methods=["POST"])
        app.add_url_rule(f"{prefix}/containers/<ref>", view_func=self.remove, methods=["DELETE"])
        self._server = make_server(f"unix://{self.socket}", 0, app, threaded=True)
        os.chown(self.socket, 0, socket_gid)
        self.socket.chmod(0o660)
        import threading

        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _find(self, ref: str) -> FakeContainer:
        for container in self.containers.values():
            if ref in (container.id, container.name):
                return container
        abort(404, description=f"No such container: {ref}")

    def create(self, version: str):
        config = request.get_json()
        name = request.args.get("name") or secrets.token_hex(6)
        if any(c.name == name for c in self.containers.values()):
            return jsonify(message=f"Conflict: the name {name} is in use"), 409
        container_id = secrets.token_hex(32)
        self.calls.append(("create", name))
        log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=self.folder)[1])
        self.containers[container_id] = FakeContainer(container_id, name, config, log)
        return jsonify(Id=container_id, Warnings=[]), 201

    def start(self, version: str, ref: str):
        container = self._find(ref)
        self.calls.append(("start", container.name))
        config = container.config
        host = config.get("HostConfig", {})
        mounts = {}
        for bind in host.get("Binds") or []:
            source, target = bind.split(":")[:2]
            mounts[target] = Path(source)
        if sys.prefix != sys.base_prefix:  # the tests run in a virtualenv
            mounts[str(Path(sys.prefix) / "pyvenv.cfg")] = user_site_venv_config(self.folder)
        env = dict(item.split("=", 1) for item in config.get("Env") or [])
        user = config.get("User") or f"{IMAGE_UID}:{IMAGE_GID}"
        uid, _, gid = user.partition(":")
        container.runtime = Container(
            mounts=mounts,
            env={**IMAGE_ENV, **self.metadata_env, **env},
            uid=int(uid),
            gid=int(gid or IMAGE_GID),
            workdir=config.get("WorkingDir") or "/home/jovyan",
            pid_namespace=True,
        )
        with container.log.open("ab") as log:
            container.runtime.start(config["Cmd"], log)
        return "", 204

    def inspect(self, version: str, ref: str):
        return jsonify(self._find(ref).inspect())

    def stop(self, version: str, ref: str):
        container = self._find(ref)
        self.calls.append(("stop", container.name))
        if container.runtime is not None:
            container.runtime.stop(timeout=float(request.args.get("t", 10)))
        return "", 204

    def remove(self, version: str, ref: str):
        container = self._find(ref)
        self.calls.append(("remove", container.name))
        if container.runtime is not None:
            container.runtime.stop(timeout=0.1)
        del self.containers[container.id]
        return "", 204

    def running(self) -> list[FakeContainer]:
        return [c for c in self.containers.values() if c.running()]

    def close(self) -> None:
        for container in list(self.containers.values()):
            if container.runtime is not None:
                container.runtime.stop(timeout=5)
        self._server.shutdown()
        self._thread.join(timeout=5)
