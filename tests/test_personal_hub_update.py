"""A product update reaches a running personal hub, and the hub reports its activity.

The update path, as on EC2: CloudFormation stops the instance, replaces its user data with the
updated template's boot script and starts it; the hub's service then runs the installed copy
(`labcatalog-hub run`), which finds the instance's user data changed, installs it and lets the
new copy write the hub's environment and run the hub. Here the boot script is sourced with its
paths in a temporary folder; `docker` is a fake that records its calls, the instance metadata
(`imds`) and the AWS CLI are shell functions. Not proven: that CloudFormation restarts the
instance on a user-data change (its documented behaviour for EBS-backed instances), systemd.

The activity reporter (labcatalog_hub/activity.py) publishes to moto's CloudWatch.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from products.hub_image import content
from products.hub_image.labcatalog_hub import activity
from tests.support.personal_hub_support import (
    body,
    first_tier_launch,
    rendered_user_data,
    run_boot_functions,
    tier_settings,
)

INSTANCE = "i-0123456789abcdef0"


def _scripts(example, folder: Path) -> tuple[Path, Path]:
    hub = body(example)
    before = first_tier_launch(example)
    after = {**before, "HubImageTag": "pinned-2", "IdleStopMinutes": "30"}
    old, new = folder / "v1.sh", folder / "v2.sh"
    old.write_text(rendered_user_data(hub, before))
    new.write_text(rendered_user_data(hub, after))
    return old, new


def _stubs(folder: Path, user_data: Path) -> str:
    """Paths in `folder`; the instance metadata serves `user_data`; the AWS CLI answers."""
    paths = {
        "data_dir": folder / "data",
        "env_file": folder / "etc" / "hub.env",
        "settings_file": folder / "etc" / "settings",
        "docker_socket": folder / "docker.sock",
        "installed": folder / "installed.sh",
    }
    assignments = "; ".join(f"{k}={shlex.quote(str(v))}" for k, v in paths.items())
    return (
        f"{assignments}; "
        f'imds() {{ case "$1" in user-data) cat {shlex.quote(str(user_data))};; '
        f"meta-data/instance-id) echo {INSTANCE};; esac; }}; "
        # The tier's settings from the fake on PATH (run_boot_functions); the rest (secrets,
        # ECR's login) answers anything.
        'aws() { case "$1" in ssm) command aws "$@" ;; *) echo from-aws ;; esac; }; '
    )


def _environment(folder: Path) -> dict[str, str]:
    lines = (folder / "etc" / "hub.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_an_update_installs_the_new_script_and_restarts_the_hub_with_it(example, tmp_path):
    old, new = _scripts(example, tmp_path)
    stubs = _stubs(tmp_path, new)
    # The reconfigure step runs the installed (new) copy as a process of its own, as on EC2.
    installed = shlex.quote(str(tmp_path / "installed.sh"))
    rerun = f"source {installed}; {stubs} reconfigure"
    first_boot = (
        f"{stubs} prepare_data_dirs; ensure_crypt_key; write_environment; "
        f'write_activity_environment; cp {shlex.quote(str(old))} "$installed"; '
    )
    settings = tier_settings(example, example.tiers[0].name)
    before = _environment_after(old, tmp_path, first_boot, settings)
    assert before["LABCATALOG_IDLE_TIMEOUT_MINUTES"] == "60"
    calls = run_boot_functions(
        old,
        tmp_path,
        f"{first_boot} run_installed() {{ bash -c {shlex.quote(rerun)}; exit; }}; run_hub",
        {},
        settings,
    )
    assert (tmp_path / "installed.sh").read_text() == new.read_text()
    (run,) = [c["args"] for c in calls if c["args"][0] == "run"]
    assert run[-1].endswith(":pinned-2"), run  # the hub restarted on the new image
    after = _environment(tmp_path)
    assert after["LABCATALOG_IDLE_TIMEOUT_MINUTES"] == "30"
    assert after["LABCATALOG_DOCKER_IMAGE"].endswith(":pinned-2")
    assert after["LABCATALOG_ACTIVITY_INSTANCE"] == INSTANCE
    # The next start finds nothing new: it runs the hub as installed, without reinstalling.
    (tmp_path / "docker-calls.jsonl").unlink()
    again = run_boot_functions(
        new, tmp_path, f"{stubs} run_installed() {{ exit 9; }}; run_hub", {}, settings
    )
    assert [c["args"][-1] for c in again if c["args"][0] == "run"] == [run[-1]]


def _environment_after(script: Path, folder: Path, functions: str, ssm: dict) -> dict[str, str]:
    run_boot_functions(script, folder, functions, {}, ssm)
    return _environment(folder)


def test_the_boot_script_with_the_update_path_passes_shellcheck(example, tmp_path):
    old, _ = _scripts(example, tmp_path)
    result = subprocess.run(["shellcheck", str(old)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "apply_update" in old.read_text() and "run_installed reconfigure" in old.read_text()


# -- the activity reporter ----------------------------------------------------------------------
def test_active_users_count_recent_activity_of_users_and_their_servers():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    recent = (now - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    old = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    users = [
        {"name": "alice", "last_activity": recent, "servers": {}},
        {"name": "bob", "last_activity": old, "servers": {"": {"last_activity": recent}}},
        {"name": "carol", "last_activity": old, "servers": {"": {"last_activity": old}}},
        {"name": "dave", "last_activity": None},
    ]
    assert activity.active_users(users, now) == 2


def test_busy_cores_do_not_depend_on_the_number_of_cores(tmp_path):
    def sample(busy: int, idle: int, cores: int) -> activity.CpuSample:
        stat = tmp_path / "stat"
        per_core = "".join(f"cpu{i} 0 0 0 0 0 0 0 0 0 0\n" for i in range(cores))
        stat.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\n{per_core}")
        return activity.cpu_sample(stat)

    for cores in (2, 64):
        # One core busy for the whole minute: 6000 jiffies of (cores * 6000).
        before = sample(0, 0, cores)
        after = sample(6000, 6000 * (cores - 1), cores)
        assert round(activity.busy_cores(before, after), 3) == 1.0


def test_the_reporter_publishes_to_cloudwatch(aws):
    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(UTC).replace(microsecond=0)
    assert activity.report(cloudwatch, INSTANCE, users=0, cores=0.1, when=now) == 0
    assert activity.report(cloudwatch, INSTANCE, users=0, cores=2.0, when=now) == 1  # computing
    assert activity.report(cloudwatch, INSTANCE, users=1, cores=0.0, when=now) == 1
    metrics = cloudwatch.list_metrics(Namespace=activity.NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"Active", "ActiveUsers", "BusyCores"}
    assert all(m["Dimensions"] == [{"Name": "InstanceId", "Value": INSTANCE}] for m in metrics)
    stats = cloudwatch.get_metric_statistics(
        Namespace=activity.NAMESPACE,
        MetricName=activity.METRIC,
        Dimensions=[{"Name": "InstanceId", "Value": INSTANCE}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]
    assert [(d["Minimum"], d["Maximum"], d["SampleCount"]) for d in stats] == [(0.0, 1.0, 3.0)]


def _loaded_services(tmp_path, extra: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """jupyterhub_config.py, loaded as JupyterHub loads it, for a personal hub's environment."""
    from tests.test_hub_settings import LDAP_DOCKER

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LABCATALOG_")},
        **LDAP_DOCKER,
        "LABCATALOG_STATE_DIR": str(tmp_path / "state"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        **extra,
    }
    (tmp_path / "state").mkdir(parents=True, exist_ok=True)
    code = (
        "import json, sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "c = PyFileConfigLoader('jupyterhub_config.py', path=sys.argv[1]).load_config()\n"
        "print(json.dumps([c.JupyterHub.services, c.JupyterHub.load_roles]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(content.FOLDER)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    services, roles = json.loads(result.stdout.strip().splitlines()[-1])
    return services, roles


def test_the_hub_runs_the_reporter_only_for_an_instance(tmp_path):
    services, roles = _loaded_services(tmp_path, {"LABCATALOG_ACTIVITY_INSTANCE": INSTANCE})
    (reporter,) = [s for s in services if s["name"] == "activity-reporter"]
    assert reporter["command"][1:] == ["-m", "labcatalog_hub.activity"]
    assert reporter["environment"] == {
        "LABCATALOG_ACTIVITY_INSTANCE": INSTANCE,
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    (role,) = [r for r in roles if r["name"] == "activity-reporter"]
    assert "delete:servers" not in role["scopes"]  # it reads activity, it stops nothing
    services, _ = _loaded_services(tmp_path / "shared", {})
    assert [s["name"] for s in services] == ["idle-culler"]
