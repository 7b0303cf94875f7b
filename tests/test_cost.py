"""`labcatalog cost`: the arithmetic on small hand-computed cases, the templates as the source of
every quantity, and clear errors for bad input.

The expected figures are computed by hand in the comments from the round prices of
tests/fixtures/cost/prices.yaml and the example's built templates (build/), never by the code
under test. The README's copy of the example's table is checked by tests/test_readme.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.registry import load_portfolio

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "tests" / "fixtures" / "cost" / "prices.yaml"
README = ROOT / "README.md"

# One user of tier pii on a 0.5 vCPU / 2 GB server, 2 active hours a day, 20 days, one session
# a day that ends with 30 idle minutes.
SMALL = """\
schema: labcatalog-usage/v1
tiers:
  - name: pii
    users: 1
    active_hours_per_day: 2
    days_per_month: 20
    sessions_per_day: 1
    peak_concurrency: 1.0
    server_size: "512:2048"
    home_gb_per_user: 4
shared-hub:
  fargate_spot_share: 0.5
  idle_timeout_minutes: 30
  load_balancer_lcus: 1
  hub_state_gb: 2
  log_gb_per_user: 1
personal-hub:
  idle_stop_minutes: 30
  data_volume_gb: 20
managed_notebooks:
  idle_shutdown_minutes: 30
platform:
  notebook_storage_gb: 10
  image_storage_gb: 10
  home_daily_change: 0.01
  home_infrequent_share: 0    # every home byte on EFS Standard (IA: its own test)
"""


def run(*args: str, cwd: Path | None = None):
    """The CLI in-process; `cwd` makes relative paths (and the table's header) like a user's."""
    with contextlib.chdir(cwd or Path.cwd()):
        return CliRunner().invoke(main, ["cost", *args])


def cost_json(usage: Path, build_dir: Path = ROOT / "build") -> dict:
    result = run(
        "--usage", str(usage), "--build-dir", str(build_dir), "-p", str(ROOT / "portfolio.yaml"),
        "--prices", str(PRICES), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def small(tmp_path) -> Path:
    path = tmp_path / "usage.yaml"
    path.write_text(SMALL)
    return path


def option(data: dict, key: str) -> dict:
    return next(o for o in data["options"] if o["key"] == key)


def lines(part: dict) -> dict[str, float]:
    return {line["item"]: line["amount"] for line in part["lines"]}


# The template's defaults: servers and hub on ARM64, servers on Fargate Spot with regular
# Fargate when Spot has no capacity, HubSize 512:1024, logs kept 30 days, Container Insights
# off, no hub hours (always on).
# Server hours: 1 user x (2 h x 20 days + 1 session x 20 days x 30/60 h idle) = 40 + 10 = 50 h,
# of which 10 h idle. ARM server rate 512:2048 = 0.5 vCPU x 0.03 + 2 GB x 0.005 = 0.025 an hour.
# Hub task (HubSize 512:1024, ARM, regular Fargate): 730 h x (0.5 x 0.03 + 1 x 0.005 = 0.02)
# = 14.60. The account's load balancer (the platform's, shared by the tiers' hubs; the usage's
# flat 1 LCU): 730 h x (0.02 + 1 LCU x 0.01) = 21.90, in the shared part.
# EFS: 1 file system x 2 GB x 0.30 = 0.60. Secrets: 1 x 0.50 = 0.50.
# Logs: 1 GB a month x 0.50 + 1 GB x (30 days retention / (730/24) days = 0.9863 months)
#   x 0.03 = 0.50 + 0.0296 = 0.53.
# Homes on the tier's EFS (the platform's): 1 user x 4 GB x 0.30 = 1.20. Their backups: the
# 4 GB once plus 1% a day kept for the plan's longest rule (35 days): 4 x (1 + 0.01 x 35)
# = 5.4 GB x 0.05 = 0.27.
HOMES = {"homes (EFS)": 1.20, "home backups": 0.27}
FARGATE_PII = {
    "hub task": 14.60,
    "hub state (EFS)": 0.60,
    "logs": 0.53,
    "secrets": 0.50,
    **HOMES,
    "servers": 1.25,  # 50 h x 0.025, all on regular Fargate (FargateSpot=false)
}


def test_shared_hub_regular_fargate_by_hand(small):
    data = cost_json(small)
    fargate = option(data, "shared-hub-fargate")
    pii = fargate["tiers"]["pii"]
    assert lines(pii) == FARGATE_PII
    assert pii["idle"] == 0.25  # 10 idle h x 0.025
    assert pii["fixed"] == 17.70  # 14.60 + 0.60 + 0.53 + 0.50 + 1.20 + 0.27
    assert pii["per_use"] == 1.25
    assert lines(fargate["shared"]) == {"load balancer (one for the account)": 21.90}
    assert fargate["total"] == 40.85


def test_fargate_spot_with_fallback_by_hand(small):
    # The default: half the server hours on Spot (the usage's fargate_spot_share, 0.5), at the
    # price list's typical discount (0.75 below on-demand), the other half on regular Fargate
    # after Spot had no capacity: 0.025 x (1 - 0.5 x 0.75) = 0.015625 an hour; 50 h x 0.015625
    # = 0.78, of which 10 h = 0.16 idle. The hub task stays on regular Fargate.
    data = cost_json(small)
    spot = option(data, "shared-hub-fargate-spot")
    assert lines(spot["tiers"]["pii"]) == {**FARGATE_PII, "servers": 0.78}
    assert spot["idle"] == 0.16
    assert spot["total"] == 40.38  # 17.70 + 0.78125 + 21.90
    assert spot["label"] == "shared-hub, 50% Spot (default)"
    assert "50% of hours on Spot assumed" in spot["note"]


def test_x86_by_hand(small, tmp_path):
    # cpu_architecture X86_64 prices both at Fargate's x86 rates: the server 0.5 x 0.04 + 2 x
    # 0.01 = 0.04 an hour, 50 h = 2.00; the hub 730 h x (0.5 x 0.04 + 1 x 0.01 = 0.03) = 21.90.
    usage = tmp_path / "x86.yaml"
    usage.write_text(SMALL.replace("shared-hub:\n", "shared-hub:\n  cpu_architecture: X86_64\n"))
    data = cost_json(usage)
    found = lines(option(data, "shared-hub-fargate")["tiers"]["pii"])
    assert (found["servers"], found["hub task"]) == (2.00, 21.90)
    assert data["resources"]["shared-hub"]["cpu_architecture"] == "x86_64"
    # The personal hub is matched on the same architecture: m7i.large (x86) at 0.10, not m7g.
    assert option(data, "personal-hub")["tiers"]["pii"]["note"] == "m7i.large"
    assert cost_json(small)["resources"]["shared-hub"]["cpu_architecture"] == "arm64"


def test_hub_hours_by_hand(tmp_path):
    # Hub hours 8-18 on working days: 730/24 = 30.417 days a month x 5/7 = 21.726 working days
    # x 10 h = 217.26 h of the hub task, x 0.02 = 4.35 (always on: 14.60). The load balancer
    # still runs all month.
    usage = tmp_path / "hours.yaml"
    usage.write_text(SMALL.replace("shared-hub:\n", 'shared-hub:\n  hub_hours: "8-18"\n'))
    data = cost_json(usage)
    fargate = option(data, "shared-hub-fargate")
    found = lines(fargate["tiers"]["pii"])
    assert found["hub task"] == 4.35
    assert lines(fargate["shared"]) == {"load balancer (one for the account)": 21.90}
    assert "the hub on working days 8-18 only (HubHours)" in fargate["note"]
    assert data["resources"]["shared-hub"]["hub_hours_per_month"] == 217.26


def test_container_insights_by_hand(small, tmp_path):
    # On: 11 metrics for the cluster + 13 for the hub's service + 8 for each task definition
    # family, of which there are 3 (the hub's, the servers', the one user's own) = 48 metrics
    # x 0.30 = 14.40. Off (the template's default): no line.
    usage = tmp_path / "insights.yaml"
    usage.write_text(SMALL.replace("shared-hub:\n", "shared-hub:\n  container_insights: true\n"))
    data = cost_json(usage)
    assert lines(option(data, "shared-hub-fargate")["tiers"]["pii"])["Container Insights"] == 14.40
    assert data["resources"]["shared-hub"]["container_insights"] is True
    assert "Container Insights" not in lines(
        option(cost_json(small), "shared-hub-fargate")["tiers"]["pii"]
    )


def test_floor_and_multiples_by_hand(small):
    # Floor: 40 active hours x 512:2048 at the cheapest price, Spot (0.75 off) on ARM:
    # 0.025 x 0.25 = 0.00625 an hour (x86 Spot: 0.04 x 0.25 = 0.01): 40 x 0.00625 = 0.25.
    data = cost_json(small)
    assert data["floor"] == {"tiers": {"pii": 0.25}, "total": 0.25}
    # 40.38125 / 0.25 = 161.525: a binary float rounds it either way
    assert option(data, "shared-hub-fargate-spot")["floor_multiple"] in (161.52, 161.53)
    assert option(data, "sagemaker-studio")["floor_multiple"] == 21.6  # 5.40 / 0.25


def test_network_by_hand(small):
    # The usage's defaults: 2 zones, a NAT gateway in each, no interface endpoints, 1 GB a user
    # through NAT. NAT gateways 2 x 730 h x 0.05 = 73.00, their public IPv4 addresses 2 x 730 h
    # x 0.005 = 7.30, NAT data 1 user x 1 GB x 0.05 = 0.05: 80.35, in no option's total.
    data = cost_json(small)
    assert lines(data["network"]) == {
        "NAT gateways": 73.00,
        "public IPv4 (NAT gateways)": 7.30,
        "NAT data": 0.05,
    }
    assert data["network"]["total"] == 80.35
    assert option(data, "shared-hub-fargate")["total"] == 40.85


def test_interface_endpoints_by_hand(tmp_path):
    # 3 endpoints in each of 2 zones x 730 h x 0.01 = 43.80; no NAT gateway, so no NAT data.
    usage = tmp_path / "endpoints.yaml"
    usage.write_text(
        SMALL + "network:\n  availability_zones: 2\n  nat_gateways_per_az: 0\n"
        "  interface_endpoints: 3\n"
    )
    assert lines(cost_json(usage)["network"]) == {"interface endpoints": 43.80}


def test_sensitivity_by_hand(small):
    # Every tier at 5 users (all else as in the usage): floor 5 x 0.25 = 1.25. The default
    # shared hub: hub task 14.60, load balancer 21.90, hub state 0.60, secrets 0.50 as before;
    # logs 5 GB x 0.50 + 5 x 0.9863 x 0.03 = 2.65; homes 5 x 4 GB x 0.30 = 6.00; backups 20 GB
    # x 1.35 x 0.05 = 1.35; servers 5 x 50 h x 0.015625 = 3.91: 51.50, 41.2 times the floor.
    result = run(
        "--usage", str(small), "--build-dir", str(ROOT / "build"), "-p",
        str(ROOT / "portfolio.yaml"), "--prices", str(PRICES), "--sensitivity",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].startswith("| users per tier | floor | shared-hub, 50% Spot (default) |")
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| 1", "| 5", "| 20", "| 50", "| 200"]
    assert rows[3].startswith("| 5 | 1.25 | 51.50 (41.2x) |")


def test_the_options_in_order(small):
    keys = [o["key"] for o in cost_json(small)["options"]]
    assert keys == [
        "shared-hub-fargate-spot",
        "shared-hub-fargate",
        "personal-hub",
        "original-design",
        "sagemaker-studio",
        "sagemaker-studio-burstable",
    ]


def test_original_design_by_hand(small):
    original = option(cost_json(small), "original-design")
    # One always-on task that holds the peak's servers and the hub task as the template sizes
    # it: 1 user x 512:2048 + HubSize's default 512:1024 = 1024 cpu, 3072 MiB. The smallest
    # allowed HubSize that holds it is 1024:4096 (1024:2048 has too little memory), on x86
    # on-demand as that design ran: 730 h x (1 x 0.04 + 4 x 0.01 = 0.08) = 58.40. The tier
    # attaches to one load balancer shared by the tiers (LoadBalancer=existing creates none),
    # counted once: 21.90.
    pii = original["tiers"]["pii"]
    assert lines(pii) == {
        "hub task": 58.40,
        "hub state (EFS)": 0.60,
        "logs": 0.53,
        "secrets": 0.50,
    }
    assert pii["note"] == "task 1024:4096 for 1 users at peak"
    assert lines(original["shared"]) == {"load balancer": 21.90}
    assert original["idle"] == 0.0
    assert original["total"] == 81.93  # 58.40 + 0.60 + 0.53 + 0.50 + 21.90
    assert "not a product option" in original["note"]


# Fractional figures, so that rounding is exercised: 3 users, 1.3 active hours a day, 21 days,
# 2 sessions a day (each ending with 30 idle minutes), 34% of them at the peak.
FRACTIONAL = (
    SMALL.replace("users: 1", "users: 3")
    .replace("active_hours_per_day: 2", "active_hours_per_day: 1.3")
    .replace("days_per_month: 20", "days_per_month: 21")
    .replace("sessions_per_day: 1", "sessions_per_day: 2")
    .replace("peak_concurrency: 1.0", "peak_concurrency: 0.34")
)


def test_fractional_usage_by_hand(tmp_path):
    usage = tmp_path / "usage.yaml"
    usage.write_text(FRACTIONAL)
    data = cost_json(usage)
    # Server hours: 3 x (1.3 h x 21 + 2 x 21 x 0.5 h idle) = 3 x (27.3 + 21) = 144.9 h, of
    # which 63 h idle; at 0.025 an hour: 3.6225 -> 3.62 (to the nearest cent), 1.575 idle.
    fargate = option(data, "shared-hub-fargate")
    assert lines(fargate["tiers"]["pii"])["servers"] == 3.62
    assert fargate["tiers"]["pii"]["idle"] in (1.57, 1.58)  # 1.575: binary floats round either way
    # Spot half: 144.9 h x 0.015625 = 2.2640625 -> 2.26.
    spot = option(data, "shared-hub-fargate-spot")
    assert lines(spot["tiers"]["pii"])["servers"] == 2.26
    # Peak: 3 users x 0.34 = 1.02 users at once, so 2 servers (rounded up, never down): 2 x
    # 512:2048 + the hub's 512:1024 = 1536:5120, first held by 2048:8192: 730 h x (2 x 0.04 +
    # 8 x 0.01 = 0.16) = 116.80.
    original = option(data, "original-design")
    assert original["tiers"]["pii"]["note"] == "task 2048:8192 for 2 users at peak"
    assert lines(original["tiers"]["pii"])["hub task"] == 116.80


def test_original_design_says_when_the_peak_does_not_fit(small, tmp_path):
    # 100 users at peak x 1 vCPU = 100 vCPU: more than the largest Fargate task (16 vCPU).
    big = tmp_path / "big.yaml"
    big.write_text(SMALL.replace("users: 1", "users: 100").replace('"512:2048"', '"1024:4096"'))
    original = option(cost_json(big), "original-design")
    assert original["available"] is False
    assert original["total"] is None
    assert original["tiers"]["pii"]["note"] == (
        "does not fit: 100 users at peak x 1024:4096 + the hub's 512:1024 need "
        "102912:410624; the largest Fargate task is 16384:122880"
    )


def test_personal_hub_by_hand(small):
    # Matched to the shared hub's architecture (ARM64 by default): the cheapest allowed, priced
    # Arm CPU instance with >= 0.5 vCPU and 2 GB is m7g.large at 0.05 (g4dn.xlarge is cheaper
    # but a GPU instance). 50 h x 0.05 = 2.50 (10 idle h = 0.50). EBS, billed while stopped:
    # root 40 GB (the template's mapping for m7g.large) + data 20 GB = 60 GB x 0.10 = 6.00.
    # Idle-stop alarm 0.10. The homes on the data volume, backed up by the platform's plan:
    # 4 GB x (1 + 0.01 x 35) = 5.4 GB of snapshots x 0.05 = 0.27.
    hub = option(cost_json(small), "personal-hub")
    pii = hub["tiers"]["pii"]
    assert pii["note"] == "m7g.large"
    assert lines(pii) == {
        "volumes (EBS gp3)": 6.00,
        "alarms": 0.10,
        "home backups (EBS snapshots)": 0.27,
        "instances": 2.50,
    }
    assert pii["idle"] == 0.50
    assert hub["total"] == 8.87


def test_sagemaker_and_platform_by_hand(small):
    data = cost_json(small)
    # Matched: the cheapest non-burstable ml.* with >= 0.5 vCPU and 2 GB, ml.m5.large at 0.10:
    # 50 h = 5.00, 10 idle h 1.00; the space's storage 4 GB x 0.10 = 0.40: 5.40.
    studio = option(data, "sagemaker-studio")
    assert studio["tiers"]["pii"]["note"] == "ml.m5.large"
    assert lines(studio["tiers"]["pii"]) == {"space storage": 0.40, "instances": 5.00}
    assert (studio["total"], studio["idle"]) == (5.40, 1.00)
    # Burstable, a second line: ml.t3.medium at 0.05: 2.50 + 0.40 = 2.90.
    burstable = option(data, "sagemaker-studio-burstable")
    assert burstable["tiers"]["pii"]["note"] == "ml.t3.medium"
    assert burstable["total"] == 2.90
    # Platform: 2 KMS keys x 1.00 + 10 GB S3 x 0.02 + 1 repository x 10 GB x 0.10 = 3.20.
    assert data["platform"]["total"] == 3.20
    assert data["cheapest"] == "sagemaker-studio-burstable"


def test_an_existing_load_balancer_is_not_counted(small, tmp_path):
    usage = tmp_path / "existing.yaml"
    usage.write_text(SMALL.replace("shared-hub:\n", "shared-hub:\n  load_balancer: existing\n"))
    fargate = option(cost_json(usage), "shared-hub-fargate")
    assert "load balancer" not in lines(fargate["tiers"]["pii"])
    assert fargate["total"] == 18.95  # 40.85 - 21.90


def test_a_bigger_hub_task_in_the_templates_changes_the_estimate(small, tmp_path, monkeypatch):
    """Build the templates with HubSize's default raised to 2048:8192; nothing else changes."""
    from products.shared_hub import parameters

    monkeypatch.setattr(parameters, "DEFAULT_HUB_SIZE", "2048:8192")
    build_dir = tmp_path / "build"
    build_folder.write(builder.generate(load_portfolio(ROOT / "portfolio.yaml")), build_dir)
    body = json.loads((build_dir / "shared-hub/pii.template.json").read_text())
    assert body["Parameters"]["HubSize"]["Default"] == "2048:8192"

    fargate = option(cost_json(small, build_dir), "shared-hub-fargate")
    # Hub task 730 h x (2 vCPU x 0.03 + 8 GB x 0.005 = 0.10) = 73.00, was 14.60: +58.40.
    assert lines(fargate["tiers"]["pii"])["hub task"] == 73.00
    assert fargate["total"] == 99.25  # 40.85 + 58.40
    # The original design's task holds the bigger hub too: 512:2048 + 2048:8192 = 2560:10240,
    # held first by 4096:16384: 730 h x (4 x 0.04 + 16 x 0.01 = 0.32) = 233.60.
    original = option(cost_json(small, build_dir), "original-design")
    assert lines(original["tiers"]["pii"])["hub task"] == 233.60


def test_json_parses_and_matches_the_table(small):
    common = ["--usage", str(small), "-p", str(ROOT / "portfolio.yaml"), "--prices", str(PRICES)]
    data = json.loads(run(*common, "--format", "json").stdout)
    table = run(*common).stdout
    for item in data["options"]:
        row = next(line for line in table.splitlines() if line.startswith(item["label"] + " "))
        cells = row[len(item["label"]) :].split()
        expected = [item["tiers"]["pii"]["total"], item["shared"]["total"]]
        expected += [item["fixed"], item["per_use"], item["idle"], item["total"]]
        assert cells == [f"{v:.2f}" for v in expected] + [f"{item['floor_multiple']:.1f}x"], row
        assert all(isinstance(v, float) for v in expected)
    burstable = option(data, "sagemaker-studio-burstable")["total"]
    assert f"cheapest: SageMaker Studio, burstable, {burstable:.2f}" in table
    floor = next(line for line in table.splitlines() if line.startswith("floor: active"))
    assert floor.split()[-2:] == [f"{data['floor']['total']:.2f}", "1.0x"]
    assert data["assumptions"] and data["hours_per_month"] == 730
    assert data["prices_recorded"] == "2026-01-01" and "prices recorded 2026-01-01" in table


BAD_USAGE = [
    pytest.param(
        SMALL.replace("users: 1\n", "users: one\n"),
        "usage.yaml:4:12: tiers[0].users: must be a whole number",
        id="wrong-type",
    ),
    pytest.param(
        SMALL.replace("peak_concurrency: 1.0", "peak_concurrency: 1.5"),
        "usage.yaml:8:23: tiers[0].peak_concurrency: must be at most 1",
        id="out-of-range",
    ),
    pytest.param(
        SMALL.replace("  hub_state_gb: 2\n", "  hub_state_gigs: 2\n"),
        "usage.yaml:15:3: shared-hub.hub_state_gigs: unknown field 'hub_state_gigs'; allowed "
        "here: container_insights, cpu_architecture, fargate_spot_share, hub_hours, "
        "hub_state_gb, idle_timeout_minutes, load_balancer, load_balancer_gb_per_active_hour, "
        "load_balancer_lcus, log_gb_per_user",
        id="unknown-key",
    ),
    pytest.param(
        SMALL.replace("  hub_state_gb: 2\n", '  in_hub_overhead: "256:512"\n  hub_state_gb: 2\n'),
        "usage.yaml:15:3: shared-hub.in_hub_overhead: unknown field 'in_hub_overhead'",
        id="in-hub-mode-is-gone",
    ),
    pytest.param(
        SMALL.replace("name: pii", "name: secret"),
        "usage.yaml:3:11: tiers[0].name: tier 'secret' is not in the built templates; use one "
        "of: pii, nonpii",
        id="tier-not-in-templates",
    ),
    pytest.param(
        SMALL.replace('"512:2048"', '"512:3000"'),
        "usage.yaml:9:18: tiers[0].server_size: '512:3000' is not a size the shared-hub "
        "template offers; use one of:",
        id="size-not-offered",
    ),
    pytest.param(
        SMALL.replace("schema: labcatalog-usage/v1\n", ""),
        "usage.yaml:1:1: schema: missing required field; start the file with: "
        "schema: labcatalog-usage/v1",
        id="no-schema",
    ),
    pytest.param(
        SMALL.replace("  - name: pii", "  - name: [pii"),
        "usage.yaml:",
        id="yaml-syntax",
    ),
]


@pytest.mark.parametrize("text,expected", BAD_USAGE)
def test_bad_usage_is_exit_2_with_file_and_line(tmp_path, text, expected):
    (tmp_path / "usage.yaml").write_text(text)
    result = run(
        "--usage", "usage.yaml", "--build-dir", str(ROOT / "build"),
        "-p", str(ROOT / "portfolio.yaml"), "--prices", str(PRICES), cwd=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[0].startswith(expected), result.stderr


def test_missing_usage_file_is_exit_2(tmp_path):
    result = run("--usage", str(tmp_path / "nope.yaml"), "-p", str(ROOT / "portfolio.yaml"))
    assert result.exit_code == 2
    assert "no such file; pass a usage file" in result.stderr


def test_unknown_region_is_exit_2_listing_regions_with_prices(small):
    result = run("--usage", str(small), "-p", str(ROOT / "portfolio.yaml"), "--region", "mars-1")
    assert result.exit_code == 2
    assert "no prices for region 'mars-1'" in result.stderr
    assert "regions with prices: us-east-1" in result.stderr


def test_missing_build_is_exit_2_with_a_hint(small, tmp_path):
    result = run(
        "--usage", str(small), "-p", str(ROOT / "portfolio.yaml"),
        "--build-dir", str(tmp_path / "build"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{tmp_path / 'build' / 'manifest.json'} (missing)" in result.stderr
    assert "run: labcatalog build" in result.stderr


def test_edited_build_is_stale_exit_2(small, tmp_path):
    build_dir = tmp_path / "build"
    shutil.copytree(ROOT / "build", build_dir)
    template = build_dir / "shared-hub" / "pii.template.json"
    template.write_text(template.read_text().replace('"1024:4096"', '"2048:8192"', 1))
    result = run("--usage", str(small), "-p", str(ROOT / "portfolio.yaml"),
                 "--build-dir", str(build_dir))  # fmt: skip
    assert result.exit_code == 2
    assert "out of date" in result.stderr and f"{template} (differs)" in result.stderr
    assert "run: labcatalog build" in result.stderr


def test_the_estimate_uses_the_build_it_checked_and_reads_build_no_more(
    small, tmp_path, monkeypatch
):
    """The stale-build check generates the build in memory and compares it with the folder; the
    estimate is made from that build. The folder is removed right after the check, so a second
    read would fail; the figures are those of the committed build."""
    build_dir = tmp_path / "build"
    shutil.copytree(ROOT / "build", build_dir)
    checked = build_folder.require_current

    def check_then_remove(*args, **kwargs):
        build = checked(*args, **kwargs)
        shutil.rmtree(build_dir)
        return build

    monkeypatch.setattr(build_folder, "require_current", check_then_remove)
    estimate = cost_json(small, build_dir)
    assert not build_dir.exists()
    monkeypatch.undo()
    assert estimate == cost_json(small)


def test_bad_price_list_is_exit_2_with_file_and_line(small, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES.read_text().replace("alb_hour: {price: 0.02", "alb_hour: {price: x"))
    result = run("--usage", str(small), "-p", str(ROOT / "portfolio.yaml"),
                 "--prices", str(prices))  # fmt: skip
    assert result.exit_code == 2
    assert re.match(r".*prices\.yaml:\d+:\d+: regions\.us-east-1\.alb_hour\.price: must be a "
                    "number", result.stderr), result.stderr  # fmt: skip

    undated = tmp_path / "undated.yaml"
    undated.write_text(PRICES.read_text().replace('    recorded: "2026-01-01"\n', ""))
    result = run("--usage", str(small), "-p", str(ROOT / "portfolio.yaml"),
                 "--prices", str(undated))  # fmt: skip
    assert result.exit_code == 2
    assert "regions.us-east-1.recorded: missing required field" in result.stderr, result.stderr


def test_help_explains_the_model():
    result = CliRunner().invoke(main, ["cost", "--help"])
    assert result.exit_code == 0
    for words in ("--usage", "--region", "--format", "730 hours", "NAT gateways"):
        assert words in result.output


def test_every_shipped_price_has_a_source_and_a_date_or_a_note():
    from generator.engine.cost.prices import load_prices

    prices = load_prices(None, "us-east-1")  # validation enforces source and as_of-or-note
    allowed = json.loads((ROOT / "build/personal-hub/pii.template.json").read_text())
    for instance_type in allowed["Parameters"]["InstanceType"]["AllowedValues"]:
        assert instance_type in prices.ec2, f"no price for {instance_type}"


def test_the_example_uses_no_price_without_a_dated_source():
    """Every figure the example's estimate multiplies by has a source and the date it gives."""
    from generator.engine.cost.prices import load_prices

    result = run("--usage", "usage.yaml", "--format", "json", cwd=ROOT)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["undated_prices"] == []
    prices = load_prices(None, "us-east-1")
    figures = ["logs_storage_gb_month", "alarm_month", "secret_month", "s3_standard_gb_month"]
    figures += ["custom_metric_month", "sagemaker_storage_gb_month", "efs_ia_gb_month"]
    for name in figures:
        assert getattr(prices, name).dated, name
    assert prices.sagemaker["ml.m5.large"].dated and prices.sagemaker["ml.t3.medium"].dated
    # An undated figure is still listed: the check can fail.
    undated = prices.model_copy(
        update={"alarm_month": prices.alarm_month.model_copy(update={"as_of": None})}
    )
    assert undated.undated(set()) == ["alarm_month"]


# Two tiers used alike: pii as in SMALL, and nonpii with the same one user.
TWO_TIERS = SMALL.replace(
    "shared-hub:\n",
    "  - name: nonpii\n    users: 1\n    active_hours_per_day: 2\n    days_per_month: 20\n"
    '    sessions_per_day: 1\n    peak_concurrency: 1.0\n    server_size: "512:2048"\n'
    "    home_gb_per_user: 4\nshared-hub:\n",
)


def altered_build(monkeypatch, alter) -> None:
    """Make the cost command estimate the example's build with `alter(stack, body)` applied to
    each template (after the build folder's check, which the real build passes)."""
    checked = build_folder.require_current

    def require_current(*args, **kwargs):
        build = checked(*args, **kwargs)
        return build_folder.Build.of(
            dataclasses.replace(t, text=json.dumps(alter(t.stack, json.loads(t.text))))
            for t in build.templates
        )

    monkeypatch.setattr(build_folder, "require_current", require_current)


LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"


def own_load_balancers(tiers: tuple[str, ...] = ("pii", "nonpii"), account: bool = False):
    """The build as `per_hub: true` would make it for `tiers`: a load balancer in their hub
    templates; the account's in the platform's root only if `account` (some tier still on it)."""

    def alter(stack: str, body: dict) -> dict:
        resources = body["Resources"]
        if stack == "platform" and not account:
            body["Resources"] = {k: r for k, r in resources.items() if r["Type"] != LOAD_BALANCER}
        if stack in {f"shared-hub/{tier}" for tier in tiers}:
            resources["HubLoadBalancer"] = {"Type": LOAD_BALANCER, "Properties": {}}
        return body

    return alter


def test_the_account_load_balancer_is_counted_once_by_hand(tmp_path, monkeypatch):
    usage = tmp_path / "usage.yaml"
    usage.write_text(TWO_TIERS)
    # The build (the example's default): the platform's root has the one load balancer and the
    # hub templates none: each tier 14.60 + 0.60 + 0.5296 + 0.50 + 1.20 + 0.27 + 1.25 (servers
    # on regular Fargate) = 18.9496, the account's load balancer 730 h x (0.02 + 1 LCU x 0.01)
    # = 21.90 once, in the shared part: 2 x 18.9496 + 21.90 = 59.7992.
    data = cost_json(usage)
    fargate = option(data, "shared-hub-fargate")
    assert "load balancer" not in lines(fargate["tiers"]["pii"])
    assert fargate["tiers"]["pii"]["total"] == fargate["tiers"]["nonpii"]["total"] == 18.95
    assert lines(fargate["shared"]) == {"load balancer (one for the account)": 21.90}
    assert fargate["total"] == 59.80
    assert option(data, "shared-hub-fargate-spot")["shared"] == fargate["shared"]
    assert data["resources"]["platform"]["load_balancers"] == 1
    assert data["resources"]["shared-hub"]["load_balancers_per_tier"] == {"pii": 0, "nonpii": 0}
    # x floor: the floor is 2 tiers x 40 h x 0.00625 = 0.50; 59.7992 / 0.50 = 119.6.
    assert (data["floor"]["total"], fargate["floor_multiple"]) == (0.50, 119.6)
    # The original design keeps its own shared load balancer, as before.
    assert lines(option(data, "original-design")["shared"]) == {"load balancer": 21.90}
    # The table: the account's load balancer in the shared column, the multiple of the total.
    table = run(
        "--usage", str(usage), "-p", str(ROOT / "portfolio.yaml"), "--prices", str(PRICES)
    ).stdout  # fmt: skip
    row = next(line for line in table.splitlines() if line.startswith(fargate["label"] + " "))
    # pii, nonpii, shared, fixed (2 x 17.6996 + 21.90), per use (2 x 1.25), idle, total, x floor
    cells = ["18.95", "18.95", "21.90", "57.30", "2.50", "0.50", "59.80", "119.6x"]
    assert row.split()[-8:] == cells, row

    # With a load balancer per hub (per_hub: true): 21.90 in each tier, nothing shared: each
    # tier 40.8496, two tiers 81.6992.
    altered_build(monkeypatch, own_load_balancers())
    before = option(cost_json(usage), "shared-hub-fargate")
    assert (before["shared"]["lines"], before["total"]) == ([], 81.70)
    assert lines(before["tiers"]["nonpii"])["load balancer"] == 21.90


def test_a_tier_with_its_own_load_balancer_beside_the_account_one_by_hand(tmp_path, monkeypatch):
    # nonpii's settings still give each of its hubs one: 18.95 (pii) + 40.85 (nonpii) + the
    # account's 21.90 = 81.70.
    usage = tmp_path / "usage.yaml"
    usage.write_text(TWO_TIERS)
    altered_build(monkeypatch, own_load_balancers(("nonpii",), account=True))
    fargate = option(cost_json(usage), "shared-hub-fargate")
    assert "load balancer" not in lines(fargate["tiers"]["pii"])
    assert lines(fargate["tiers"]["nonpii"])["load balancer"] == 21.90
    assert lines(fargate["shared"]) == {"load balancer (one for the account)": 21.90}
    assert fargate["total"] == 81.70


def test_existing_counts_no_load_balancer_not_even_the_account_one(tmp_path, monkeypatch):
    # load_balancer: existing: one paid for elsewhere; 2 x 18.9496 = 37.90.
    usage = tmp_path / "usage.yaml"
    usage.write_text(TWO_TIERS.replace("shared-hub:\n", "shared-hub:\n  load_balancer: existing\n"))
    altered_build(monkeypatch, own_load_balancers(("nonpii",), account=True))
    data = cost_json(usage)
    fargate = option(data, "shared-hub-fargate")
    assert (fargate["shared"]["lines"], fargate["total"]) == ([], 37.90)
    assert "load balancer" not in lines(fargate["tiers"]["nonpii"])
    assert any("shared-hub.load_balancer: existing" in a for a in data["assumptions"])


def test_sensitivity_counts_the_account_load_balancer_once_by_hand(tmp_path, monkeypatch):
    # Every tier at 5 users (test_sensitivity_by_hand), without its own load balancer: hub task
    # 14.60, hub state 0.60, logs 2.5 + 0.14795, secrets 0.50, homes 6.00, backups 1.35,
    # servers 3.90625 = 29.6042 a tier; 2 x 29.6042 + 21.90 once = 81.1084 (not the 2 x 51.50
    # of a load balancer per tier). Floor 2 x 1.25 = 2.50; 81.1084 / 2.50 = 32.4.
    usage = tmp_path / "usage.yaml"
    usage.write_text(TWO_TIERS)
    result = run(
        "--usage", str(usage), "-p", str(ROOT / "portfolio.yaml"), "--prices", str(PRICES),
        "--sensitivity",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[3].startswith("| 5 | 2.50 | 81.11 (32.4x) |")


def test_homes_on_infrequent_access_by_hand(tmp_path, monkeypatch):
    # The platform's homes move files unread for 30 days to IA (products/platform/homes.py);
    # the usage's default share, 0.5, of 1 user x 4 GB is there: 2 GB x 0.30 + 2 GB x 0.02 =
    # 0.64 (all on Standard: 1.20). Backups are of the same 4 GB whatever the class: 0.27.
    usage = tmp_path / "usage.yaml"
    usage.write_text(SMALL.replace("  home_infrequent_share: 0 ", "  # "))
    data = cost_json(usage)
    pii = option(data, "shared-hub-fargate")["tiers"]["pii"]
    assert {k: lines(pii)[k] for k in HOMES} == {"homes (EFS)": 0.64, "home backups": 0.27}
    homes = next(line for line in pii["lines"] if line["item"] == "homes (EFS)")
    assert homes["detail"] == "1 x 4 GB, 50% on Infrequent Access (unread 30 days)"
    assert data["resources"]["platform"]["homes_to_infrequent_access_days"] == {
        "nonpii": 30,
        "pii": 30,
    }
    # A share of 0.8: 0.8 GB x 0.30 + 3.2 GB x 0.02 = 0.304.
    usage.write_text(SMALL.replace("home_infrequent_share: 0 ", "home_infrequent_share: 0.8 "))
    assert (
        lines(option(cost_json(usage), "shared-hub-fargate")["tiers"]["pii"])["homes (EFS)"] == 0.30
    )

    # Without the lifecycle in the template, no IA: all 4 GB at Standard, 1.20.
    def without_lifecycle(stack: str, body: dict) -> dict:
        for resource in body["Resources"].values():
            if resource["Type"] == "AWS::EFS::FileSystem":
                resource["Properties"].pop("LifecyclePolicies", None)
        return body

    altered_build(monkeypatch, without_lifecycle)
    data = cost_json(usage)
    assert lines(option(data, "shared-hub-fargate")["tiers"]["pii"])["homes (EFS)"] == 1.20
    assert data["resources"]["platform"]["homes_to_infrequent_access_days"] == {}


def test_availability_zones_from_the_portfolio_by_hand(small, tmp_path):
    from generator.engine.cost.model import portfolio_zones

    # The example: the platform network's two server subnets, two zones (test_network_by_hand).
    assert cost_json(small)["resources"]["network"] == {
        "availability_zones": 2,
        "from": "portfolio",
    }
    # A tier with a network of its own: its server subnets 0002 (the platform's too) and 0005
    # add one distinct subnet, so 3 zones: NAT gateways 3 x 730 h x 0.05 = 109.50, their
    # addresses 3 x 730 h x 0.005 = 10.95, NAT data 1 user x 1 GB x 0.05 = 0.05.
    text = (ROOT / "portfolio.yaml").read_text()
    own = (
        "    network:\n      vpc_id: vpc-0123456789abcdef0\n"
        "      server_subnets: [subnet-0a1b2c3d4e5f60002, subnet-0a1b2c3d4e5f60005]\n"
        "      load_balancer_subnets: [subnet-0a1b2c3d4e5f60003, subnet-0a1b2c3d4e5f60004]\n"
        "      load_balancer: {per_hub: true}\n"
    )
    marker = "    identity_group: data-scientists\n"
    assert text.count(marker) == 1
    portfolio_path = tmp_path / "portfolio.yaml"
    portfolio_path.write_text(text.replace(marker, marker + own))
    portfolio = load_portfolio(portfolio_path)
    assert portfolio_zones(portfolio) == 3
    build_dir = tmp_path / "build"
    build_folder.write(builder.generate(portfolio), build_dir)
    result = run(
        "--usage", str(small), "--build-dir", str(build_dir), "-p", str(portfolio_path),
        "--prices", str(PRICES), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert lines(data["network"]) == {
        "NAT gateways": 109.50,
        "public IPv4 (NAT gateways)": 10.95,
        "NAT data": 0.05,
    }
    assert any("3 availability zones (from the portfolio's" in a for a in data["assumptions"])
    # The usage's availability_zones overrides it: back to 2 zones, 73.00 of NAT gateways.
    usage = tmp_path / "two.yaml"
    usage.write_text(SMALL + "network:\n  availability_zones: 2\n")
    result = run(
        "--usage", str(usage), "--build-dir", str(build_dir), "-p", str(portfolio_path),
        "--prices", str(PRICES), "--format", "json",
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert lines(data["network"])["NAT gateways"] == 73.00
    assert data["resources"]["network"] == {"availability_zones": 2, "from": "usage"}


def test_load_balancer_lcus_from_active_hours_by_hand(tmp_path):
    # Without a flat load_balancer_lcus, a load balancer's LCU-hours are its hubs' users' active
    # hours x 0.1 GB (the default): 1 user x 2 h x 20 days = 40 h -> 4 LCU-hours x 0.01 = 0.04,
    # plus 730 h x 0.02 = 14.60: 14.64 for the account's one (flat 1 LCU an hour: 21.90).
    usage = tmp_path / "usage.yaml"
    usage.write_text(SMALL.replace("  load_balancer_lcus: 1\n", ""))
    data = cost_json(usage)
    (line,) = option(data, "shared-hub-fargate")["shared"]["lines"]
    assert (line["item"], line["amount"]) == ("load balancer (one for the account)", 14.64)
    assert line["detail"] == "1 x 730 h, 4 LCU-hours: 40 active h x 0.1 GB"
    # Half a GB an active hour: 20 LCU-hours x 0.01 = 0.20 -> 14.80.
    usage.write_text(
        SMALL.replace("  load_balancer_lcus: 1\n", "  load_balancer_gb_per_active_hour: 0.5\n")
    )
    (line,) = option(cost_json(usage), "shared-hub-fargate")["shared"]["lines"]
    assert line["amount"] == 14.80
