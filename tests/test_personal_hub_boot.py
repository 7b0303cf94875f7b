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
import subprocess
import sys
import time

import pytest

from generator.engine.registry import load_portfolio
from tests.conftest import PORTFOLIOS
from tests.support.container import IMAGE_GID, IMAGE_UID, Container, image_command
from tests.support.personal_hub_support import (
    DOCKER_GID,
    boot_script,
    docker_run,
    run_boot_functions,
    tier_settings,
)


def answers(container: Container, url: str) -> bool:
    check = subprocess.run(
        [
            "nsenter",
            f"--net=/proc/{container.process.pid}/ns/net",
            sys.executable,
            "-c",
            "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)",
            url,
        ],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


def test_the_boot_scripts_layout_and_docker_run_start_a_hub_that_answers(tmp_path):
    # A portfolio that signs in with LDAP (tests/fixtures/three-tiers.yaml): its tier's settings
    # as the platform publishes them, read by the boot script.
    portfolio = load_portfolio(PORTFOLIOS["three-tiers"])
    script = boot_script(portfolio, tmp_path)
    secrets = {"LABCATALOG_LDAP_BIND_PASSWORD": "from-secrets-manager"}
    calls = run_boot_functions(
        script,
        tmp_path,
        "prepare_data_dirs; ensure_crypt_key; write_environment; export_crypt_key; start_hub",
        secrets,
        tier_settings(portfolio, portfolio.tiers[0].name),
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


def test_only_the_hubs_container_reaches_the_instance_metadata(example, tmp_path):
    """The servers' containers get no instance role: the firewall drops their traffic to the
    metadata service and lets the hub's fixed address through (the rule above the drop), and
    the hub runs at that address on a network of that subnet. Not proved here: that Docker
    sends containers' traffic through DOCKER-USER (Docker documents it) and that the rules
    hold on the instance; only a real instance shows that."""
    script = boot_script(example, tmp_path)
    calls = run_boot_functions(script, tmp_path, "keep_servers_off_metadata; start_hub", {})
    rules = [
        json.loads(line) for line in (tmp_path / "iptables-calls.jsonl").read_text().splitlines()
    ]
    inserted = [rule[2:] for rule in rules if rule[:2] == ["-I", "DOCKER-USER"]]
    metadata = "169.254.169.254/32"
    drop = ["-s", "172.30.213.0/24", "-d", metadata, "-j", "DROP"]
    hub = ["-s", "172.30.213.2/32", "-d", metadata, "-j", "RETURN"]
    assert inserted == [drop, hub]  # each at the top: the hub's RETURN ends above the DROP
    (create,) = [c["args"] for c in calls if c["args"][:2] == ["network", "create"]]
    assert create[2:4] == ["--subnet", "172.30.213.0/24"]
    (run,) = [c["args"] for c in calls if c["args"][0] == "run"]
    assert run[run.index("--ip") + 1] == "172.30.213.2"
