"""The shared-hub console parameters: each declared once, with its group, label and constraint.

Build-time settings (the tiers, the platform's network, identity provider and DNS) come from
portfolio.yaml; what a team lead chooses at launch is a parameter here, in console order, and
only the hub's name has no default.

The load balancer's parameters (`LOAD_BALANCER_SETTINGS`) are the tier's settings
(`network.load_balancer` in portfolio.yaml): the template declares them so its conditions read
them, and the build binds each in the tier's template (`bound`), so the console never asks them.
The one exception is `ExistingListenerRulePriority` in a tier whose hubs share an existing
listener: a rule's priority must be unique on its listener, and nothing a template can compute
(no hash, no counter) tells one hub's from another's, so the team lead gives it (default 100).
"""

from __future__ import annotations

from generator.cfn.parameters import Console, Group, Param
from generator.model.config import Portfolio, Tier
from products.hub_image.content import image_tag

# Valid Fargate task sizes, "cpu:memory" in Fargate units (1024 = 1 vCPU; MiB).
FARGATE_SIZES = (
    "256:512",
    "512:1024",
    "512:2048",
    "1024:2048",
    "1024:4096",
    "1024:8192",
    "2048:4096",
    "2048:8192",
    "2048:16384",
    "4096:8192",
    "4096:16384",
    "4096:30720",
    "8192:16384",
    "8192:32768",
    "8192:61440",
    "16384:32768",
    "16384:65536",
    "16384:122880",
)
# The smallest size that holds the measured load with headroom: README, the hub's size.
DEFAULT_HUB_SIZE = "512:1024"
IDLE_TIMEOUT_MINUTES = 20
LOG_RETENTION_DAYS = (30, 60, 90, 180, 365, 731, 1827, 3653)

_OPTIONAL = "^$|^(?:{})$"
_REQUIRED = "^(?:{})$"


def _text(
    name: str,
    label: str,
    pattern: str,
    description: str,
    constraint: str,
    default: str = "",
    optional: bool = True,
) -> Param:
    """A text parameter; an optional one may be empty, a required one must be set."""
    return Param(
        name,
        label,
        description,
        allowed_pattern=(_OPTIONAL if optional else _REQUIRED).format(pattern),
        constraint=constraint,
        default=default if optional or default else None,
    )


def _choice(name: str, label: str, values: tuple, default: str, description: str) -> Param:
    return Param(
        name,
        label,
        description,
        allowed_values=values,
        default=default,
        constraint=f"must be one of: {', '.join(values)}",
    )


# Parameters whose values are the tier's load-balancer settings, bound by the build.
LOAD_BALANCER_SETTINGS = (
    "LoadBalancer",
    "LoadBalancerScheme",
    "AllowedCidr",
    "DeletionProtection",
    "ExistingListenerArn",
    "ExistingLoadBalancerSecurityGroup",
    "ExistingLoadBalancerDnsName",
    "ExistingLoadBalancerZoneId",
)
RULE_PRIORITY = "ExistingListenerRulePriority"
# The priority's value where the hub makes its own listener (the template then uses 1).
UNUSED_PRIORITY = "100"


def bound(portfolio: Portfolio, tier: Tier) -> dict[str, str]:
    """The load balancer's parameters, as `tier`'s settings give them: bound in its template.

    With an existing listener, the rule's priority stays a parameter (see the module docstring).
    """
    settings = portfolio.network(tier).load_balancer
    existing = settings.existing_listener
    values = {
        "LoadBalancer": "existing"
        if existing
        else "account"
        if portfolio.uses_account_load_balancer(tier)
        else "new",
        "LoadBalancerScheme": settings.scheme,
        "AllowedCidr": settings.allowed_cidr,
        "DeletionProtection": "true" if settings.deletion_protection else "false",
        "ExistingListenerArn": existing.arn if existing else "",
        "ExistingLoadBalancerSecurityGroup": existing.security_group if existing else "",
        "ExistingLoadBalancerDnsName": existing.dns_name if existing else "",
        "ExistingLoadBalancerZoneId": existing.hosted_zone_id if existing else "",
    }
    assert tuple(values) == LOAD_BALANCER_SETTINGS
    if existing is None:
        values[RULE_PRIORITY] = UNUSED_PRIORITY
    return values


def declared(portfolio: Portfolio) -> Console:
    """Every parameter of the shared-hub template, in console order."""
    tiers = [t.name for t in portfolio.tiers]
    return Console(
        Group(
            "Your hub",
            Param(
                "Tier",
                "Data tier",
                "The data tier this hub serves; your portfolio allows one.",
                allowed_values=tiers,
                constraint=f"must be one of the tiers: {', '.join(tiers)}",
            ),
            Param(
                "HubName",
                "Hub name",
                "A short name for your team's hub, e.g. churn-team: its address is this name "
                "in your platform's domain for the tier (the stack's HubUrl output).",
                allowed_pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
                constraint="1-63 lowercase letters, digits and '-', not starting or ending "
                "with '-'",
            ),
        ),
        Group(
            "Load balancer",
            _choice(
                "LoadBalancer",
                "Load balancer",
                ("account", "new", "existing"),
                "account",
                "account: the account's load balancer (the platform's), where the tier's route "
                "function adds this hub's host name. new: create an HTTPS load balancer for this "
                "hub. existing: add a rule to an existing HTTPS listener.",
            ),
            _choice(
                "LoadBalancerScheme",
                "Reachable from",
                ("internal", "internet-facing"),
                "internal",
                "internal: only from your network. internet-facing: from the internet, limited "
                "to the CIDR below.",
            ),
            _text(
                "AllowedCidr",
                "Allowed client CIDR",
                r"((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)",
                "Clients in this range may reach the hub over HTTPS (0.0.0.0/0 for anyone).",
                "must be an IPv4 CIDR such as 10.0.0.0/8",
                default="10.0.0.0/8",
                optional=False,
            ),
            _choice(
                "DeletionProtection",
                "Deletion protection",
                ("true", "false"),
                "false",
                "Protect the new load balancer from deletion (then set false again before "
                "terminating). It holds no data: the hub state is kept when the hub is terminated.",
            ),
            _text(
                "ExistingListenerArn",
                "Existing HTTPS listener ARN",
                r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/[\w./-]+",
                "existing only: the HTTPS listener to add this hub's host rule to.",
                "must be an application load balancer listener ARN, or empty",
            ),
            Param(
                "ExistingListenerRulePriority",
                "Rule priority on that listener",
                "A priority no other rule of the platform's shared HTTPS listener uses; ask "
                "your platform team for a free one.",
                type="Number",
                default=int(UNUSED_PRIORITY),
                min_value=1,
                max_value=50000,
                constraint="must be a whole number from 1 to 50000",
            ),
            _text(
                "ExistingLoadBalancerSecurityGroup",
                "Existing load balancer's security group",
                r"sg-[0-9a-f]{8,17}",
                "existing only: the load balancer's security group, allowed to reach the hub.",
                "must be a security group id (sg-...), or empty",
            ),
            _text(
                "ExistingLoadBalancerDnsName",
                "Existing load balancer's DNS name",
                r"[a-zA-Z0-9.-]{1,253}",
                "existing only: its DNS name, for the hub's alias record.",
                "must be a DNS name, or empty",
            ),
            _text(
                "ExistingLoadBalancerZoneId",
                "Existing load balancer's hosted zone id",
                r"Z[A-Z0-9]{1,31}",
                "existing only: its canonical hosted zone id, for the hub's alias record.",
                "must be a hosted zone id such as Z35SXDOTRQ7X7K, or empty",
            ),
        ),
        Group(
            "Users' notebook servers",
            _choice(
                "DefaultServerSize",
                "Default server size (cpu:memory)",
                FARGATE_SIZES,
                "1024:4096",
                "Preselected size; one of the sizes below.",
            ),
            Param(
                "ServerSizes",
                "Sizes users may pick (cpu:memory)",
                "Fargate sizes, cpu:memory, comma separated (1024 = 1 vCPU).",
                type="CommaDelimitedList",
                default="1024:4096,2048:8192,4096:16384",
                allowed_values=FARGATE_SIZES,
                constraint="each size must be a valid Fargate cpu:memory pair",
            ),
            _choice(
                "FargateSpot",
                "Run servers on Fargate Spot",
                ("true", "false"),
                "true",
                "true: servers run on Fargate Spot (about 70% less), or on regular Fargate when "
                "Spot has no capacity; AWS may stop a Spot server with two minutes' notice (the "
                "home is kept). false: regular Fargate only.",
            ),
            _choice(
                "CpuArchitecture",
                "Processor architecture",
                ("ARM64", "X86_64"),
                "ARM64",
                "ARM64 (Graviton) costs about 20% less than X86_64 for the hub and the servers; "
                "pick X86_64 for packages that have no ARM build.",
            ),
            Param(
                "IdleTimeoutMinutes",
                "Stop idle servers after (minutes)",
                "A server without activity for this long is stopped.",
                type="Number",
                default=IDLE_TIMEOUT_MINUTES,
                min_value=5,
                max_value=1440,
                constraint="must be from 5 to 1440 minutes",
            ),
            _choice(
                "HubSize",
                "Hub task size (cpu:memory)",
                FARGATE_SIZES,
                DEFAULT_HUB_SIZE,
                "The hub task (JupyterHub, its proxy and idle culler only); the default holds "
                "50 active users with headroom (README, the hub's size).",
            ),
            _text(
                "HubHours",
                "Hub hours (Monday to Friday)",
                r"(1?\d|2[0-3])-(1?\d|2[0-3])",
                "Empty: the hub always runs. START-STOP, e.g. 7-20: the hub runs on working days "
                "from START:00 to STOP:00 and is stopped otherwise (its login page says so).",
                "must be empty or two hours from 0 to 23, e.g. 7-20",
            ),
            _text(
                "HubTimeZone",
                "Time zone of the hub hours",
                r"[A-Za-z][\w+-]*(/[\w+-]+){0,2}",
                "An IANA time zone such as Europe/Berlin or America/New_York.",
                "must be an IANA time zone name such as Europe/Berlin",
                default="UTC",
                optional=False,
            ),
        ),
        Group(
            "Hub image",
            _text(
                "HubImageRepository",
                "Image repository",
                r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+",
                "Leave empty for the platform's hub repository.",
                "must be a repository URI such as 123456789012.dkr.ecr.REGION.amazonaws.com/x",
            ),
            _text(
                "HubImageTag",
                "Image tag",
                r"[\w][\w.-]{0,127}",
                f"Leave empty for the image this product version was built with ({image_tag()}).",
                "must be an image tag",
            ),
        ),
        Group(
            "Operations",
            Param(
                "LogRetentionDays",
                "Keep logs for (days)",
                "How long the hub's and servers' logs are kept.",
                type="Number",
                default=LOG_RETENTION_DAYS[0],
                allowed_values=LOG_RETENTION_DAYS,
                constraint="must be one of " + ", ".join(map(str, LOG_RETENTION_DAYS)),
            ),
            _choice(
                "ContainerInsights",
                "CloudWatch Container Insights",
                ("disabled", "enabled"),
                "disabled",
                "enabled: per-task CPU and memory metrics in CloudWatch, billed as custom "
                "metrics (README, the estimate's Container Insights line).",
            ),
        ),
    )
