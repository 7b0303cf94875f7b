"""A stand-in for a container of the hub image, for a machine without a Docker engine.

A `Container` runs one command the way `docker run` would run the hub image: as the image's user
(uid 1000, gid 100), in its own mount namespace whose root is a fresh tmpfs holding only
- the host's system directories (/usr, /etc, /dev, ...), read-only, standing in for the image's OS;
- the tests' Python environment at its own path, read-only, standing in for the image's conda
  environment (the hub's packages are the same: tox installs products/hub_image/requirements.txt);
- products/hub_image at /opt/labcatalog, read-only, where the Dockerfile copies it;
- an empty /tmp and a /home/jovyan owned by the image user, as the image has them;
- each `mounts` entry (container path -> host path), as `docker run --volume host:container`.
Nothing else of the host is visible: not the hub's state, not the tests' temporary files, not
/root. As with Docker, the command gets its own PID namespace and /proc (a container sees only
its own processes; `pid_namespace=False` shares the host's); with `net_namespace` its own
network with only a loopback.

A container's processes end with it, as Docker's do: the command is PID 1 of its namespace, and
when PID 1 ends the kernel kills every other process in the namespace (the hub's proxy and idle
culler, a server's kernels), whatever session or user they run as. Without a PID namespace the
command's whole process tree is killed on `stop`.

How it differs from Docker: the system files are the host's, not the image's (the image's
Python packages are the same, its OS packages are not); there are no cgroup limits, no seccomp
profile and no dropped capabilities (the user is not root, so it has none anyway); without
`net_namespace` the command shares the host's network, where Docker gives each container its
own address on a bridge.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Brings up a new network namespace's loopback (what `ip link set lo up` does), in Python so the
# tests need no iproute2: SIOCGIFFLAGS/SIOCSIFFLAGS on "lo" with IFF_UP added.
_LOOPBACK_UP = """
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 0x1))
"""

ROOT = Path(__file__).parents[2]
HUB_IMAGE = ROOT / "products" / "hub_image"
DOCKERFILE = HUB_IMAGE / "Dockerfile"
# The image's user: the Dockerfile's last `USER`, and the group of the base image's jovyan user
# (the Jupyter docker-stacks' NB_GID, `users`).
IMAGE_UID = int(re.findall(r"^USER (\d+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)[-1])
IMAGE_GID = 100
IMAGE_HOME = "/home/jovyan"
IMAGE_APP = "/opt/labcatalog"  # where the Dockerfile copies products/hub_image
IMAGE_CMD = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), flags=re.MULTILINE)[1]

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def _python_paths() -> list[Path]:
    """The Python environment the tests run (the image's environment stands here)."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent}
    # Keep only the outermost of nested paths.
    return sorted(p for p in paths if not any(q != p and q in p.parents for q in paths))


def image_command() -> list[str]:
    """The image's CMD, from the Dockerfile."""
    import json

    return json.loads(IMAGE_CMD)


def image_path() -> str:
    """PATH inside the image: the environment's bin first, then the proxy (as /usr/local/bin)."""
    proxy = Path(sys.prefix) / "proxy" / "node_modules" / ".bin"
    return os.pathsep.join(
        [str(Path(sys.executable).parent), str(proxy), "/usr/local/bin", "/usr/bin", "/bin"]
    )


@dataclass
class Container:
    """What `docker run` is given: mounts, environment, user, and which namespaces."""

    mounts: Mapping[str, Path | str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    uid: int = IMAGE_UID
    gid: int = IMAGE_GID
    groups: Sequence[int] = ()  # `--group-add`
    workdir: str = IMAGE_HOME
    pid_namespace: bool = True
    net_namespace: bool = False
    process: subprocess.Popen | None = None

    def command(self, argv: Sequence[str], rootfs: Path) -> list[str]:
        """The host command that runs `argv` in this container, its root on `rootfs`."""
        q = shlex.quote
        lines = ["set -e", f"r={q(str(rootfs))}", 'mount -t tmpfs -o mode=0755 tmpfs "$r"']
        if self.net_namespace:
            lines.append(f"{q(sys.executable)} -c {q(_LOOPBACK_UP)}")
        for path in _SYSTEM:
            if os.path.islink(path):
                lines.append(f'ln -s {q(os.readlink(path))} "$r"{q(path)}')
            elif os.path.isdir(path):
                lines += [f'mkdir -p "$r"{q(path)}', *_bind(q(path), '"$r"' + q(path), True)]
        for path in ("/dev", "/sys"):
            lines += [f'mkdir -p "$r"{path}', f'mount --rbind {path} "$r"{path}']
        lines.append('mkdir -p "$r/proc"')
        if self.pid_namespace:
            lines.append('mount -t proc proc "$r/proc"')
        else:
            lines.append('mount --rbind /proc "$r/proc"')
        lines += ['mkdir -p "$r/tmp"', 'chmod 1777 "$r/tmp"']
        software = {str(p): p for p in _python_paths()}
        software[IMAGE_APP] = HUB_IMAGE
        for target, source in software.items():
            lines += [
                f'mkdir -p "$r"{q(target)}',
                *_bind(q(str(source)), '"$r"' + q(target), read_only=True),
            ]
        lines += [
            f'mkdir -p "$r"{q(IMAGE_HOME)}',
            f'chown {IMAGE_UID}:{IMAGE_GID} "$r"{q(IMAGE_HOME)}',
        ]
        for target, source in self.mounts.items():
            make = "touch" if Path(source).exists() and not Path(source).is_dir() else "mkdir -p"
            lines += [
                f'mkdir -p "$(dirname "$r"{q(target)})"',
                # A file mounted over one of the image's (read-only) files: nothing to make.
                f'test -e "$r"{q(target)} || {make} "$r"{q(target)}',
                f'mount --bind {q(str(source))} "$r"{q(target)}',
            ]
        groups = ",".join(str(g) for g in self.groups)
        user = [f"--reuid={self.uid}", f"--regid={self.gid}"]
        user += [f"--groups={groups}"] if groups else ["--clear-groups"]
        env = {"PATH": image_path(), "HOME": IMAGE_HOME, **self.env}
        inner = ["sh", "-c", f'cd {q(self.workdir)} && exec "$@"', "sh", *argv]
        run = ["chroot", '"$r"', "setpriv", *user, "--", "env", "-i"]
        run += [q(f"{k}={v}") for k, v in env.items()]
        run += [q(a) for a in inner]
        lines.append("exec " + " ".join(run))
        unshare = ["unshare", "--mount", "--propagation", "private"]
        if self.pid_namespace:
            unshare += ["--pid", "--fork", "--kill-child"]
        if self.net_namespace:
            unshare += ["--net"]
        return [*unshare, "--", "sh", "-c", "\n".join(lines)]

    def start(self, argv: Sequence[str], output) -> subprocess.Popen:
        """Start `argv` in the container; its output goes to the file `output`."""
        self._rootfs = tempfile.TemporaryDirectory(prefix="container-root-")
        self.process = subprocess.Popen(
            self.command(argv, Path(self._rootfs.name)),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a process group of its own, apart from the tests'
        )
        return self.process

    def main_pid(self) -> int:
        """The host PID of the container's command (the child of unshare with a PID namespace)."""
        assert self.process is not None
        if not self.pid_namespace:
            return self.process.pid
        # unshare forks its child a moment after it starts: wait for it (while unshare runs).
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        deadline = time.monotonic() + 10
        while not (found := children.read_text().split()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ProcessLookupError(f"no command runs in the container of {self.process.pid}")
            time.sleep(0.01)
        return int(found[0])

    def kill(self) -> None:
        """End the container at once (SIGKILL), as a task or an instance ends, and wait for it.

        With a PID namespace, SIGKILL goes to the namespace's PID 1, which takes every process
        of the namespace with it. Killing only unshare would not: its `--kill-child` signal is
        cleared when setpriv changes the user, so PID 1 would outlive it.
        """
        if self.process is None:
            return
        tree = self._tree()
        with contextlib.suppress(OSError, ValueError, IndexError):  # not started, or gone
            os.kill(self.main_pid(), signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self._end(tree)

    def stop(self, timeout: float = 20) -> None:
        """`docker stop`: SIGTERM to the command, SIGKILL after `timeout` seconds."""
        if self.process is None:
            self._cleanup()
            return
        if self.process.poll() is None:
            tree = self._tree()
            try:
                os.kill(self.main_pid(), signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            self._end(tree)
        self._cleanup()

    def _tree(self) -> list:
        """Every process of the container now (a snapshot, to end what outlives its parent)."""
        import psutil

        try:
            top = psutil.Process(self.process.pid)
            return [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _end(self, tree: list) -> None:
        """Kill what is left of the container's processes: its process group, then `tree`.

        With a PID namespace nothing is left by now (the kernel ended the namespace); without
        one, processes that left the group (a new session) are found in the snapshot `tree`.
        """
        import psutil

        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)
        alive = []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()  # psutil checks the PID still names the same process
                alive.append(process)
        psutil.wait_procs(alive, timeout=10)

    def _cleanup(self) -> None:
        rootfs = getattr(self, "_rootfs", None)
        if rootfs is not None:
            rootfs.cleanup()
            self._rootfs = None


def _bind(source: str, target: str, read_only: bool) -> list[str]:
    lines = [f"mount --rbind {source} {target}"]
    if read_only:
        lines.append(f"mount -o remount,bind,ro {target}")
    return lines
