"""The usage profile (usage.yaml): who uses the hubs, how much, on what size of server.

Validated like portfolio.yaml: strict types, no unknown keys, every problem reported with its
file, line and column. `check_against` then compares it with what the built templates allow
(the tiers, the server sizes, the instance types).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from generator.engine.cost.prices import RegionPrices
from generator.model.problems import InputError, Loc, Problem
from generator.model.validation import validate
from generator.model.yamlsource import Source, load_source

SCHEMA = "labcatalog-usage/v1"


def _check_size(value: str) -> str:
    if not re.fullmatch(r"\d+:\d+", value):
        raise ValueError(
            "a Fargate size is cpu:memory in Fargate units, e.g. '1024:4096' (1 vCPU, 4 GB)"
        )
    return value


Size = Annotated[str, AfterValidator(_check_size)]


def _check_hours(value: str) -> str:
    if not re.fullmatch(r"(1?\d|2[0-3])-(1?\d|2[0-3])", value):
        raise ValueError("hub hours are START-STOP, two hours from 0 to 23, e.g. '7-20'")
    return value


HubHours = Annotated[str, AfterValidator(_check_hours)]
Share = Annotated[float, Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TierUsage(_Model):
    """How one tier's users work."""

    name: str = Field(min_length=1, description="A tier of the built templates, e.g. pii.")
    users: int = Field(ge=0, le=100_000, description="Data scientists using the tier.")
    active_hours_per_day: float = Field(
        ge=0, le=24, description="Hours a user actively works in a notebook on a working day."
    )
    days_per_month: float = Field(21, ge=0, le=31, description="Working days a month.")
    sessions_per_day: int = Field(
        1, ge=1, le=24, description="Sessions a day; each ends with an idle period before stop."
    )
    peak_concurrency: Share = Field(
        0.5, description="Share of the tier's users working at the same time at the busiest hour."
    )
    server_size: Size | None = Field(
        None,
        description="Fargate cpu:memory of a user's server; default: the template's "
        "DefaultServerSize. The other products are matched to it.",
    )
    instance_type: str | None = Field(
        None,
        description="personal-hub instance type; default: the cheapest allowed x86 instance "
        "with at least server_size's vCPUs and memory.",
    )
    sagemaker_instance_type: str | None = Field(
        None,
        description="SageMaker Studio instance type; default: the cheapest priced ml.* "
        "instance with at least server_size's vCPUs and memory.",
    )
    home_gb_per_user: float = Field(
        2.0,
        ge=0,
        le=100_000,
        description="GB each user keeps in their home: notebooks, files, installed packages.",
    )


class SharedHubUsage(_Model):
    """Settings of the shared-hub product and its running costs."""

    fargate_spot_share: Share = Field(
        0.9,
        description="Share of server hours on Fargate Spot when the template runs servers on "
        "Spot (FargateSpot): the rest start on regular Fargate because Spot had no capacity.",
    )
    idle_timeout_minutes: int | None = Field(
        None, ge=5, le=1440, description="Default: the template's IdleTimeoutMinutes."
    )
    cpu_architecture: Literal["ARM64", "X86_64"] | None = Field(
        None, description="Default: the template's CpuArchitecture."
    )
    hub_hours: HubHours | None = Field(
        None,
        description="START-STOP: the hub runs on working days between these hours only (the "
        "template's HubHours); default: the template's (empty: always on).",
    )
    container_insights: bool | None = Field(
        None, description="Default: the template's ContainerInsights (disabled)."
    )
    load_balancer: Literal["as-built", "existing"] = Field(
        "as-built",
        description="as-built: the load balancers the build creates (the account's one in the "
        "platform's template, and a hub's own where its tier's settings give it one); "
        "existing: count none, the hubs use one paid for elsewhere.",
    )
    load_balancer_gb_per_active_hour: float = Field(
        0.1,
        ge=0,
        le=1000,
        description="GB a user's browser exchanges with a hub through the load balancer per "
        "active hour: a load balancer's LCUs are counted from it (for a few dozen users the "
        "processed bytes are the largest of the four LCU dimensions; 1 LCU-hour is 1 GB).",
    )
    load_balancer_lcus: float | None = Field(
        None,
        ge=0,
        le=1000,
        description="Instead: average LCUs each load balancer uses every hour of the month.",
    )
    hub_state_gb: float = Field(1.0, ge=0, le=10_000, description="GB on each hub's EFS.")
    log_gb_per_user: float = Field(
        0.5, ge=0, le=10_000, description="GB of CloudWatch logs each user produces a month."
    )


class NetworkUsage(_Model):
    """The VPC the hubs run in: what it costs whatever the self-hosted option (its NAT
    gateways, interface endpoints and their public addresses), shown apart from the options."""

    availability_zones: int | None = Field(
        None,
        ge=1,
        le=16,
        description="Zones of the hubs' subnets; default: from portfolio.yaml, each distinct "
        "server subnet (the platform network's and a tier's own) taken as one zone.",
    )
    nat_gateways_per_az: int = Field(
        1, ge=0, le=1, description="1: a NAT gateway in each zone; 0: none (endpoints only)."
    )
    interface_endpoints: int = Field(
        0, ge=0, le=50, description="Interface endpoints (ECR, logs, ...), each in every zone."
    )
    nat_gb_per_user: float = Field(
        1.0, ge=0, le=10_000, description="GB a user's server sends through NAT a month."
    )


class PersonalHubUsage(_Model):
    """Settings of the personal-hub product."""

    idle_stop_minutes: int | None = Field(
        None, ge=0, le=1440, description="Default: the template's IdleStopMinutes (0: never)."
    )
    data_volume_gb: int | None = Field(
        None, ge=10, le=4096, description="Default: the template's DataVolumeSize."
    )


class ManagedUsage(_Model):
    """The managed notebook service compared with (Amazon SageMaker Studio)."""

    idle_shutdown_minutes: int = Field(
        60, ge=0, le=1440, description="Its idle shutdown of a JupyterLab space."
    )


class PlatformUsage(_Model):
    """Storage the platform stack holds whatever the option."""

    notebook_storage_gb: float = Field(20, ge=0, description="GB in the notebook bucket.")
    image_storage_gb: float = Field(5, ge=0, description="GB of hub images in ECR.")
    home_daily_change: Share = Field(
        0.01,
        description="Share of a home that changes a day; backups keep each change until the "
        "backup plan's longest retention ends.",
    )
    home_infrequent_share: Share = Field(
        0.5,
        description="Share of a home's bytes not read for the homes' lifecycle period (30 "
        "days), so on EFS Infrequent Access. AWS puts the usual share of files infrequently "
        "accessed at 80% (https://www.amazonaws.cn/en/efs/pricing/); half is conservative, as "
        "a home holds installed packages that every kernel start reads.",
    )


class Usage(_Model):
    """A usage profile for `labcatalog cost`."""

    schema_version: Literal["labcatalog-usage/v1"] = Field(alias="schema")
    tiers: list[TierUsage] = Field(min_length=1)
    shared_hub: SharedHubUsage = Field(default_factory=SharedHubUsage, alias="shared-hub")
    personal_hub: PersonalHubUsage = Field(default_factory=PersonalHubUsage, alias="personal-hub")
    managed_notebooks: ManagedUsage = Field(default_factory=ManagedUsage)
    platform: PlatformUsage = Field(default_factory=PlatformUsage)
    network: NetworkUsage = Field(default_factory=NetworkUsage)


def load_usage(path: Path, display: str | None = None) -> tuple[Usage, Source]:
    """Read and validate a usage file; its `Source` is kept for the checks against templates."""
    display = display or str(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "no such file"
        raise InputError(
            [
                Problem(
                    display, 1, 1, "(file)", f"{what}; pass a usage file, e.g. --usage usage.yaml"
                )
            ]
        )
    source = load_source(path, display)
    return validate(source, Usage, f"schema: {SCHEMA}"), source


def check_against(
    usage: Usage,
    source: Source,
    tiers: list[str],
    server_sizes: list[str],
    instance_types: list[str],
    prices: RegionPrices,
) -> None:
    """Raise `InputError` where the usage names what the templates or prices do not have."""
    found: list[tuple[Loc, str]] = []
    seen: set[str] = set()
    for i, tier in enumerate(usage.tiers):
        if tier.name in seen:
            found.append((("tiers", i, "name"), f"tier {tier.name!r} is listed twice"))
        seen.add(tier.name)
        if tier.name not in tiers:
            found.append(
                (
                    ("tiers", i, "name"),
                    f"tier {tier.name!r} is not in the built templates; use one of: "
                    f"{', '.join(tiers)}",
                )
            )
        if tier.server_size and tier.server_size not in server_sizes:
            found.append(
                (
                    ("tiers", i, "server_size"),
                    f"{tier.server_size!r} is not a size the shared-hub template offers; use one "
                    f"of: {', '.join(server_sizes)}",
                )
            )
        if tier.instance_type and tier.instance_type not in instance_types:
            found.append(
                (
                    ("tiers", i, "instance_type"),
                    f"{tier.instance_type!r} is not allowed by the personal-hub template; use "
                    f"one of: {', '.join(instance_types)}",
                )
            )
        elif tier.instance_type and tier.instance_type not in prices.ec2:
            found.append(
                (
                    ("tiers", i, "instance_type"),
                    f"{tier.instance_type!r} has no price; add it under ec2 in the price list",
                )
            )
        if tier.sagemaker_instance_type and tier.sagemaker_instance_type not in prices.sagemaker:
            found.append(
                (
                    ("tiers", i, "sagemaker_instance_type"),
                    f"{tier.sagemaker_instance_type!r} has no price; use one of: "
                    f"{', '.join(prices.sagemaker)}",
                )
            )
    if found:
        raise InputError([source.problem(loc, message) for loc, message in found])
