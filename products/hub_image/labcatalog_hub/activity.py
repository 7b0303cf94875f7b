"""Report whether anyone uses this hub, as a CloudWatch metric an alarm can stop the instance on.

Run by JupyterHub as a service on a personal hub (jupyterhub_config.py starts it when
LABCATALOG_ACTIVITY_INSTANCE names the instance). Every minute it publishes, in the namespace
`NAMESPACE` with the dimension InstanceId:

- `ActiveUsers`: users with activity (the hub's own, or their servers' and kernels', as the
  servers report it) in the last `WINDOW_SECONDS`;
- `BusyCores`: how many CPU cores were busy over the last minute, whatever the instance's size
  (one busy core of 2 or of 64 is 1.0);
- `Active`: 1 when there are active users, or when at least `GUARD_CORES` cores are busy (a long
  computation that prints nothing is not idle), else 0.

The personal hub's alarm stops the instance when `Active` has been 0 for IdleStopMinutes: it
needs no threshold that depends on the instance type.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

NAMESPACE = "labcatalog/PersonalHub"
METRIC = "Active"
PERIOD_SECONDS = 60
# JupyterHub records activity at most every last_activity_interval (at most 300 s here), so a
# user counts as active for a little longer than that.
WINDOW_SECONDS = 360
GUARD_CORES = 0.5
PROC_STAT = Path("/proc/stat")  # not namespaced: in the hub's container it is the instance's


@dataclass(frozen=True)
class CpuSample:
    busy: int
    total: int
    cores: int


def cpu_sample(stat: Path = PROC_STAT) -> CpuSample:
    """Busy and total jiffies of all cores, and the number of cores."""
    lines = stat.read_text().splitlines()
    fields = [int(v) for v in lines[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return CpuSample(busy=sum(fields[:8]) - idle, total=sum(fields[:8]), cores=max(cores, 1))


def busy_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores busy between two samples (0 to the number of cores)."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return 0.0
    return (after.busy - before.busy) / elapsed * after.cores


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def active_users(users: Iterable[dict], now: datetime, window: float = WINDOW_SECONDS) -> int:
    """How many of JupyterHub's user models had activity in the last `window` seconds."""
    since = now - timedelta(seconds=window)
    count = 0
    for user in users:
        stamps = [_parse(user.get("last_activity"))]
        stamps += [_parse(s.get("last_activity")) for s in (user.get("servers") or {}).values()]
        if any(stamp is not None and stamp >= since for stamp in stamps):
            count += 1
    return count


def report(cloudwatch, instance_id: str, users: int, cores: float, when: datetime) -> int:
    """Publish the three metrics; return `Active`."""
    active = 1 if users > 0 or cores >= GUARD_CORES else 0
    dimensions = [{"Name": "InstanceId", "Value": instance_id}]
    metrics = (("ActiveUsers", users, "Count"), ("BusyCores", round(cores, 3), "None"))
    metrics += ((METRIC, active, "None"),)
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": value,
                "Unit": unit,
            }
            for name, value, unit in metrics
        ],
    )
    return active


def hub_users(api_url: str, token: str) -> list[dict]:
    """Every user model of the hub's REST API, with their servers."""
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/users", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main() -> None:  # pragma: no cover - the loop; its parts are tested
    import boto3

    instance_id = os.environ["LABCATALOG_ACTIVITY_INSTANCE"]
    cloudwatch = boto3.session.Session().client("cloudwatch")
    api_url, token = os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    before = cpu_sample()
    while True:
        time.sleep(PERIOD_SECONDS)
        after = cpu_sample()
        try:
            users = active_users(hub_users(api_url, token), datetime.now(UTC))
            report(cloudwatch, instance_id, users, busy_cores(before, after), datetime.now(UTC))
        except Exception as err:  # report again next minute; say why not now
            print(f"activity not reported: {err}", file=sys.stderr, flush=True)
        before = after


if __name__ == "__main__":
    main()
