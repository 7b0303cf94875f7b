"""The personal hub boots: its boot script's own steps, then the hub image's command, as on EC2.

The boot script an instance receives (rendered from the template for a launch) is sourced, so
its own functions run: the data volume's folders (`prepare_data_dirs`, on a temporary folder
standing in for the mounted volume), the crypt key, the hub's environment file, and `start_hub`,
which ends in `docker run`. `docker` is the only thing stubbed: a fake on PATH that records its
arguments (and the variables `--env NAME` passes on). The recorded `docker run` is then carried
out by tests/support/container.py: the image's CMD, as the image's user (uid 1000, gid 100),
with the environment file and variables, the `--group-add` groups, each `--volume` as a bind
mount at its container path, and its own network namespace (a container's own network: the
image's default ports, 8000, 8081 and 8001, are its own), where the hub must answer on the
published port's container side, 8000, as `wait_for_hub` asks for it on the instance.

Not proven here: the device steps (`mount_data_volume`: formatting, fstab), Docker's own
behaviour (image pull, port publishing, the network's DNS), systemd, cfn-signal; the LDAP
launch is used because the hub contacts an OIDC provider at start, which its network here lacks.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.container import IMAGE_GID, IMAGE_UID, Container, image_command
from tests.support.personal_hub_support import body, launch_values, rendered_user_data

DOCKER_GID = 990  # the group of the instance's Docker socket
FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
passed = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--env" and "=" not in args[i + 1]]
record = {{"args": args, "env": {{name: os.environ.get(name) for name in passed}}}}
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
"""
# Options of `docker run` that take a value, as the boot script uses them.
VALUED = {"--name", "--hostname", "--network", "--env-file", "--env", "--publish", "--volume"}
VALUED |= {"--group-add", "--gpus", "--user"}


def ldap_launch(example) -> dict[str, str]:
    hub = body(example)
    return launch_values(
        hub,
        Tier="pii",
        Owner="alice",
        VpcId="vpc-0123456789abcdef0",
        SubnetId="subnet-0123456789abcdef0",
        AuthType="ldap",
        LdapUrl="ldaps://ad.example.com:636",
        LdapBindDnTemplate="uid={username},ou=people,dc=example,dc=com",
        LdapGroupSearchBase="ou=groups,dc=example,dc=com",
        TierGroup="ds-pii",
    )


def boot_script(example, folder: Path) -> Path:
    script = folder / "userdata.sh"
    script.write_text(rendered_user_data(body(example), ldap_launch(example)))
    return script


def run_boot_functions(script: Path, folder: Path, functions: str, env: dict) -> list[dict]:
    """Source the boot script, point its paths at `folder`, run `functions`; docker's calls."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    socket = folder / "docker.sock"
    socket.touch()
    os.chown(socket, 0, DOCKER_GID)
    log = folder / "docker-calls.jsonl"
    paths = {
        "data_dir": folder / "data",
        "env_file": folder / "etc" / "hub.env",
        "docker_socket": socket,
    }
    (folder / "data").mkdir(exist_ok=True)  # the mounted volume: a plain folder here
    assignments = "; ".join(f"{k}={shlex.quote(str(v))}" for k, v in paths.items())
    shell = f"source {shlex.quote(str(script))}; {assignments}; {functions}"
    result = subprocess.run(
        ["bash", "-c", shell],
        env={
            **os.environ,
            **env,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_LOG": str(log),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def docker_run(calls: list[dict]) -> Container:
    """The recorded `docker run` as a stand-in container, and the image's command."""
    (run,) = [c for c in calls if c["args"][0] == "run"]
    args, env, mounts, groups = run["args"][1:], {}, {}, []
    options: list[tuple[str, str]] = []
    while args[0].startswith("--"):
        flag = args.pop(0)
        options.append((flag, args.pop(0) if flag in VALUED else ""))
    image, command = args[0], args[1:]
    assert image and not command, "the hub runs the image's own CMD"
    for flag, value in options:
        if flag == "--env-file":
            lines = Path(value).read_text().splitlines()
            env.update(line.split("=", 1) for line in lines if line and not line.startswith("#"))
        elif flag == "--env":
            name, _, given = value.partition("=")
            env[name] = given or run["env"][name]
        elif flag == "--volume":
            source, target = value.split(":")[:2]
            mounts[target] = Path(source)
        elif flag == "--group-add":
            groups.append(int(value))
        elif flag == "--user":
            pytest.fail("the hub must run as the image's own user")
    return Container(mounts=mounts, env=env, groups=groups, net_namespace=True)


def answers(container: Container, url: str) -> bool:
    check = subprocess.run(
        ["nsenter", f"--net=/proc/{container.process.pid}/ns/net", "curl", "-fsS", url],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


def test_the_boot_scripts_layout_and_docker_run_start_a_hub_that_answers(example, tmp_path):
    script = boot_script(example, tmp_path)
    secrets = {"LABCATALOG_LDAP_BIND_PASSWORD": "from-secrets-manager"}
    calls = run_boot_functions(
        script,
        tmp_path,
        "prepare_data_dirs; ensure_crypt_key; write_environment; export_crypt_key; start_hub",
        secrets,
    )
    hub = docker_run(calls)
    assert hub.env["LABCATALOG_LDAP_BIND_PASSWORD"] == "from-secrets-manager"
    assert len(hub.env["JUPYTERHUB_CRYPT_KEY"]) == 64
    assert DOCKER_GID in hub.groups
    log_path = tmp_path / "hub.log"
    with log_path.open("wb") as log:
        hub.start(image_command(), log)
    try:
        deadline = time.monotonic() + 90
        while not answers(hub, "http://127.0.0.1:8000/hub/health"):
            if hub.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the hub did not answer:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
    finally:
        hub.stop()
    state = tmp_path / "data" / "state"
    assert (state.stat().st_uid, state.stat().st_gid) == (IMAGE_UID, IMAGE_GID)
    database = state / "jupyterhub.sqlite"
    assert database.stat().st_uid == IMAGE_UID
    assert (state / "jupyterhub_cookie_secret").stat().st_mode & 0o077 == 0
