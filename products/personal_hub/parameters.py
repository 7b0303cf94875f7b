"""The personal-hub console parameters: each declared once, with its group, label and constraint.

Parameter values end up in the user data between single quotes and in an env file, one per line:
every pattern below excludes quotes, `$`, backslashes and line breaks.
"""

from __future__ import annotations

from troposphere import Equals, Not, Ref, Template

from generator.cfn.parameters import Console, Group, Param
from generator.model.config import Portfolio
from products.hub_image.content import image_tag
from products.personal_hub import instance_types, names

MAX_IDLE_MINUTES = 1440  # CloudWatch evaluates at most one day of periods

USERNAME = r"[A-Za-z0-9._%+@-]{1,128}"
NAME_LIST = rf"^({USERNAME}(,{USERNAME}){{0,19}})?$"
SECRET_ARN = r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)?$"
GROUP = r"^[A-Za-z0-9 ._:=,/@-]{0,256}$"
_CLAIM = r"^[A-Za-z0-9:._-]{1,128}$"
_DN = "a DN: letters, digits, spaces and ._:=,/@-"
_GROUP_NAME = "a group name or DN: letters, digits, spaces and ._:=,/@-"


def declared(portfolio: Portfolio) -> Console:
    """Every parameter of the personal-hub template, in console order."""
    return Console(
        Group(
            "Your hub",
            Param(
                "Tier",
                "Data tier",
                "Data tier whose data this hub may use; your portfolio fixes it.",
                allowed_values=[tier.name for tier in portfolio.tiers],
                constraint="must be one of this portfolio's tiers",
            ),
            Param(
                "Owner",
                "Your user name",
                "Your user name at the identity provider (for example your email address).",
                allowed_pattern=f"^{USERNAME}$",
                constraint="a user name or email address: letters, digits and ._%+@-",
            ),
            Param(
                "Collaborators",
                "Collaborators",
                "Other users who may log in to this hub, comma-separated; empty for none.",
                default="",
                allowed_pattern=NAME_LIST,
                constraint="up to 20 user names separated by commas, no spaces",
            ),
        ),
        Group(
            "Instance",
            Param(
                "InstanceType",
                "Instance type",
                "Size of your instance: m7i general purpose, r7i more memory, c7i more compute, "
                "g4dn/g5/g6 NVIDIA GPUs, m7g/r7g/c7g Graviton (Arm, cheaper; arm64 packages only).",
                default=instance_types.DEFAULT,
                allowed_values=[it.name for it in instance_types.CURATED],
                constraint="must be one of the listed instance types",
            ),
            Param(
                "DataVolumeSize",
                "Data volume (GiB)",
                "Size of your data volume in GiB: your home (notebooks, files, packages) and the "
                "hub's state.",
                type="Number",
                default="100",
                min_value=10,
                max_value=4096,
                constraint="a whole number of GiB between 10 and 4096",
            ),
            Param(
                "DataVolumeSnapshotId",
                "Restore from snapshot",
                "To get your home back after the product was terminated: the snapshot of its "
                "data volume (snap-..., EC2 console, Snapshots). The volume size must be at "
                "least the snapshot's. Empty: a new, empty volume.",
                default="",
                allowed_pattern=r"^(snap-[0-9a-f]{8,17})?$",
                constraint="a snapshot id (snap- and 8 or 17 hex digits), or empty",
            ),
            Param(
                "IdleStopMinutes",
                "Stop when idle for (minutes)",
                "Stop the instance after this many minutes of low CPU; start it again from the "
                "console. 0 never stops it (you pay while it runs).",
                type="Number",
                default="60",
                min_value=0,
                max_value=MAX_IDLE_MINUTES,
                constraint=f"a whole number of minutes between 0 and {MAX_IDLE_MINUTES}",
            ),
        ),
        Group(
            "Network",
            Param(
                "VpcId",
                "VPC",
                "VPC of the subnet below.",
                type="AWS::EC2::VPC::Id",
                constraint="must be a VPC of this account",
            ),
            Param(
                "SubnetId",
                "Private subnet",
                "A private subnet with outbound HTTPS (a NAT gateway or VPC endpoints for SSM, "
                "ECR, S3, Secrets Manager and CloudFormation). The instance gets no public "
                "address.",
                type="AWS::EC2::Subnet::Id",
                constraint="must be a subnet of the VPC above",
            ),
        ),
        Group(
            "Sign-in (your platform team gives you these values)",
            Param(
                "AuthMode",
                "Identity provider type",
                "How users log in: an OIDC provider (such as Cognito) or LDAP/AD.",
                default="oidc",
                allowed_values=["oidc", "ldap"],
                constraint="oidc or ldap",
            ),
            Param(
                "TierGroup",
                "Tier group",
                "Group at the identity provider whose members may use this tier: the owner and "
                "collaborators must also belong to it.",
                allowed_pattern=r"^[A-Za-z0-9 ._:=,/@-]{1,256}$",
                constraint=_GROUP_NAME,
            ),
            Param(
                "AdminGroup",
                "Admin group",
                "Group whose members are admins of this hub; empty for none.",
                default="",
                allowed_pattern=GROUP,
                constraint=_GROUP_NAME,
            ),
            Param(
                "OidcIssuerUrl",
                "OIDC issuer URL",
                "OIDC: issuer URL, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID.",
                default="",
                allowed_pattern=r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]*)?)?$",
                constraint="an https:// URL, or empty for LDAP",
            ),
            Param(
                "OidcClientId",
                "OIDC client id",
                "OIDC: client id (its redirect URL is http://localhost:8000/hub/oauth_callback).",
                default="",
                allowed_pattern=r"^[A-Za-z0-9._:-]{0,256}$",
                constraint="letters, digits and ._:-",
            ),
            Param(
                "OidcClientSecretArn",
                "OIDC client secret (Secrets Manager ARN)",
                "OIDC: ARN of the Secrets Manager secret holding the client secret, under "
                f"{names.SECRETS.format(tier='TIER')}; read at boot, never stored in the template.",
                default="",
                allowed_pattern=SECRET_ARN,
                constraint="a Secrets Manager secret ARN, or empty",
            ),
            Param(
                "OidcUsernameClaim",
                "OIDC user name claim",
                "OIDC: claim used as the user name.",
                default="email",
                allowed_pattern=_CLAIM,
                constraint="a claim name: letters, digits and :._-",
            ),
            Param(
                "OidcGroupsClaim",
                "OIDC groups claim",
                "OIDC: claim that lists the user's groups.",
                default="cognito:groups",
                allowed_pattern=_CLAIM,
                constraint="a claim name: letters, digits and :._-",
            ),
            Param(
                "LdapUrl",
                "LDAP server URL",
                "LDAP: server URL, e.g. ldaps://ad.example.com:636.",
                default="",
                allowed_pattern=r"^(ldaps?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)?$",
                constraint="an ldap:// or ldaps:// URL, or empty for OIDC",
            ),
            Param(
                "LdapBindDnTemplate",
                "LDAP bind DN template",
                "LDAP: bind DN template(s), e.g. uid={username},ou=people,dc=example,dc=com.",
                default="",
                allowed_pattern=r"^[A-Za-z0-9 ._=,;{}@-]{0,512}$",
                constraint="a DN template: letters, digits, spaces and ._=,;{}@-",
            ),
            Param(
                "LdapGroupSearchBase",
                "LDAP group search base",
                "LDAP: where users' groups are looked up, e.g. ou=groups,dc=example,dc=com.",
                default="",
                allowed_pattern=GROUP,
                constraint=_DN,
            ),
            Param(
                "LdapBindUserDn",
                "LDAP lookup account DN",
                "LDAP: lookup account DN, if the server needs one.",
                default="",
                allowed_pattern=GROUP,
                constraint=_DN,
            ),
            Param(
                "LdapBindPasswordSecretArn",
                "LDAP lookup password (Secrets Manager ARN)",
                "LDAP: ARN of the Secrets Manager secret holding the lookup account's password, "
                f"under {names.SECRETS.format(tier='TIER')}; empty if none.",
                default="",
                allowed_pattern=SECRET_ARN,
                constraint="a Secrets Manager secret ARN, or empty",
            ),
        ),
        Group(
            "Hub image",
            Param(
                "HubImageRepository",
                "Hub image repository",
                "ECR repository of the hub image; empty for the platform's repository (the only "
                "one the instance role may pull from).",
                default="",
                allowed_pattern=(
                    r"^([0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+)?$"
                ),
                constraint="an ECR repository URI, or empty",
            ),
            Param(
                "HubImageTag",
                "Hub image tag",
                "Tag of the hub image; empty for the image this product version was built with "
                f"({image_tag()}).",
                default="",
                allowed_pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$",
                constraint="a Docker tag: letters, digits and _.-",
            ),
        ),
    )


def add_parameters(t: Template, portfolio: Portfolio) -> Console:
    """The parameters, their console groups and labels, and the rules across them."""
    console = declared(portfolio)
    console.add_to(t)
    _rules(t, console)
    return console


def _rules(t: Template, console: Console) -> None:
    """Refuse a launch whose settings cannot work, before anything is created."""
    not_empty = lambda name: Not(Equals(Ref(name), ""))  # noqa: E731
    t.add_rule(
        "SubnetInVpc",
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::EachMemberEquals": [
                            {"Fn::ValueOfAll": ["AWS::EC2::Subnet::Id", "VpcId"]},
                            Ref("VpcId"),
                        ]
                    },
                    "AssertDescription": "The subnet must be in the chosen VPC",
                }
            ]
        },
    )
    t.add_rule(
        "OidcSettings",
        {
            "RuleCondition": Equals(Ref("AuthMode"), "oidc"),
            "Assertions": [
                {
                    "Assert": not_empty(name),
                    "AssertDescription": f"OIDC sign-in needs {console.label(name)}",
                }
                for name in ("OidcIssuerUrl", "OidcClientId", "OidcClientSecretArn")
            ],
        },
    )
    t.add_rule(
        "LdapSettings",
        {
            "RuleCondition": Equals(Ref("AuthMode"), "ldap"),
            "Assertions": [
                {
                    "Assert": not_empty(name),
                    "AssertDescription": f"LDAP sign-in needs {console.label(name)}",
                }
                for name in ("LdapUrl", "LdapBindDnTemplate")
            ],
        },
    )
