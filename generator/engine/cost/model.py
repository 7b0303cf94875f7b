"""The arithmetic: monthly cost of each option for a usage profile, by tier, fixed and per use.

Every figure is price x quantity, with the quantity taken from the usage profile or from the
built templates (resources.py). Nothing here knows a price or a resource count of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from generator.engine.cost.prices import Instance, RegionPrices
from generator.engine.cost.resources import FargateSize, SharedHub, Templates
from generator.engine.cost.usage import TierUsage, Usage
from generator.model.config import Portfolio
from generator.model.problems import UserError

HOURS_PER_MONTH = 730.0  # AWS's own convention for a month of an always-on resource
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True)
class Line:
    """One billed item: what, fixed or per use, how much a month, and how much of it is idle."""

    item: str
    kind: Literal["fixed", "per_use"]
    amount: float
    idle: float = 0.0
    detail: str = ""


@dataclass
class Part:
    """An option's cost for one tier, or its part shared by all tiers."""

    lines: list[Line] = field(default_factory=list)
    note: str = ""
    available: bool = True

    def _sum(self, kind: str | None = None) -> float:
        return sum(line.amount for line in self.lines if kind in (None, line.kind))

    @property
    def fixed(self) -> float:
        return self._sum("fixed")

    @property
    def per_use(self) -> float:
        return self._sum("per_use")

    @property
    def idle(self) -> float:
        return sum(line.idle for line in self.lines)

    @property
    def total(self) -> float:
        return self._sum()


@dataclass
class Option:
    """One way to serve the same users, with its cost per tier and in total."""

    key: str
    label: str
    tiers: dict[str, Part]
    shared: Part = field(default_factory=Part)
    note: str = ""

    @property
    def parts(self) -> list[Part]:
        return [*self.tiers.values(), self.shared]

    @property
    def available(self) -> bool:
        return all(part.available for part in self.parts)

    def total(self, what: str = "total") -> float:
        return sum(getattr(part, what) for part in self.parts)


@dataclass
class Estimate:
    region: str
    options: list[Option]
    platform: Part
    resources: dict
    assumptions: list[str]
    undated_prices: list[str]
    prices_recorded: str
    network: Part = field(default_factory=Part)
    floor: dict[str, float] = field(default_factory=dict)  # by tier

    @property
    def floor_total(self) -> float:
        return sum(self.floor.values())

    def multiple(self, option: Option) -> float | None:
        """How many times the floor `option` costs (None when it is unavailable or no floor)."""
        if not option.available or not self.floor_total:
            return None
        return option.total() / self.floor_total

    @property
    def cheapest(self) -> Option | None:
        available = [o for o in self.options if o.available]
        return min(available, key=lambda o: o.total()) if available else None


WEEKDAYS_PER_MONTH = DAYS_PER_MONTH * 5 / 7  # the hub hours' schedule runs Monday to Friday
# Container Insights' metrics (billed as custom metrics) of one hub's cluster: a set per
# cluster, per service (the hub's) and per task definition family (the hub's, the servers'
# product definition, and each user's own: ecs_spawner.py registers one family per user).
# Counted from the metric names AWS lists for ECS (CPU and memory used and reserved, network
# in and out, storage read and write: 8 everywhere; task, service and container instance
# counts for the cluster; deployment, desired, pending, running and task set counts for a
# service): https://docs.amazonaws.cn/en_us/AmazonCloudWatch/latest/monitoring/appinsights-metrics-ecs.html
INSIGHTS_METRICS_PER_CLUSTER, INSIGHTS_METRICS_PER_SERVICE, INSIGHTS_METRICS_PER_FAMILY = 11, 13, 8


def fargate_rates(prices: RegionPrices, arch: str = "x86_64") -> tuple[float, float]:
    """On-demand Fargate (vCPU-hour, GB-hour) for `arch` (x86_64 or arm64)."""
    if arch == "arm64":
        return prices.fargate_arm_vcpu_hour.price, prices.fargate_arm_gb_hour.price
    return prices.fargate_vcpu_hour.price, prices.fargate_gb_hour.price


def fargate_hourly(
    size: FargateSize, prices: RegionPrices, spot_share: float = 0.0, arch: str = "x86_64"
) -> float:
    """What a task of `size` costs an hour on `arch`, with `spot_share` of its hours on Fargate
    Spot (the typical discount) and the rest on regular Fargate."""
    vcpu, gb = fargate_rates(prices, arch)
    on_demand = size.vcpu * vcpu + size.gb * gb
    return on_demand * (1 - spot_share * prices.fargate_spot_discount.price)


def cheapest_fargate_hourly(size: FargateSize, prices: RegionPrices) -> float:
    """`size` an hour at the cheapest compute price: Fargate Spot on the cheaper architecture."""
    return min(fargate_hourly(size, prices, 1.0, arch) for arch in ("x86_64", "arm64"))


def hub_hours_per_month(hours: str | None) -> float:
    """Hours a month the hub runs: always (None or ""), or START-STOP on working days."""
    if not hours:
        return HOURS_PER_MONTH
    start, stop = (int(h) for h in hours.split("-"))
    return WEEKDAYS_PER_MONTH * ((stop - start) % 24)


def _instances(running: float, idle: float, hourly: float, chosen: str) -> Line:
    """The per-use line of instances billed by the hour: `running` hours, `idle` of them idle."""
    return Line(
        "instances",
        "per_use",
        running * hourly,
        idle * hourly,
        detail=f"{running:g} h x {chosen} ({idle:g} h idle)",
    )


def match_instance(
    instances: dict[str, Instance],
    allowed: Iterable[str],
    size: FargateSize,
    arch: str | None = None,
    burstable: bool | None = None,
) -> str | None:
    """The cheapest CPU instance with at least `size`'s vCPUs and memory (None if none fits);
    `burstable` True or False keeps only burstable (t3) or only non-burstable instances."""
    fits = [
        (instances[name].price, name)
        for name in allowed
        if name in instances
        and instances[name].gpus == 0
        and (arch is None or instances[name].arch == arch)
        and (burstable is None or instances[name].burstable == burstable)
        and instances[name].vcpu >= size.vcpu
        and instances[name].memory_gib >= size.gb
    ]
    return min(fits)[1] if fits else None


def active_hours(tier: TierUsage) -> float:
    """Hours of active work a month, all the tier's users together."""
    return tier.users * tier.active_hours_per_day * tier.days_per_month


def running_hours(tier: TierUsage, idle_minutes: int) -> tuple[float, float]:
    """(running, idle) hours a month of one server per user that stops `idle_minutes` after
    each session's last activity; 0 minutes means it never stops (always on)."""
    if idle_minutes == 0:
        running = tier.users * HOURS_PER_MONTH
        return running, running - active_hours(tier)
    per_user = tier.active_hours_per_day * tier.days_per_month
    idle_per_user = tier.sessions_per_day * tier.days_per_month * idle_minutes / 60
    idle_per_user = min(idle_per_user, HOURS_PER_MONTH - per_user)
    return tier.users * (per_user + idle_per_user), tier.users * idle_per_user


def peak_users(tier: TierUsage) -> int:
    return math.ceil(tier.users * tier.peak_concurrency - 1e-9)


def backup_gb(home_gb: float, daily_change: float, retention_days: int) -> float:
    """Backup storage of `home_gb`: one full copy, then each day's changes until they expire."""
    return home_gb * (1 + daily_change * retention_days)


def portfolio_zones(portfolio: Portfolio) -> int:
    """Availability zones of the hubs' subnets, from the portfolio's network settings: each
    distinct server subnet of the platform's network and of any tier's own network taken as
    one zone (a subnet lies in one zone; the hubs and their servers run in them)."""
    subnets = set(portfolio.platform.network.server_subnets)
    for tier in portfolio.tiers:
        subnets.update(portfolio.network(tier).server_subnets)
    return len(subnets)


def network_zones(usage: Usage, from_portfolio: int | None) -> int:
    """The usage's `network.availability_zones` when set, else the portfolio's zones."""
    zones = usage.network.availability_zones or from_portfolio
    if zones is None:
        raise UserError(
            "the availability zones of the hubs' network are unknown: pass the portfolio or set "
            "network.availability_zones in the usage file"
        )
    return zones


class Estimator:
    """Costs the options for one usage profile, set of templates and price list."""

    def __init__(
        self, usage: Usage, templates: Templates, prices: RegionPrices, zones: int | None = None
    ):
        self.usage, self.templates, self.prices = usage, templates, prices
        self.zones = network_zones(usage, zones)
        self.instances_used: set[str] = set()  # "ec2.TYPE", "sagemaker.TYPE"

    # shared pieces --------------------------------------------------------------------------
    def server_size(self, tier: TierUsage) -> FargateSize:
        if tier.server_size:
            return FargateSize.parse(tier.server_size)
        return self.templates.shared_hub().server_task

    def _idle_timeout(self) -> int:
        chosen = self.usage.shared_hub.idle_timeout_minutes
        return (
            chosen
            if chosen is not None
            else int(self.templates.stack("shared-hub").default("IdleTimeoutMinutes"))
        )

    def _shared_hub_default(self, name: str) -> str:
        return str(self.templates.stack("shared-hub").default(name) or "")

    def arch(self) -> str:
        """The shared hub's CPU architecture (arm64 or x86_64): the usage's, or the template's."""
        chosen = self.usage.shared_hub.cpu_architecture
        values = {"CpuArchitecture": chosen} if chosen else {}
        return self.templates.fargate_arch(**values)

    def spot_by_default(self) -> bool:
        return self._shared_hub_default("FargateSpot") == "true"

    def hub_hours(self) -> str:
        chosen = self.usage.shared_hub.hub_hours
        return chosen if chosen is not None else self._shared_hub_default("HubHours")

    def container_insights(self) -> bool:
        chosen = self.usage.shared_hub.container_insights
        if chosen is not None:
            return chosen
        return self._shared_hub_default("ContainerInsights") == "enabled"

    def floor(self, tier: TierUsage) -> float:
        """The compute actually used: active hours x server size x the cheapest compute price."""
        return active_hours(tier) * cheapest_fargate_hourly(self.server_size(tier), self.prices)

    def _load_balancers(
        self, count: int, tiers: list[TierUsage], item: str = "load balancer"
    ) -> list[Line]:
        """`count` load balancers all month, in front of `tiers`' hubs (none: no line): the
        load-balancer hours, and the LCU-hours their users' traffic makes (or the usage's flat
        LCUs an hour)."""
        if not count:
            return []
        p, settings = self.prices, self.usage.shared_hub
        if settings.load_balancer_lcus is not None:
            lcu_hours = count * HOURS_PER_MONTH * settings.load_balancer_lcus
            lcus = f"{settings.load_balancer_lcus:g} LCU an hour"
        else:
            active = sum(active_hours(t) for t in tiers)
            lcu_hours = active * settings.load_balancer_gb_per_active_hour
            lcus = (
                f"{lcu_hours:g} LCU-hours: {active:g} active h x "
                f"{settings.load_balancer_gb_per_active_hour:g} GB"
            )
        return [
            Line(
                item,
                "fixed",
                count * HOURS_PER_MONTH * p.alb_hour.price + lcu_hours * p.alb_lcu_hour.price,
                detail=f"{count} x 730 h, {lcus}",
            )
        ]

    def _hub_hours_note(self) -> str:
        hours = self.hub_hours()
        if not hours:
            return "the hub always on"
        return f"the hub on working days {hours} only (HubHours)"

    def _counts_load_balancers(self) -> bool:
        """False when the usage says the hubs use a load balancer paid for elsewhere."""
        return self.usage.shared_hub.load_balancer != "existing"

    def account_load_balancers(self) -> Part:
        """The load balancers of the platform's root template, shared by every tier's shared
        hubs: counted once, in the shared-hub options' shared part."""
        count = self.templates.platform().load_balancers if self._counts_load_balancers() else 0
        return Part(
            self._load_balancers(count, self.usage.tiers, "load balancer (one for the account)")
        )

    def _hub_running_costs(
        self, hub: SharedHub, tier: TierUsage, load_balancers: int
    ) -> list[Line]:
        """What a shared hub costs besides its tasks: its own load balancers, EFS, logs,
        secrets, alarms."""
        p, settings = self.prices, self.usage.shared_hub
        lines = self._load_balancers(load_balancers, [tier])
        lines.append(
            Line(
                "hub state (EFS)",
                "fixed",
                hub.file_systems * settings.hub_state_gb * p.efs_standard_gb_month.price,
                detail=f"{hub.file_systems} x {settings.hub_state_gb:g} GB",
            )
        )
        if hub.log_groups:
            ingested = tier.users * settings.log_gb_per_user
            kept_months = max(hub.log_groups) / DAYS_PER_MONTH
            lines.append(
                Line(
                    "logs",
                    "fixed",
                    ingested * p.logs_ingest_gb.price
                    + ingested * kept_months * p.logs_storage_gb_month.price,
                    detail=f"{ingested:g} GB a month, kept {max(hub.log_groups)} days",
                )
            )
        counted = (
            ("secrets", hub.secrets, p.secret_month.price),
            ("keys", hub.kms_keys, p.kms_key_month.price),
            ("alarms", hub.alarms, p.alarm_month.price),
        )
        lines += [Line(item, "fixed", n * price, detail=f"{n}") for item, n, price in counted if n]
        return lines

    # the options ----------------------------------------------------------------------------
    def shared_hub_fargate(self, tier: TierUsage, spot_share: float) -> Part:
        hub = self.templates.shared_hub(tier.name)
        own_load_balancers = hub.load_balancers if self._counts_load_balancers() else 0
        size, arch = self.server_size(tier), self.arch()
        rate = fargate_hourly(size, self.prices, spot_share, arch)
        running, idle = running_hours(tier, self._idle_timeout())
        hours = hub_hours_per_month(self.hub_hours())
        # The hub itself stays on regular Fargate (compute.py says why).
        lines = [
            Line(
                "hub task",
                "fixed",
                sum(hours * fargate_hourly(t, self.prices, 0.0, arch) for t in hub.always_on_tasks),
                detail=" + ".join(f"{hours:g} h x {t} {arch}" for t in hub.always_on_tasks),
            ),
            *self._hub_running_costs(hub, tier, own_load_balancers),
            *self._homes_on_efs(tier),
            *self._container_insights(tier, len(hub.always_on_tasks)),
            Line(
                "servers",
                "per_use",
                running * rate,
                idle * rate,
                detail=f"{running:g} h x {size} {arch}, {spot_share:.0%} on Spot ({idle:g} h idle)",
            ),
        ]
        return Part(lines)

    def _container_insights(self, tier: TierUsage, services: int) -> list[Line]:
        if not self.container_insights():
            return []
        families = 2 + tier.users  # the hub's, the servers' product definition, each user's
        metrics = (
            INSIGHTS_METRICS_PER_CLUSTER
            + services * INSIGHTS_METRICS_PER_SERVICE
            + families * INSIGHTS_METRICS_PER_FAMILY
        )
        return [
            Line(
                "Container Insights",
                "fixed",
                metrics * self.prices.custom_metric_month.price,
                detail=f"{metrics} metrics: 1 cluster, {services} service, {families} families",
            )
        ]

    def _homes_on_efs(self, tier: TierUsage) -> list[Line]:
        """The tier's users' homes on its EFS file system (the platform's), and their backups."""
        platform = self.templates.platform()
        if not platform.home_file_systems:
            return []
        p = self.prices
        gb = tier.users * tier.home_gb_per_user
        days = platform.backup_retention_days
        backed_up = backup_gb(gb, self.usage.platform.home_daily_change, days)
        # With the homes' lifecycle moving files unread for N days to Infrequent Access, the
        # usage's share of the bytes is priced there, the rest at Standard.
        ia_days = platform.homes_to_infrequent_access.get(tier.name)
        share = self.usage.platform.home_infrequent_share if ia_days else 0.0
        detail = f"{tier.users} x {tier.home_gb_per_user:g} GB"
        if ia_days:
            detail += f", {share:.0%} on Infrequent Access (unread {ia_days} days)"
        lines = [
            Line(
                "homes (EFS)",
                "fixed",
                gb * (1 - share) * p.efs_standard_gb_month.price
                + gb * share * p.efs_ia_gb_month.price,
                detail=detail,
            )
        ]
        if days:
            lines.append(
                Line(
                    "home backups",
                    "fixed",
                    backed_up * p.backup_efs_gb_month.price,
                    detail=f"{backed_up:g} GB: the homes and {days} days of changes",
                )
            )
        return lines

    def original_design(self, tier: TierUsage) -> Part:
        """The design before per-user tasks, a baseline rather than a product option: one
        always-on task per tier that holds the hub task (as the template sizes it) and the
        peak's servers, attached to a load balancer shared by the tiers."""
        hub = self.templates.shared_hub(tier.name)
        server = self.server_size(tier)
        peak = peak_users(tier)
        own = FargateSize(
            sum(t.cpu for t in hub.always_on_tasks), sum(t.memory for t in hub.always_on_tasks)
        )
        need = FargateSize(peak * server.cpu + own.cpu, peak * server.memory + own.memory)
        sizes = [s for s in self.templates.fargate_sizes() if s.fits(need.cpu, need.memory)]
        if not sizes:
            largest = self.templates.fargate_sizes()[-1]
            return Part(
                note=f"does not fit: {peak} users at peak x {server} + the hub's {own} need "
                f"{need}; the largest Fargate task is {largest}",
                available=False,
            )
        size = sizes[0]
        tasks = len(hub.always_on_tasks)
        lines = [
            Line(
                "hub task",
                "fixed",
                tasks * HOURS_PER_MONTH * fargate_hourly(size, self.prices),
                detail=f"730 h x {size} for {peak} users at peak",
            ),
            # Its load balancer is the one shared by the tiers (the option's shared part).
            *self._hub_running_costs(hub, tier, 0),
        ]
        return Part(lines, note=f"task {size} for {peak} users at peak")

    def personal_hub(self, tier: TierUsage) -> Part:
        stack = self.templates.stack("personal-hub")
        settings = self.usage.personal_hub
        chosen = tier.instance_type or match_instance(
            self.prices.ec2,
            stack.allowed("InstanceType"),
            self.server_size(tier),
            self.arch() if self.templates.has("shared-hub") else None,
        )
        if chosen is None:
            return Part(note="no priced instance type of the template fits", available=False)
        idle_stop = (
            settings.idle_stop_minutes
            if settings.idle_stop_minutes is not None
            else int(stack.default("IdleStopMinutes"))
        )
        values = {"InstanceType": chosen, "IdleStopMinutes": idle_stop}
        if settings.data_volume_gb is not None:
            values["DataVolumeSize"] = settings.data_volume_gb
        hub = self.templates.personal_hub(**values)
        p = self.prices
        hourly = p.ec2[chosen].price
        self.instances_used.add(f"ec2.{chosen}")
        running, idle = running_hours(tier, idle_stop)
        gb = hub.root_volume_gb + hub.data_volume_gb
        lines = [
            Line(
                "volumes (EBS gp3)",
                "fixed",
                tier.users * gb * p.ebs_gp3_gb_month.price,
                detail=f"{tier.users} x {gb} GB, billed while stopped",
            ),
            Line(
                "alarms",
                "fixed",
                tier.users * hub.alarms * p.alarm_month.price,
                detail=f"{tier.users} x {hub.alarms}",
            ),
            Line("secrets", "fixed", tier.users * hub.secrets * p.secret_month.price),
            Line("keys", "fixed", tier.users * hub.kms_keys * p.kms_key_month.price),
            *self._home_snapshots(tier, hub),
            _instances(running, idle, hourly, chosen),
        ]
        return Part([line for line in lines if line.amount or line.kind == "per_use"], note=chosen)

    def _home_snapshots(self, tier: TierUsage, hub) -> list[Line]:
        """Backups of the data volumes (the homes on them) by the platform's backup plan."""
        days = self.templates.platform().backup_retention_days
        if not (hub.backed_up and days):
            return []
        gb = tier.users * tier.home_gb_per_user
        backed_up = backup_gb(gb, self.usage.platform.home_daily_change, days)
        return [
            Line(
                "home backups (EBS snapshots)",
                "fixed",
                backed_up * self.prices.backup_ebs_gb_month.price,
                detail=f"{backed_up:g} GB: the homes and {days} days of changes",
            )
        ]

    def sagemaker(self, tier: TierUsage, burstable: bool = False) -> Part:
        """Studio with an instance matched to the server size: non-burstable (the like-for-like
        match), or burstable (t3: a full vCPU only while CPU credits last)."""
        chosen = tier.sagemaker_instance_type or match_instance(
            self.prices.sagemaker,
            self.prices.sagemaker,
            self.server_size(tier),
            burstable=burstable,
        )
        if chosen is None:
            return Part(note="no priced ml.* instance fits", available=False)
        hourly = self.prices.sagemaker[chosen].price
        self.instances_used.add(f"sagemaker.{chosen}")
        running, idle = running_hours(tier, self.usage.managed_notebooks.idle_shutdown_minutes)
        gb = tier.users * tier.home_gb_per_user
        storage = Line(
            "space storage",
            "fixed",
            gb * self.prices.sagemaker_storage_gb_month.price,
            detail=f"{tier.users} x {tier.home_gb_per_user:g} GB",
        )
        return Part([storage, _instances(running, idle, hourly, chosen)], note=chosen)

    def network(self) -> Part:
        """The VPC's NAT gateways, interface endpoints and the gateways' public addresses: a
        cost of the self-hosted options whatever their number of hubs (Studio's default
        internet access needs none of it)."""
        p, net, zones = self.prices, self.usage.network, self.zones
        gateways = zones * net.nat_gateways_per_az
        endpoints = zones * net.interface_endpoints
        users = sum(t.users for t in self.usage.tiers)
        lines = [
            Line(
                "NAT gateways",
                "fixed",
                gateways * HOURS_PER_MONTH * p.nat_gateway_hour.price,
                detail=f"{gateways} (one a zone) x 730 h",
            ),
            Line(
                "public IPv4 (NAT gateways)",
                "fixed",
                gateways * HOURS_PER_MONTH * p.public_ipv4_hour.price,
                detail=f"{gateways} x 730 h",
            ),
            Line(
                "interface endpoints",
                "fixed",
                endpoints * HOURS_PER_MONTH * p.interface_endpoint_hour.price,
                detail=f"{net.interface_endpoints} x {zones} zones x 730 h",
            ),
            Line(
                "NAT data",
                "per_use",
                (users * net.nat_gb_per_user if gateways else 0) * p.nat_gateway_gb.price,
                detail=f"{users} users x {net.nat_gb_per_user:g} GB",
            ),
        ]
        return Part([line for line in lines if line.amount])

    def platform(self) -> Part:
        stack = self.templates.platform()
        p, settings = self.prices, self.usage.platform
        return Part(
            [
                Line(
                    "keys",
                    "fixed",
                    stack.kms_keys * p.kms_key_month.price,
                    detail=f"{stack.kms_keys} KMS keys",
                ),
                Line(
                    "notebook bucket (S3)",
                    "fixed",
                    settings.notebook_storage_gb * p.s3_standard_gb_month.price,
                    detail=f"{settings.notebook_storage_gb:g} GB",
                ),
                Line(
                    "hub images (ECR)",
                    "fixed",
                    stack.repositories * settings.image_storage_gb * p.ecr_gb_month.price,
                    detail=f"{settings.image_storage_gb:g} GB",
                ),
            ]
        )

    def options(self) -> list[Option]:
        tiers = self.usage.tiers
        share = self.usage.shared_hub.fargate_spot_share
        found = []

        def option(key: str, label: str, cost, note: str = "") -> Option:
            return Option(key, label, {t.name: cost(t) for t in tiers}, note=note)

        if self.templates.has("shared-hub"):
            spot = option(
                "shared-hub-fargate-spot",
                f"shared-hub, {share:.0%} Spot{' (default)' if self.spot_by_default() else ''}",
                lambda t: self.shared_hub_fargate(t, share),
                note=f"servers on Fargate Spot, on regular Fargate when Spot has no capacity "
                f"({share:.0%} of hours on Spot assumed); {self.arch()}; {self._hub_hours_note()}",
            )
            regular = option(
                "shared-hub-fargate",
                f"shared-hub, regular Fargate{'' if self.spot_by_default() else ' (default)'}",
                lambda t: self.shared_hub_fargate(t, 0.0),
                note=f"FargateSpot=false; {self._hub_hours_note()}",
            )
            # The account's load balancer, if the platform's template has one: once for all.
            spot.shared = regular.shared = self.account_load_balancers()
            found += [spot, regular] if self.spot_by_default() else [regular, spot]
        if self.templates.has("personal-hub"):
            found.append(option("personal-hub", "personal-hub, idle stop", self.personal_hub))
        if self.templates.has("shared-hub"):
            original = option(
                "original-design",
                "original: always-on task per tier",
                self.original_design,
                note="a baseline, not a product option: the design before per-user tasks; one "
                "load balancer shared by the tiers",
            )
            original.shared = Part(self._load_balancers(1, self.usage.tiers))
            found.append(original)
        found.append(
            option(
                "sagemaker-studio",
                "SageMaker Studio, matched",
                self.sagemaker,
                note="managed notebooks on the cheapest non-burstable instance with at least "
                "the server's vCPUs and memory; the domain's own storage not included",
            )
        )
        found.append(
            option(
                "sagemaker-studio-burstable",
                "SageMaker Studio, burstable",
                lambda t: self.sagemaker(t, burstable=True),
                note="on a burstable (t3) instance: its full vCPUs only while CPU credits last, "
                "so not a like-for-like match",
            )
        )
        return found


def assumptions(usage: Usage, zones: int) -> list[str]:
    """What the model assumes and leaves out, said in the JSON output and the README."""
    settings, net = usage.shared_hub, usage.network
    zones_from = (
        "the usage's network.availability_zones"
        if net.availability_zones
        else "the portfolio's network settings: each distinct server subnet of the platform's "
        "network and of any tier's own network is taken as one zone"
    )
    found = [
        "A month is 730 hours for always-on resources (hub tasks, load balancers, alarms).",
        "A user's server runs for the active hours plus, after each session, the idle timeout "
        "before it is culled or stopped; that idle time is shown as the cost of idle.",
        (
            f"Load balancers use {settings.load_balancer_lcus:g} LCU on average each hour."
            if settings.load_balancer_lcus is not None
            else "A load balancer's LCU-hours are its hubs' active user-hours x "
            f"{settings.load_balancer_gb_per_active_hour:g} GB (processed bytes, the largest "
            "LCU dimension for a few dozen users: 1 LCU-hour is 1 GB)."
        ),
        "The shared hub's load balancers are those the build creates: one in the platform's "
        "template shared by every tier's hubs (counted once, in the shared column), and a hub's "
        "own where its tier's settings give it one (counted per tier); none where hubs use an "
        "existing listener"
        + (
            ", and none at all here: the usage says they use one paid for elsewhere "
            "(shared-hub.load_balancer: existing)."
            if settings.load_balancer == "existing"
            else "."
        ),
        f"Each user writes {settings.log_gb_per_user:g} GB of logs a month, kept for the "
        "template's LogRetentionDays (stored uncompressed: an upper bound).",
        f"Each hub keeps {settings.hub_state_gb:g} GB on EFS (Standard storage only).",
        "The original design, a baseline from before per-user tasks, runs one always-on task "
        "per tier: the smallest Fargate size that holds the peak users x server size plus the "
        "hub task's own size (HubSize).",
        f"With FargateSpot (the template's default) {settings.fargate_spot_share:.0%} of server "
        "hours run on Fargate Spot and the rest on regular Fargate, where the spawner starts a "
        "server when Spot has no capacity (usage: shared-hub.fargate_spot_share). Spot is "
        "priced at a typical discount below on-demand (the price list's fargate_spot_discount); "
        "its prices vary. The hub task itself runs on regular Fargate.",
        "The shared hub runs on the template's CpuArchitecture (ARM64 by default), priced at "
        "Fargate's ARM rates. With HubHours set, the hub task runs only then on working days "
        f"({WEEKDAYS_PER_MONTH:.2f} a month); its load balancer runs all month.",
        "The floor is the compute actually used: each tier's active hours x its server size x "
        "the cheapest compute price (Fargate Spot on the cheaper architecture). Each option's "
        "multiple is its total over the floor.",
        "Container Insights, when on, is billed as custom metrics: per hub "
        f"{INSIGHTS_METRICS_PER_CLUSTER} for the cluster, {INSIGHTS_METRICS_PER_SERVICE} per "
        f"service and {INSIGHTS_METRICS_PER_FAMILY} per task definition family (one per user); "
        "its performance log events are not counted.",
        f"The VPC (network row) has {zones} availability zones (from {zones_from}), "
        f"{net.nat_gateways_per_az} NAT gateway and {net.interface_endpoints} interface "
        "endpoints in each, and a free S3 gateway endpoint (image layers and notebooks do not "
        "pass the NAT gateways); each user's server sends "
        f"{net.nat_gb_per_user:g} GB a month through NAT. It is the same for "
        "every self-hosted option and is not in their totals; SageMaker Studio's default "
        "internet access needs none of it.",
        "SageMaker Studio keeps each user's home_gb_per_user on their space's storage.",
        "personal-hub and SageMaker Studio instances are matched to the server size: the "
        "cheapest priced CPU instance with at least its vCPUs and memory.",
        "Prices are on-demand list prices: no free tier, Savings Plans or Reserved Instances, "
        "before tax.",
        "Each user keeps their tier's home_gb_per_user GB in their home: on the tier's EFS "
        "file system for the shared hub, on the data volume for the personal hub (already in "
        "its volume size). Where the homes' lifecycle moves files unread for 30 days to EFS "
        f"Infrequent Access (the platform's template), {usage.platform.home_infrequent_share:.0%}"
        " of a home's bytes are priced there (usage: platform.home_infrequent_share) and the "
        "rest at Standard; IA's per-GB read and tiering charges are not counted (a file read "
        "goes back to Standard after one access).",
        f"Backups hold one full copy of the homes plus {usage.platform.home_daily_change:.0%} "
        "of them a day, kept for the backup plan's longest retention (the platform's hourly "
        "recovery points expire sooner and add little).",
        "Not included: data transfer out and across zones, interface endpoints' data, the data "
        "lake's S3 storage and requests, KMS and API requests, EC2 detailed monitoring, EFS "
        "throughput and restores, the snapshot kept when a personal hub is terminated, the "
        "SageMaker Studio domain's own storage, CodeBuild image builds.",
    ]
    return found


def estimate(
    usage: Usage,
    templates: Templates,
    prices: RegionPrices,
    region: str,
    zones: int | None = None,
) -> Estimate:
    """Every option's cost for `usage`, plus what was read from the templates to get there;
    `zones`: the availability zones of the portfolio's network (`portfolio_zones`)."""
    estimator = Estimator(usage, templates, prices, zones)
    resources: dict = {"templates": dict(sorted(templates.paths.items()))}
    if templates.has("shared-hub"):
        stack = templates.stack("shared-hub")
        hub = templates.shared_hub()
        resources["shared-hub"] = {
            "hub_task": [str(t) for t in hub.always_on_tasks],
            "default_server_size": str(hub.server_task),
            "load_balancers_per_tier": {
                tier: templates.shared_hub(tier).load_balancers for tier in templates.tiers()
            },
            "file_systems": hub.file_systems,
            "log_groups": len(hub.log_groups),
            "log_retention_days": max(hub.log_groups, default=0),
            "secrets": hub.secrets,
            "alarms": hub.alarms,
            "idle_timeout_minutes": int(stack.default("IdleTimeoutMinutes")),
            "fargate_sizes": [str(s) for s in templates.fargate_sizes()],
        }
    if templates.has("personal-hub"):
        stack = templates.stack("personal-hub")
        hub = templates.personal_hub()
        resources["personal-hub"] = {
            "default_instance_type": hub.instance_type,
            "root_volume_gb": hub.root_volume_gb,
            "data_volume_gb": hub.data_volume_gb,
            "gp3": hub.volumes_gp3,
            "alarms": hub.alarms,
            "idle_stop_minutes": int(stack.default("IdleStopMinutes")),
            "instance_types": stack.allowed("InstanceType"),
        }
    platform = templates.platform()
    resources["platform"] = {
        "kms_keys": platform.kms_keys,
        "buckets": platform.buckets,
        "repositories": platform.repositories,
        "home_file_systems": platform.home_file_systems,
        "backup_retention_days": platform.backup_retention_days,
        "homes_to_infrequent_access_days": platform.homes_to_infrequent_access,
        "load_balancers": platform.load_balancers,
    }
    resources["network"] = {
        "availability_zones": estimator.zones,
        "from": "usage" if usage.network.availability_zones else "portfolio",
    }
    options = estimator.options()
    if templates.has("shared-hub"):
        resources["shared-hub"] |= {
            "cpu_architecture": estimator.arch(),
            "fargate_spot_by_default": estimator.spot_by_default(),
            "hub_hours": estimator.hub_hours() or None,
            "hub_hours_per_month": round(hub_hours_per_month(estimator.hub_hours()), 2),
            "container_insights": estimator.container_insights(),
        }
    return Estimate(
        region=region,
        options=options,
        platform=estimator.platform(),
        resources=resources,
        assumptions=assumptions(usage, estimator.zones),
        undated_prices=prices.undated(estimator.instances_used),
        prices_recorded=prices.recorded,
        network=estimator.network(),
        floor={tier.name: estimator.floor(tier) for tier in usage.tiers},
    )


SENSITIVITY_USERS = (1, 5, 20, 50, 200)


def sensitivity(
    usage: Usage,
    templates: Templates,
    prices: RegionPrices,
    region: str,
    zones: int | None = None,
    users: tuple[int, ...] = SENSITIVITY_USERS,
) -> list[tuple[int, Estimate]]:
    """The estimate again with every tier at each number of `users`, all else as in `usage`."""
    return [
        (
            count,
            estimate(
                usage.model_copy(
                    update={"tiers": [t.model_copy(update={"users": count}) for t in usage.tiers]}
                ),
                templates,
                prices,
                region,
                zones,
            ),
        )
        for count in users
    ]
