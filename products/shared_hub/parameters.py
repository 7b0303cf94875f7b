"""The shared-hub console parameters: each declared once, with its group, label and constraint.

Build-time settings (the tiers) come from portfolio.yaml; everything a
team lead chooses at launch is a parameter here. The console shows them in the order of GROUPS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troposphere import And, Condition, Equals, Not, Parameter, Ref, Template

from generator.cfn import names
from generator.model.config import Portfolio

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
LOG_RETENTION_DAYS = (30, 60, 90, 180, 365, 731, 1827, 3653)

_SECRET_ARN = (
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:labcatalog/{tiers}/[\w/+=.@-]+"
)
_OPTIONAL = "^$|^(?:{})$"
_REQUIRED = "^(?:{})$"
_GROUP_NAME = r"[\w .,=@:/+-]{1,256}"


@dataclass(frozen=True)
class Param:
    """One console parameter: where it is shown, its label, and its CloudFormation settings."""

    name: str
    group: str
    label: str
    settings: dict[str, Any] = field(default_factory=dict)


GROUPS = (
    "Tier and name",
    "Network",
    "Load balancer",
    "Users' notebook servers",
    "Authentication",
    "Hub image",
    "Operations",
)


def _text(
    pattern: str, description: str, constraint: str, default: str | None = "", optional=True
) -> dict[str, Any]:
    """A text parameter; an optional one may be empty, a required one must be set."""
    settings = {
        "Type": "String",
        "AllowedPattern": (_OPTIONAL if optional else _REQUIRED).format(pattern),
        "Description": description,
        "ConstraintDescription": constraint,
    }
    if default is not None and (optional or default):
        settings["Default"] = default
    return settings


def _choice(values: tuple, default: str, description: str) -> dict[str, Any]:
    return {
        "Type": "String",
        "AllowedValues": list(values),
        "Default": default,
        "Description": description,
        "ConstraintDescription": f"must be one of: {', '.join(values)}",
    }


def declared(portfolio: Portfolio) -> list[Param]:
    """Every parameter of the shared-hub template, in console order."""
    tiers = [t.name for t in portfolio.tiers]
    secret = _SECRET_ARN.replace("{tiers}", "(?:" + "|".join(tiers) + ")")
    return [
        # Tier and name
        Param(
            "Tier",
            "Tier and name",
            "Data tier",
            {
                "Type": "String",
                "AllowedValues": tiers,
                "Description": "The data tier this hub serves; your portfolio allows one.",
                "ConstraintDescription": f"must be one of the tiers: {', '.join(tiers)}",
            },
        ),
        Param(
            "HubDomainName",
            "Tier and name",
            "Hub DNS name",
            _text(
                r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                "The name users open, e.g. hub.data.example.com (in the hosted zone below).",
                "must be a lowercase DNS name such as hub.data.example.com",
                optional=False,
            ),
        ),
        Param(
            "HostedZoneId",
            "Tier and name",
            "Route 53 hosted zone",
            {
                "Type": "AWS::Route53::HostedZone::Id",
                "Description": "The hosted zone that holds the hub's DNS name.",
                "ConstraintDescription": "must be a hosted zone of this account",
            },
        ),
        Param(
            "CertificateArn",
            "Tier and name",
            "TLS certificate (ACM ARN)",
            _text(
                r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}",
                "ACM certificate for the hub DNS name; used when the hub creates its own load "
                "balancer.",
                "must be an ACM certificate ARN, or empty when attaching to a listener",
            ),
        ),
        # Network
        Param(
            "VpcId",
            "Network",
            "VPC",
            {
                "Type": "AWS::EC2::VPC::Id",
                "Description": "The VPC of the hub, its load balancer and the users' servers.",
                "ConstraintDescription": "must be a VPC of this account",
            },
        ),
        Param(
            "LoadBalancerSubnets",
            "Network",
            "Load balancer subnets",
            {
                "Type": "List<AWS::EC2::Subnet::Id>",
                "Description": "Two or more subnets in different zones for the load balancer "
                "(public ones if internet-facing); ignored when attaching to a listener.",
                "ConstraintDescription": "must be subnets of the VPC",
            },
        ),
        Param(
            "TaskSubnets",
            "Network",
            "Private subnets for the hub and servers",
            {
                "Type": "List<AWS::EC2::Subnet::Id>",
                "Description": "Two or more private subnets in different zones; the hub and its "
                "state use the first two, users' servers all of them. Tasks get no public IP.",
                "ConstraintDescription": "must be private subnets of the VPC",
            },
        ),
        # Load balancer
        Param(
            "LoadBalancer",
            "Load balancer",
            "Load balancer",
            _choice(
                ("new", "existing"),
                "new",
                "new: create an HTTPS load balancer for this hub. existing: add a rule to an "
                "existing HTTPS listener, so several hubs share one load balancer.",
            ),
        ),
        Param(
            "LoadBalancerScheme",
            "Load balancer",
            "Reachable from",
            _choice(
                ("internal", "internet-facing"),
                "internal",
                "internal: only from your network. internet-facing: from the internet, limited "
                "to the CIDR below.",
            ),
        ),
        Param(
            "AllowedCidr",
            "Load balancer",
            "Allowed client CIDR",
            _text(
                r"((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)",
                "Clients in this range may reach the hub over HTTPS (0.0.0.0/0 for anyone).",
                "must be an IPv4 CIDR such as 10.0.0.0/8",
                default="10.0.0.0/8",
                optional=False,
            ),
        ),
        Param(
            "DeletionProtection",
            "Load balancer",
            "Deletion protection",
            _choice(
                ("true", "false"),
                "true",
                "Protect the new load balancer from deletion; set false before terminating.",
            ),
        ),
        Param(
            "ExistingListenerArn",
            "Load balancer",
            "Existing HTTPS listener ARN",
            _text(
                r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/[\w./-]+",
                "existing only: the HTTPS listener to add this hub's host rule to.",
                "must be an application load balancer listener ARN, or empty",
            ),
        ),
        Param(
            "ExistingListenerRulePriority",
            "Load balancer",
            "Rule priority on that listener",
            {
                "Type": "Number",
                "Default": 100,
                "MinValue": 1,
                "MaxValue": 50000,
                "Description": "existing only: a priority no other rule of the listener uses.",
                "ConstraintDescription": "must be a whole number from 1 to 50000",
            },
        ),
        Param(
            "ExistingLoadBalancerSecurityGroup",
            "Load balancer",
            "Existing load balancer's security group",
            _text(
                r"sg-[0-9a-f]{8,17}",
                "existing only: the load balancer's security group, allowed to reach the hub.",
                "must be a security group id (sg-...), or empty",
            ),
        ),
        Param(
            "ExistingLoadBalancerDnsName",
            "Load balancer",
            "Existing load balancer's DNS name",
            _text(
                r"[a-zA-Z0-9.-]{1,253}",
                "existing only: its DNS name, for the hub's alias record.",
                "must be a DNS name, or empty",
            ),
        ),
        Param(
            "ExistingLoadBalancerZoneId",
            "Load balancer",
            "Existing load balancer's hosted zone id",
            _text(
                r"Z[A-Z0-9]{1,31}",
                "existing only: its canonical hosted zone id, for the hub's alias record.",
                "must be a hosted zone id such as Z35SXDOTRQ7X7K, or empty",
            ),
        ),
        # Users' notebook servers
        Param(
            "ServerMode",
            "Users' notebook servers",
            "Where servers run",
            _choice(
                ("fargate",),
                "fargate",
                "fargate: a Fargate task per user (cost follows use). Servers never run inside "
                "the hub's task, where users' code could read the hub's secrets.",
            ),
        ),
        Param(
            "DefaultServerSize",
            "Users' notebook servers",
            "Default server size (cpu:memory)",
            _choice(FARGATE_SIZES, "1024:4096", "Preselected size; one of the sizes below."),
        ),
        Param(
            "ServerSizes",
            "Users' notebook servers",
            "Sizes users may pick (cpu:memory)",
            {
                "Type": "CommaDelimitedList",
                "Default": "1024:4096,2048:8192,4096:16384",
                "AllowedValues": list(FARGATE_SIZES),
                "Description": "Fargate sizes, cpu:memory, comma separated (1024 = 1 vCPU).",
                "ConstraintDescription": "each size must be a valid Fargate cpu:memory pair",
            },
        ),
        Param(
            "FargateSpot",
            "Users' notebook servers",
            "Run servers on Fargate Spot",
            _choice(
                ("false", "true"),
                "false",
                "Spot costs up to 70% less, but AWS may stop a server with two minutes' notice.",
            ),
        ),
        Param(
            "IdleTimeoutMinutes",
            "Users' notebook servers",
            "Stop idle servers after (minutes)",
            {
                "Type": "Number",
                "Default": 60,
                "MinValue": 5,
                "MaxValue": 1440,
                "Description": "A server without activity for this long is stopped.",
                "ConstraintDescription": "must be from 5 to 1440 minutes",
            },
        ),
        Param(
            "HubSize",
            "Users' notebook servers",
            "Hub task size (cpu:memory)",
            _choice(
                FARGATE_SIZES,
                "1024:4096",
                "The hub task (JupyterHub and its proxy only).",
            ),
        ),
        # Authentication
        Param(
            "AuthMode",
            "Authentication",
            "Identity provider",
            _choice(
                ("oidc", "ldap"),
                "oidc",
                "oidc: Amazon Cognito or any OIDC issuer. ldap: LDAP or Active Directory.",
            ),
        ),
        Param(
            "OidcIssuerUrl",
            "Authentication",
            "OIDC issuer URL",
            _text(
                r"https://[^\s]{3,2000}",
                "oidc: the issuer, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID.",
                "must be an https:// URL, or empty",
            ),
        ),
        Param(
            "OidcClientId",
            "Authentication",
            "OIDC client id",
            _text(r"[\w.:@/+=-]{1,255}", "oidc: the app client id.", "must be a client id"),
        ),
        Param(
            "OidcClientSecretArn",
            "Authentication",
            "OIDC client secret (Secrets Manager ARN)",
            _text(
                secret,
                "oidc: ARN of a secret named labcatalog/TIER/... holding the client secret.",
                "must be the ARN of a Secrets Manager secret under labcatalog/<tier>/",
            ),
        ),
        Param(
            "OidcGroupsClaim",
            "Authentication",
            "OIDC groups claim",
            _text(
                r"[\w.:/-]{1,128}",
                "oidc: claim that lists groups.",
                "must be a claim name",
                default="cognito:groups",
            ),
        ),
        Param(
            "OidcUsernameClaim",
            "Authentication",
            "OIDC user name claim",
            _text(
                r"[\w.:/-]{1,128}",
                "oidc: claim used as the user name.",
                "must be a claim name",
                default="email",
            ),
        ),
        Param(
            "LdapUrl",
            "Authentication",
            "LDAP server URL",
            _text(
                r"ldaps?://[\w.-]+(:\d{1,5})?",
                "ldap: e.g. ldaps://ad.example.com:636.",
                "must be an ldap:// or ldaps:// URL, or empty",
            ),
        ),
        Param(
            "LdapBindDnTemplate",
            "Authentication",
            "LDAP bind DN template(s)",
            _text(
                r"[^\n\r]{1,1024}",
                "ldap: e.g. uid={username},ou=people,dc=example,dc=com; separate several with ';'.",
                "must be one line",
            ),
        ),
        Param(
            "LdapGroupSearchBase",
            "Authentication",
            "LDAP group search base",
            _text(
                r"[^\n\r]{1,1024}", "ldap: e.g. ou=groups,dc=example,dc=com.", "must be one line"
            ),
        ),
        Param(
            "LdapBindUserDn",
            "Authentication",
            "LDAP lookup account DN",
            _text(
                r"[^\n\r]{1,1024}",
                "ldap: lookup account, if the server needs one.",
                "must be one line",
            ),
        ),
        Param(
            "LdapBindPasswordSecretArn",
            "Authentication",
            "LDAP lookup password (Secrets Manager ARN)",
            _text(
                secret,
                "ldap: ARN of a secret named labcatalog/TIER/... holding the password.",
                "must be the ARN of a Secrets Manager secret under labcatalog/<tier>/",
            ),
        ),
        Param(
            "TierGroup",
            "Authentication",
            "Group that may use this hub",
            _text(
                _GROUP_NAME,
                "Members of this group (claim value, or LDAP group DN or CN) may log in.",
                "must be a group name or DN",
                optional=False,
            ),
        ),
        Param(
            "AdminGroup",
            "Authentication",
            "Hub admin group",
            _text(
                _GROUP_NAME,
                "Members of this group are hub admins.",
                "must be a group name or DN",
                optional=False,
            ),
        ),
        # Hub image
        Param(
            "HubImageRepository",
            "Hub image",
            "Image repository",
            _text(
                r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+",
                "Leave empty for the platform's hub repository.",
                "must be a repository URI such as 123456789012.dkr.ecr.REGION.amazonaws.com/x",
            ),
        ),
        Param(
            "HubImageTag",
            "Hub image",
            "Image tag",
            _text(
                r"[\w][\w.-]{0,127}",
                "Leave empty for the release the platform's image build published "
                f"({names.HUB_IMAGE_TAG_PARAMETER}).",
                "must be an image tag",
            ),
        ),
        # Operations
        Param(
            "LogRetentionDays",
            "Operations",
            "Keep logs for (days)",
            {
                "Type": "Number",
                "Default": 365,
                "AllowedValues": list(LOG_RETENTION_DAYS),
                "Description": "How long the hub's and servers' logs are kept.",
                "ConstraintDescription": "must be one of "
                + ", ".join(map(str, LOG_RETENTION_DAYS)),
            },
        ),
    ]


def add_parameters(t: Template, portfolio: Portfolio) -> None:
    """Parameters, their console groups and labels, and the conditions built on them."""
    params = declared(portfolio)
    for param in params:
        t.add_parameter(Parameter(param.name, **param.settings))
    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": group},
                        "Parameters": [p.name for p in params if p.group == group],
                    }
                    for group in GROUPS
                ],
                "ParameterLabels": {p.name: {"default": p.label} for p in params},
            }
        }
    )
    add_conditions(t)
    add_rules(t)


# Condition names, used by the resources.
NEW_LOAD_BALANCER = "CreateLoadBalancer"
EXISTING_LISTENER = "AttachToExistingListener"
FARGATE_SERVERS = "ServersAsFargateTasks"
IN_HUB_SERVERS = "ServersInsideTheHub"
OIDC = "UseOidc"
LDAP = "UseLdap"
LDAP_PASSWORD = "LdapWithLookupPassword"
PLATFORM_IMAGE = "UsePlatformImageRepository"
PUBLISHED_TAG = "UsePublishedImageTag"
FARGATE_SPOT = "UseFargateSpot"


def add_conditions(t: Template) -> None:
    t.add_condition(NEW_LOAD_BALANCER, Equals(Ref("LoadBalancer"), "new"))
    t.add_condition(EXISTING_LISTENER, Equals(Ref("LoadBalancer"), "existing"))
    t.add_condition(FARGATE_SERVERS, Equals(Ref("ServerMode"), "fargate"))
    t.add_condition(IN_HUB_SERVERS, Equals(Ref("ServerMode"), "in-hub"))
    t.add_condition(OIDC, Equals(Ref("AuthMode"), "oidc"))
    t.add_condition(LDAP, Equals(Ref("AuthMode"), "ldap"))
    t.add_condition(
        LDAP_PASSWORD,
        And(Condition(LDAP), Not(Equals(Ref("LdapBindPasswordSecretArn"), ""))),
    )
    t.add_condition(PLATFORM_IMAGE, Equals(Ref("HubImageRepository"), ""))
    t.add_condition(PUBLISHED_TAG, Equals(Ref("HubImageTag"), ""))
    t.add_condition(FARGATE_SPOT, Equals(Ref("FargateSpot"), "true"))


def _required_when(when: dict, names: list[str], why: str) -> dict:
    return {
        "RuleCondition": when,
        "Assertions": [
            {"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]}, "AssertDescription": why}
            for name in names
        ],
    }


def add_rules(t: Template) -> None:
    """Launch-time checks across parameters, shown in the console before anything is created."""
    t.add_rule(
        "DefaultSizeIsOffered",
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Contains": [{"Ref": "ServerSizes"}, {"Ref": "DefaultServerSize"}]
                    },
                    "AssertDescription": "The default server size must be one users may pick",
                }
            ]
        },
    )
    t.add_rule(
        "NewLoadBalancerNeedsACertificate",
        _required_when(
            {"Fn::Equals": [{"Ref": "LoadBalancer"}, "new"]},
            ["CertificateArn"],
            "A new load balancer needs the ACM certificate ARN of the hub DNS name",
        ),
    )
    t.add_rule(
        "ExistingListenerIsDescribed",
        _required_when(
            {"Fn::Equals": [{"Ref": "LoadBalancer"}, "existing"]},
            [
                "ExistingListenerArn",
                "ExistingLoadBalancerSecurityGroup",
                "ExistingLoadBalancerDnsName",
                "ExistingLoadBalancerZoneId",
            ],
            "Attaching to an existing listener needs its ARN, and the load balancer's security "
            "group, DNS name and hosted zone id",
        ),
    )
    t.add_rule(
        "OidcIsConfigured",
        _required_when(
            {"Fn::Equals": [{"Ref": "AuthMode"}, "oidc"]},
            ["OidcIssuerUrl", "OidcClientId", "OidcClientSecretArn"],
            "OIDC needs the issuer URL, the client id and the client secret's ARN",
        ),
    )
    t.add_rule(
        "LdapIsConfigured",
        _required_when(
            {"Fn::Equals": [{"Ref": "AuthMode"}, "ldap"]},
            ["LdapUrl", "LdapBindDnTemplate"],
            "LDAP needs the server URL and the bind DN template",
        ),
    )
