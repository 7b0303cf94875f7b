"""The shared-hub console parameters: each declared once, with its group, label and constraint.

Build-time settings (the tiers) come from portfolio.yaml; everything a team lead chooses at launch
is a parameter here, in console order.
"""

from __future__ import annotations

from generator.cfn import names
from generator.cfn.parameters import Console, Group, Param
from generator.model.config import Portfolio
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

_SECRET_ARN = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:{path}[\w/+=.@-]+"
_OPTIONAL = "^$|^(?:{})$"
_REQUIRED = "^(?:{})$"
_GROUP_NAME = r"[\w .,=@:/+-]{1,256}"
_ONE_LINE = r"[^\n\r]{1,1024}"
_CLAIM = r"[\w.:/-]{1,128}"


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


def declared(portfolio: Portfolio) -> Console:
    """Every parameter of the shared-hub template, in console order."""
    tiers = [t.name for t in portfolio.tiers]
    # A secret under any tier's path; the task execution role resolves only its own tier's.
    tier_secrets = names.TIER_SECRETS.format(tier="(?:" + "|".join(tiers) + ")")
    secret = _SECRET_ARN.replace("{path}", tier_secrets)
    return Console(
        Group(
            "Tier and name",
            Param(
                "Tier",
                "Data tier",
                "The data tier this hub serves; your portfolio allows one.",
                allowed_values=tiers,
                constraint=f"must be one of the tiers: {', '.join(tiers)}",
            ),
            _text(
                "HubDomainName",
                "Hub DNS name",
                r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                "The name users open, with a label that is the tier's name, e.g. "
                "hub.pii.example.com (in the hosted zone below).",
                "must be a lowercase DNS name such as hub.pii.example.com",
                optional=False,
            ),
            Param(
                "HostedZoneId",
                "Route 53 hosted zone",
                "The hosted zone that holds the hub's DNS name.",
                type="AWS::Route53::HostedZone::Id",
                constraint="must be a hosted zone of this account",
            ),
            _text(
                "CertificateArn",
                "TLS certificate (ACM ARN)",
                r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}",
                "ACM certificate for the hub DNS name; used when the hub creates its own load "
                "balancer.",
                "must be an ACM certificate ARN, or empty when attaching to a listener",
            ),
        ),
        Group(
            "Network",
            Param(
                "VpcId",
                "VPC",
                "The VPC of the hub, its load balancer and the users' servers.",
                type="AWS::EC2::VPC::Id",
                constraint="must be a VPC of this account",
            ),
            Param(
                "LoadBalancerSubnets",
                "Load balancer subnets",
                "Two or more subnets in different zones for the load balancer "
                "(public ones if internet-facing); ignored when attaching to a listener.",
                type="List<AWS::EC2::Subnet::Id>",
                constraint="must be subnets of the VPC",
            ),
            Param(
                "TaskSubnets",
                "Private subnets for the hub and servers",
                "Two or more private subnets in different zones; the hub and its "
                "state use the first two, users' servers all of them. Tasks get no public IP.",
                type="List<AWS::EC2::Subnet::Id>",
                constraint="must be private subnets of the VPC",
            ),
        ),
        Group(
            "Load balancer",
            _choice(
                "LoadBalancer",
                "Load balancer",
                ("new", "existing"),
                "new",
                "new: create an HTTPS load balancer for this hub. existing: add a rule to an "
                "existing HTTPS listener, so several hubs share one load balancer.",
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
                "existing only: a priority no other rule of the listener uses.",
                type="Number",
                default=100,
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
            "Authentication",
            _choice(
                "AuthMode",
                "Identity provider",
                ("oidc", "ldap"),
                "oidc",
                "oidc: Amazon Cognito or any OIDC issuer. ldap: LDAP or Active Directory.",
            ),
            _text(
                "OidcIssuerUrl",
                "OIDC issuer URL",
                r"https://[^\s]{3,2000}",
                "oidc: the issuer, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID.",
                "must be an https:// URL, or empty",
            ),
            _text(
                "OidcClientId",
                "OIDC client id",
                r"[\w.:@/+=-]{1,255}",
                "oidc: the app client id.",
                "must be a client id",
            ),
            _text(
                "OidcClientSecretArn",
                "OIDC client secret (Secrets Manager ARN)",
                secret,
                "oidc: ARN of a secret named labcatalog/TIER/... holding the client secret.",
                "must be the ARN of a Secrets Manager secret under labcatalog/<tier>/",
            ),
            _text(
                "OidcGroupsClaim",
                "OIDC groups claim",
                _CLAIM,
                "oidc: claim that lists groups.",
                "must be a claim name",
                default="cognito:groups",
            ),
            _text(
                "OidcUsernameClaim",
                "OIDC user name claim",
                _CLAIM,
                "oidc: claim used as the user name.",
                "must be a claim name",
                default="email",
            ),
            _text(
                "LdapUrl",
                "LDAP server URL",
                r"ldaps?://[\w.-]+(:\d{1,5})?",
                "ldap: e.g. ldaps://ad.example.com:636.",
                "must be an ldap:// or ldaps:// URL, or empty",
            ),
            _text(
                "LdapBindDnTemplate",
                "LDAP bind DN template(s)",
                _ONE_LINE,
                "ldap: e.g. uid={username},ou=people,dc=example,dc=com; separate several with ';'.",
                "must be one line",
            ),
            _text(
                "LdapGroupSearchBase",
                "LDAP group search base",
                _ONE_LINE,
                "ldap: e.g. ou=groups,dc=example,dc=com.",
                "must be one line",
            ),
            _text(
                "LdapBindUserDn",
                "LDAP lookup account DN",
                _ONE_LINE,
                "ldap: lookup account, if the server needs one.",
                "must be one line",
            ),
            _text(
                "LdapBindPasswordSecretArn",
                "LDAP lookup password (Secrets Manager ARN)",
                secret,
                "ldap: ARN of a secret named labcatalog/TIER/... holding the password.",
                "must be the ARN of a Secrets Manager secret under labcatalog/<tier>/",
            ),
            _text(
                "TierGroup",
                "Group that may use this hub",
                _GROUP_NAME,
                "Members of this group (claim value, or LDAP group DN or CN) may log in.",
                "must be a group name or DN",
                optional=False,
            ),
            _text(
                "AdminGroup",
                "Hub admin group",
                _GROUP_NAME,
                "Members of this group are hub admins.",
                "must be a group name or DN",
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
