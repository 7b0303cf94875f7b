"""The validated model of portfolio.yaml (schema `labcatalog/v2`).

Loading happens in three steps, and every problem found is reported, not only the first:
YAML (syntax, duplicate keys) -> types and formats (pydantic) -> rules across fields.
Each problem names the file, line, column and field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
)

from generator.model.problems import InputError, Loc, Problem, field_name
from generator.model.validation import describe, type_problems
from generator.model.yamlsource import Source, load_source

SCHEMA_VERSION = "labcatalog/v2"
# Earlier formats this version no longer reads, each with what to change (see `schema_problems`).
UPGRADES = {
    "labcatalog/v1": (
        "labcatalog/v2 adds the platform's own settings, which the products no longer ask for "
        "at launch: write 'schema: labcatalog/v2' here, add a 'platform:' "
        "section (network: vpc_id, server_subnets, load_balancer_subnets; identity: oidc or "
        "ldap; dns: hosted_zone_id, certificate_arn, hub_host_name) and give each tier its "
        "identity_group and admin_group; see README.md#platform-settings-you-fill-in-once"
    ),
}


def _checked(pattern: str, explanation: str) -> Any:
    """A string type matching `pattern`, with our own message, and the pattern in the schema."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(explanation)
        return value

    return Annotated[
        str,
        AfterValidator(check),
        Field(json_schema_extra={"pattern": f"^(?:{pattern})$"}),
    ]


def _check_prefix(value: str) -> str:
    if value.strip("/") == "":
        raise ValueError("the whole bucket is not a prefix; name a folder such as 'pii/'")
    if any(c in value for c in "*?"):
        raise ValueError(
            "prefix must not contain wildcards ('*' or '?'); a prefix covers its subfolders"
        )
    if value.startswith("/") or not value.endswith("/"):
        fixed = value.strip("/") + "/"
        raise ValueError(f"prefix must end with '/' and not start with one: write {fixed!r}")
    if "//" in value or any(part in (".", "..") for part in value.split("/")):
        raise ValueError("prefix must not contain empty, '.' or '..' folders")
    if not re.fullmatch(r"[A-Za-z0-9!\-_.'()/ ]+", value):
        raise ValueError("prefix may contain only letters, digits, spaces and !-_.'()/")
    return value


# S3's naming rules for general purpose buckets, reserved prefixes and suffixes included:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _check_bucket(value: str) -> str:
    if not 3 <= len(value) <= 63:
        raise ValueError(f"not a valid S3 bucket name: {len(value)} characters, not 3 to 63")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", value):
        raise ValueError(
            "not a valid S3 bucket name: 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in value or ".-" in value or "-." in value:
        raise ValueError("not a valid S3 bucket name: no '..', '.-' or '-.'")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        raise ValueError("not a valid S3 bucket name: it must not look like an IP address")
    for prefix in BUCKET_RESERVED_PREFIXES:
        if value.startswith(prefix):
            raise ValueError(f"not a valid S3 bucket name: the prefix {prefix!r} is reserved")
    for suffix in BUCKET_RESERVED_SUFFIXES:
        if value.endswith(suffix):
            raise ValueError(f"not a valid S3 bucket name: the suffix {suffix!r} is reserved")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
TierName = _checked(
    r"(?=.{2,20}$)[a-z][a-z0-9]*(-[a-z0-9]+)*",
    "tier name must be 2-20 characters: a lowercase letter, then lowercase letters, digits "
    "and single '-' between them",
)
Prefix = Annotated[
    str,
    AfterValidator(_check_prefix),
    Field(json_schema_extra={"pattern": r"^(?!/)[A-Za-z0-9!\-_.'()/ ]*[^/]/$"}),
]
BucketName = Annotated[
    str,
    AfterValidator(_check_bucket),
    Field(json_schema_extra={"pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}),
]
# The partitions an ARN may name; principals and keys of one portfolio must share one.
PARTITIONS = "aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc"
KmsKeyArn = _checked(
    rf"arn:(?:{PARTITIONS}):kms:[a-z0-9-]+:\d{{12}}:key/[A-Za-z0-9-]+",
    "must be a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
)
Principal = _checked(
    r"(role|group|user)/[\w+=,.@/-]{1,512}"
    rf"|arn:(?:{PARTITIONS}):iam::\d{{12}}:(role|group|user)/[\w+=,.@/-]{{1,512}}",
    "principal must be role/NAME, group/NAME, user/NAME or an IAM ARN "
    "(arn:aws:iam::ACCOUNT:role/NAME)",
)
Email = _checked(r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an email address such as team@example.com")
VpcId = _checked(r"vpc-[0-9a-f]{8,17}", "must be a VPC id such as vpc-0123456789abcdef0")
SubnetId = _checked(
    r"subnet-[0-9a-f]{8,17}", "must be a subnet id such as subnet-0123456789abcdef0"
)
HostedZoneId = _checked(
    r"Z[A-Z0-9]{1,31}", "must be a Route 53 hosted zone id such as Z0123456789ABC"
)
CertificateArn = _checked(
    rf"arn:(?:{PARTITIONS}):acm:[a-z0-9-]+:\d{{12}}:certificate/[0-9a-f-]{{36}}",
    "must be an ACM certificate ARN: arn:aws:acm:REGION:ACCOUNT:certificate/ID",
)
HttpsUrl = _checked(
    r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]*)?",
    "must be an https:// URL such as https://cognito-idp.REGION.amazonaws.com/POOL_ID",
)
LdapUrl = _checked(
    r"ldaps?://[A-Za-z0-9.-]+(:[0-9]{1,5})?",
    "must be an ldap:// or ldaps:// URL such as ldaps://ad.example.com:636",
)
# Values the hub's environment and boot script carry: one line, no quotes, `$` or backslash.
OneLine = _checked(
    r"[A-Za-z0-9 ._:=,;{}@/+-]{1,512}",
    "may contain only letters, digits, spaces and ._:=,;{}@/+-",
)
GroupName = _checked(
    r"[A-Za-z0-9 ._:=,/@+-]{1,256}",
    "a group name or DN: letters, digits, spaces and ._:=,/@+-",
)
Claim = _checked(r"[A-Za-z0-9:._/-]{1,128}", "a claim name: letters, digits and :._/-")
ClientId = _checked(r"[A-Za-z0-9._:@/+=-]{1,256}", "a client id: letters, digits and ._:@/+=-")
# A tier's secrets live under labcatalog/<tier>/ (generator.cfn.names.TIER_SECRETS, tested
# equal): only that tier's roles may read them, so the name says `{tier}` where the tier goes.
SECRET_PATH = "labcatalog/{tier}/"
SecretName = _checked(
    r"labcatalog/\{tier\}/[A-Za-z0-9/_+=.@-]{1,400}",
    "must be a Secrets Manager secret name under the tier's path, with {tier} where the "
    "tier's name goes, e.g. labcatalog/{tier}/personal-hub/oidc-client-secret",
)


def _check_host_name(value: str) -> str:
    rest = value.removeprefix("{hub}.")
    labels = rest.split(".")
    plain = rest.replace("{tier}", "tier")
    if (
        rest == value
        or labels.count("{tier}") != 1
        or not re.fullmatch(r"([a-z0-9-]+\.)+[a-z]{2,63}", plain)
        or len(plain) > 200
    ):
        # Each a label of its own: no hub name of one tier can spell another tier's host name.
        raise ValueError(
            "must be {hub}, a '.', then a lowercase DNS name with {tier} as one of its labels, "
            "e.g. {hub}.{tier}.jupyter.example.com (the hub's and the tier's names each a label "
            "of their own, so no two tiers' host names can be the same)"
        )
    return value


HostNamePattern = Annotated[
    str,
    AfterValidator(_check_host_name),
    Field(json_schema_extra={"pattern": r"^\{hub\}\.[a-z0-9.{}-]+$"}),
]


def _check_owner_rule(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as err:
        raise ValueError(f"not a regular expression: {err}") from None
    if "user" not in compiled.groupindex:
        raise ValueError("the expression must name the user name's group: (?P<user>...)")
    return value


OwnerRulePattern = Annotated[
    str, AfterValidator(_check_owner_rule), StringConstraints(min_length=1, max_length=512)
]
SemVer = _checked(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?",
    "version must be a semantic version such as 1.0.0 (quote it in YAML)",
)
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")]
TagValue = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[\w .:/=+@-]+$")
]


# Service Catalog's default quotas: principals per portfolio (one portfolio per tier); TagOptions
# (key-value pairs) per portfolio or product, which each get every one of them.
MAX_PRINCIPALS = 100
MAX_TAG_OPTIONS = 25


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, strict=True)


class PortfolioInfo(_Model):
    """How the portfolio is shown in the Service Catalog console."""

    name: Annotated[Text, Field(max_length=100, description="Portfolio display name.")]
    description: Annotated[Text, Field(max_length=2000, description="Shown to users.")]
    provider: Annotated[Text, Field(max_length=50, description="Team that provides it.")]
    support_email: Email | None = Field(None, description="Where users ask for help.")


class DataLake(_Model):
    """The existing data lake bucket whose prefixes the tiers divide."""

    bucket: BucketName = Field(description="Name of the existing data lake bucket.")
    kms_key_arn: KmsKeyArn | None = Field(
        None, description="The lake's SSE-KMS key, if it uses one (ARN of the key, not an alias)."
    )


class Notebooks(_Model):
    """The notebook bucket that the platform stack creates."""

    noncurrent_version_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days an overwritten or deleted notebook version is kept before it expires.",
    )


Cidr = _checked(
    r"((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)/(3[0-2]|[12]?\d)",
    "must be an IPv4 CIDR such as 10.0.0.0/8",
)
ListenerArn = _checked(
    rf"arn:(?:{PARTITIONS}):elasticloadbalancing:[a-z0-9-]+:\d{{12}}:listener/app/[\w./-]+",
    "must be an application load balancer listener ARN: "
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID",
)
SecurityGroupId = _checked(
    r"sg-[0-9a-f]{8,17}", "must be a security group id such as sg-0123456789abcdef0"
)
DnsName = _checked(
    r"[A-Za-z0-9.-]{1,253}", "must be a DNS name such as my-alb-1234.REGION.elb.amazonaws.com"
)


class ExistingListener(_Model):
    """An existing HTTPS listener that each shared hub adds its host rule to.

    Each hub then creates no load balancer of its own."""

    arn: ListenerArn = Field(
        description="The HTTPS listener's ARN. It must carry the tier's tag "
        "(labcatalog:tier), or the tier's launch role may not add rules to it."
    )
    security_group: SecurityGroupId = Field(
        description="The load balancer's security group, allowed to reach the hubs."
    )
    dns_name: DnsName = Field(description="The load balancer's DNS name, for hubs' alias records.")
    hosted_zone_id: HostedZoneId = Field(
        description="The load balancer's canonical hosted zone id, for hubs' alias records."
    )


class LoadBalancer(_Model):
    """How shared hubs are reached: the account's load balancer, one per hub, or a listener's."""

    scheme: Literal["internal", "internet-facing"] = Field(
        "internal",
        description="internal: reachable only from your network; internet-facing: from the "
        "internet, limited to allowed_cidr (then load_balancer_subnets must be public).",
    )
    allowed_cidr: Cidr = Field(
        "10.0.0.0/8",
        description="Clients in this range may reach a hub over HTTPS (0.0.0.0/0 for anyone).",
    )
    deletion_protection: bool = Field(
        False,
        description="Protect the load balancer from deletion (set false again before deleting "
        "the platform stack, or a hub with a load balancer of its own). It holds no data.",
    )
    per_hub: bool = Field(
        False,
        description="false: the platform makes one load balancer for the account, and each "
        "hub adds its host name to it (through its tier's route function, so no tier can take "
        "another tier's names); true: each hub makes a load balancer of its own (about $16 a "
        "month more per hub).",
    )
    existing_listener: ExistingListener | None = Field(
        None,
        description="Hubs add their host rule to this listener instead of creating a load "
        "balancer each (scheme, allowed_cidr and deletion_protection are then the existing "
        "load balancer's own). The rule's priority is the one value the team lead then gives.",
    )

    @property
    def account_wide(self) -> bool:
        """Hubs use the account's load balancer, which the platform makes."""
        return not self.per_hub and self.existing_listener is None


class Network(_Model):
    """Where the hubs run: the VPC, its private subnets for servers, and subnets for load
    balancers."""

    vpc_id: VpcId = Field(description="The VPC of the hubs, their servers and load balancers.")
    server_subnets: list[SubnetId] = Field(
        min_length=2,
        max_length=16,
        description="Private subnets, in different zones, with outbound HTTPS (a NAT gateway or "
        "VPC endpoints): hubs and users' servers. A personal hub uses the first; a shared hub's "
        "state the first two.",
    )
    load_balancer_subnets: list[SubnetId] = Field(
        min_length=2,
        max_length=16,
        description="Subnets in two different zones for a shared hub's load balancer (public "
        "ones for an internet-facing one); the first two are used.",
    )
    load_balancer: LoadBalancer = Field(
        default_factory=LoadBalancer,
        description="How shared hubs are reached: through the account's load balancer (the "
        "default), each with a load balancer of its own, or through an existing listener.",
    )


class Oidc(_Model):
    """Sign-in with an OIDC provider (Amazon Cognito or any other)."""

    issuer_url: HttpsUrl = Field(
        description="The issuer, e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID."
    )
    client_id: ClientId = Field(
        description="The app client's id. Its redirect URLs: http://localhost:8000/hub/"
        "oauth_callback (personal hubs) and https://HOST/hub/oauth_callback (shared hubs)."
    )
    client_secret_name: SecretName = Field(
        description="Name of the Secrets Manager secret holding the client secret, with {tier} "
        "for the tier (one secret per tier). Under labcatalog/{tier}/personal-hub/ when the "
        "personal hub is offered: its instances may read only there."
    )
    username_claim: Claim = Field("email", description="Claim used as the user name.")
    groups_claim: Claim = Field("cognito:groups", description="Claim that lists the user's groups.")


class Ldap(_Model):
    """Sign-in with LDAP or Active Directory."""

    url: LdapUrl = Field(description="The server, e.g. ldaps://ad.example.com:636.")
    bind_dn_template: OneLine = Field(
        description="Bind DN template(s), e.g. uid={username},ou=people,dc=example,dc=com; "
        "separate several with ';'."
    )
    group_search_base: OneLine | None = Field(
        None, description="Where users' groups are looked up, e.g. ou=groups,dc=example,dc=com."
    )
    bind_user_dn: OneLine | None = Field(
        None, description="The lookup account's DN, if the server needs one."
    )
    bind_password_secret_name: SecretName | None = Field(
        None,
        description="Name of the Secrets Manager secret holding the lookup account's password, "
        "with {tier} for the tier (under labcatalog/{tier}/personal-hub/ for personal hubs).",
    )


class Identity(_Model):
    """The identity provider users sign in with: exactly one of oidc and ldap."""

    oidc: Oidc | None = Field(None, description="Sign-in with an OIDC provider.")
    ldap: Ldap | None = Field(None, description="Sign-in with LDAP or Active Directory.")

    @property
    def mode(self) -> str:
        return "oidc" if self.oidc is not None else "ldap"


class Dns(_Model):
    """The shared hubs' host names and their certificate."""

    hosted_zone_id: HostedZoneId = Field(
        description="The Route 53 hosted zone that holds the hubs' names."
    )
    certificate_arn: CertificateArn = Field(
        description="ACM certificate covering every hub host name, e.g. *.pii.jupyter.example.com "
        "and *.nonpii.jupyter.example.com."
    )
    hub_host_name: HostNamePattern = Field(
        description="A shared hub's host name: {hub} is the name its team lead gives at launch, "
        "{tier} the tier's, e.g. {hub}.{tier}.jupyter.example.com."
    )

    def host_name_suffix(self, tier: str) -> str:
        """What follows a hub's name in its host name, in `tier`: `.pii.jupyter.example.com`."""
        return self.hub_host_name.removeprefix("{hub}").replace("{tier}", tier)


class Owner(_Model):
    """How a personal hub finds its owner when the user launching it leaves Owner empty."""

    principal_pattern: OwnerRulePattern = Field(
        r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/(?P<user>[^/]+)$",
        description="Regular expression matched, at the instance's first boot, against the "
        "Service Catalog tag aws:servicecatalog:provisioningPrincipalArn of its stack; its "
        "group (?P<user>...) is the owner's user name at the identity provider. The default "
        "takes the role session name (federated sign-in sets it to the user's name).",
    )


class Platform(_Model):
    """The platform's own settings, set once: the platform stack publishes them for each tier
    (SSM parameters under /labcatalog/tiers/TIER/settings/) and the products read them there."""

    network: Network = Field(description="Where hubs run; a tier may override it.")
    identity: Identity = Field(description="The identity provider users sign in with.")
    dns: Dns = Field(description="Shared hubs' host names and certificate.")
    owner: Owner = Field(
        default_factory=Owner, description="A personal hub's owner from the launching identity."
    )


class Tier(_Model):
    """A data tier: which lake prefixes its users may read and write, and who may use it."""

    name: TierName = Field(
        description="Short id used in names, e.g. 'pii': 2-20 lowercase letters, digits, '-'."
    )
    description: Annotated[Text, Field(max_length=500, description="What data the tier holds.")]
    read: list[Prefix] = Field(
        min_length=1, description="Lake prefixes (folders such as 'pii/') its users may read."
    )
    write: list[Prefix] = Field(
        default_factory=list,
        description="Lake prefixes its users may write; each under a read one.",
    )
    principals: list[Principal] = Field(
        min_length=1,
        max_length=MAX_PRINCIPALS,
        description="Who may use the tier: role/NAME, group/NAME, user/NAME or an IAM ARN.",
    )
    identity_group: GroupName = Field(
        description="Group at the identity provider whose members may use this tier's hubs "
        "(a claim value, or an LDAP group's DN or CN)."
    )
    admin_group: GroupName = Field(
        description="Group whose members are admins of this tier's hubs."
    )
    network: Network | None = Field(
        None, description="This tier's own network, instead of the platform's."
    )
    shared_writes: dict[Prefix, list[TierName]] = Field(
        default_factory=dict,
        description="Write prefixes that other tiers may read, each with the tiers that read it, "
        "e.g. {exchange/: [nonpii]}. A write prefix that another tier can read is refused "
        "unless it is declared here.",
    )
    audit: bool = Field(
        default=False,
        description="Record every S3 request on the read prefixes, with the person who made it, "
        "in a CloudTrail trail whose log bucket nothing can delete from.",
    )

    @property
    def logical_id(self) -> str:
        """CloudFormation-safe name part, e.g. 'non-pii' -> 'NonPii'."""
        return "".join(part.capitalize() for part in self.name.split("-"))


class Product(_Model):
    """A Service Catalog product and the version this build publishes."""

    name: Annotated[Text, Field(max_length=100, description="Product name in the console.")]
    owner: Annotated[Text, Field(max_length=100, description="Owner shown in the console.")]
    description: Annotated[Text, Field(max_length=1000, description="Shown to users.")]
    version: SemVer = Field(description="Semantic version of the template built now.")
    version_description: Annotated[
        Text, Field(max_length=1000, description="What changed in this version.")
    ]
    keep_versions: int = Field(
        3, ge=1, le=50, description="Active versions kept; older ones are deprecated."
    )


class Products(_Model):
    """The products to build and publish; leave one out to skip it."""

    # No fields here: `portfolio_model` adds one per registered product (its key in the file).


@dataclass(frozen=True)
class ProductEntry:
    """How portfolio.yaml names a product and reads its entry under `products`."""

    key: str  # e.g. "shared-hub"
    config: type[Product]
    description: str

    @property
    def field(self) -> str:
        """The attribute of `portfolio.products` that holds it: "shared-hub" -> `shared_hub`."""
        return self.key.replace("-", "_")


class Portfolio(_Model):
    """The whole of portfolio.yaml."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="labcatalog portfolio (labcatalog/v2)",
    )

    schema_version: Literal["labcatalog/v2"] = Field(
        alias="schema", description="Version of this file's format."
    )
    portfolio: PortfolioInfo = Field(description="The Service Catalog portfolio.")
    platform: Platform = Field(
        description="The platform's own settings: network, identity provider, DNS."
    )
    data_lake: DataLake = Field(description="The data lake the tiers divide.")
    notebooks: Notebooks = Field(
        default_factory=Notebooks, description="The notebook bucket the platform creates."
    )
    tiers: list[Tier] = Field(
        min_length=1, description="Data tiers; each gets its own portfolio, roles and hubs."
    )
    products: Products = Field(description="The products to build and publish.")
    tag_options: dict[TagKey, list[TagValue]] = Field(
        default_factory=dict, description="Tag keys and the values users may choose."
    )

    def tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)

    def network(self, tier: Tier) -> Network:
        """The network of `tier`: its own, or the platform's."""
        return tier.network or self.platform.network

    def uses_account_load_balancer(self, tier: Tier) -> bool:
        """`tier`'s shared hubs are reached through the account's load balancer."""
        return self.network(tier).load_balancer.account_wide

    @property
    def account_load_balancer(self) -> bool:
        """The platform makes the account's load balancer: some tier's hubs use it."""
        return any(self.uses_account_load_balancer(tier) for tier in self.tiers)


def portfolio_model(products: Sequence[ProductEntry]) -> type[Portfolio]:
    """`Portfolio` whose `products` mapping accepts exactly these products, in this order.

    The model knows no product itself: the engine passes the registered ones (see
    `generator.engine.registry`), each with the config class from its own folder.
    """
    fields: dict[str, Any] = {
        entry.field: (
            entry.config | None,
            Field(None, alias=entry.key, description=entry.description),
        )
        for entry in products
    }
    composed = create_model(
        "Products", __base__=Products, __doc__=Products.__doc__, __module__=__name__, **fields
    )
    return create_model(
        "Portfolio",
        __base__=Portfolio,
        __doc__=Portfolio.__doc__,
        __module__=__name__,
        products=(composed, Field(description="The products to build and publish.")),
    )


def _is_under(prefix: str, parent: str) -> bool:
    return prefix.startswith(parent)


def rule_problems(portfolio: Portfolio) -> list[tuple[Loc, str]]:
    """Rules that relate several fields; each broken rule is (location, message)."""
    return (
        tier_rule_problems(list(enumerate(portfolio.tiers)))
        + tag_option_problems(portfolio.tag_options)
        + partition_problems(portfolio)
        + identity_problems(portfolio.platform.identity)
        + load_balancer_problems(portfolio)
    )


def load_balancer_problems(portfolio: Portfolio) -> list[tuple[Loc, str]]:
    """The account's load balancer is in the platform's network: a tier with a network of its
    own reaches its hubs another way."""
    return [
        (
            ("tiers", i, "network", "load_balancer"),
            f"tier {tier.name!r} has a network of its own, but the account's load balancer is "
            "in the platform's network; set per_hub: true (a load balancer per hub) or an "
            "existing_listener here",
        )
        for i, tier in enumerate(portfolio.tiers)
        if tier.network is not None and tier.network.load_balancer.account_wide
    ]


def identity_problems(identity: Identity) -> list[tuple[Loc, str]]:
    """Users sign in with one identity provider: exactly one of oidc and ldap."""
    if (identity.oidc is None) == (identity.ldap is None):
        return [
            (
                ("platform", "identity"),
                "set exactly one of oidc (issuer_url, client_id, client_secret_name) and ldap "
                "(url, bind_dn_template)",
            )
        ]
    return []


def tier_rule_problems(tiers: list[tuple[int, Tier]]) -> list[tuple[Loc, str]]:
    """Rules between tiers, for (index in the file, tier) pairs: names, prefixes, overlaps."""
    found: list[tuple[Loc, str]] = []
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, str] = {}
    for i, tier in tiers:
        if tier.name in seen_names:
            found.append(
                (
                    ("tiers", i, "name"),
                    f"tier {tier.name!r} is already defined as tiers[{seen_names[tier.name]}]",
                )
            )
            continue
        seen_names[tier.name] = i
        if tier.logical_id in seen_ids:
            found.append(
                (
                    ("tiers", i, "name"),
                    f"tier {tier.name!r} and tier {seen_ids[tier.logical_id]!r} give the same "
                    f"CloudFormation name {tier.logical_id!r}; rename one",
                )
            )
        seen_ids[tier.logical_id] = tier.name
        for kind in ("read", "write", "principals"):
            values = getattr(tier, kind)
            for j, value in enumerate(values):
                if value in values[:j]:
                    found.append(((("tiers", i, kind, j)), f"{value!r} is listed twice"))
        for prefix in tier.shared_writes:
            if prefix not in tier.write:
                found.append(
                    (
                        ("tiers", i, "shared_writes", prefix),
                        f"{prefix!r} is not one of this tier's write prefixes {tier.write}; "
                        "list it under write too, or remove it here",
                    )
                )
        for j, prefix in enumerate(tier.write):
            if not any(_is_under(prefix, read) for read in tier.read):
                found.append(
                    (
                        ("tiers", i, "write", j),
                        f"write prefix {prefix!r} is not under any of this tier's read prefixes "
                        f"{tier.read}; add it (or a parent) to read",
                    )
                )
    for i, tier in tiers:
        for j, prefix in enumerate(tier.read):
            for _, other in tiers:
                if other.name == tier.name:
                    continue
                for inner in other.read:
                    if inner != prefix and _is_under(inner, prefix):
                        found.append(
                            (
                                ("tiers", i, "read", j),
                                f"{prefix!r} contains {inner!r}, which tier {other.name!r} "
                                f"reads, so tier {tier.name!r} would read that tier's data; "
                                "narrow it, or name the same prefix in both tiers to share it",
                            )
                        )
    found += flow_problems(tiers)
    return found


def _overlap(a: str, b: str) -> bool:
    return _is_under(a, b) or _is_under(b, a)


def flow_problems(tiers: list[tuple[int, Tier]]) -> list[tuple[Loc, str]]:
    """A tier that writes where another tier reads moves data between tiers: allowed only when
    the writing tier declares it, per prefix and reader, in `shared_writes`."""
    found: list[tuple[Loc, str]] = []
    names = {tier.name for _, tier in tiers}
    for i, tier in tiers:
        for prefix, readers in tier.shared_writes.items():
            for k, reader in enumerate(readers):
                if reader == tier.name or reader not in names:
                    what = "is this tier itself" if reader == tier.name else "is not a tier"
                    found.append(
                        (
                            ("tiers", i, "shared_writes", prefix, k),
                            f"{reader!r} {what}; name the other tiers that read {prefix!r}",
                        )
                    )
        for j, written in enumerate(tier.write):
            for _, other in tiers:
                if other.name == tier.name:
                    continue
                read = next((r for r in other.read if _overlap(written, r)), None)
                if read is None or other.name in tier.shared_writes.get(written, []):
                    continue
                found.append(
                    (
                        ("tiers", i, "write", j),
                        f"tier {tier.name!r} writes {written!r}, which tier {other.name!r} reads "
                        f"(as {read!r}), so data would flow from {tier.name!r} to "
                        f"{other.name!r}; narrow the prefixes, or declare the flow: "
                        f"shared_writes: {{{written}: [{other.name}]}}",
                    )
                )
    return found


def partition_problems(portfolio: Portfolio) -> list[tuple[Loc, str]]:
    """Every ARN of one portfolio (principals, the lake's key) must name one AWS partition: a
    role in aws-cn cannot use a portfolio in aws."""
    arns: list[tuple[Loc, str]] = [
        (("tiers", i, "principals", j), principal)
        for i, tier in enumerate(portfolio.tiers)
        for j, principal in enumerate(tier.principals)
        if principal.startswith("arn:")
    ]
    if portfolio.data_lake.kms_key_arn:
        arns.insert(0, (("data_lake", "kms_key_arn"), portfolio.data_lake.kms_key_arn))
    if not arns:
        return []
    first_loc, first = arns[0]
    partition = first.split(":")[1]
    return [
        (
            loc,
            f"ARN in partition {arn.split(':')[1]!r}, but {field_name(first_loc)} is in "
            f"{partition!r}; one portfolio is published in one partition, so use one for all",
        )
        for loc, arn in arns[1:]
        if arn.split(":")[1] != partition
    ]


def tag_option_problems(tag_options: dict[str, list[str]]) -> list[tuple[Loc, str]]:
    """Service Catalog's rules for TagOptions: keys not under `aws:`, at most `MAX_TAG_OPTIONS`
    key-value pairs in all (each portfolio and product gets every one)."""
    found: list[tuple[Loc, str]] = []
    total = sum(len(values) for values in tag_options.values())
    if total > MAX_TAG_OPTIONS:
        found.append(
            (
                ("tag_options",),
                f"{total} TagOptions (key-value pairs); Service Catalog allows at most "
                f"{MAX_TAG_OPTIONS} on a portfolio or product",
            )
        )
    for key, values in tag_options.items():
        if key.lower().startswith("aws:"):
            found.append((("tag_options", key), "keys that start with 'aws:' are reserved for AWS"))
        if not values:
            found.append((("tag_options", key), "list at least one allowed value"))
        for j, value in enumerate(values):
            if value in values[:j]:
                found.append((("tag_options", key, j), f"{value!r} is listed twice"))
    return found


def _describer(model: type[Portfolio]):
    def _describe(error: dict[str, Any], source: Source) -> str:
        if error["type"] == "string_pattern_mismatch":
            return f"{error['input']!r} may contain only letters, digits, spaces and _.:/=+-@"
        return describe(error, model, source)

    return _describe


def _partial_rules(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    tiers = data.get("tiers")
    if not isinstance(tiers, list):
        return []
    valid = []
    for i, raw in enumerate(tiers):
        try:
            valid.append((i, Tier.model_validate(raw)))
        except ValidationError:
            continue
    return tier_rule_problems(valid)


def validate_data(source: Source, model: type[Portfolio]) -> Portfolio:
    """Turn parsed YAML into a `model` (see `portfolio_model`), or raise `InputError` listing
    every problem."""
    if isinstance(source.data, dict) and source.data.get("schema") in UPGRADES:
        # An older format: say what to add, rather than list every field it lacks.
        old = source.data["schema"]
        raise InputError(
            [source.problem(("schema",), f"{old!r} is an earlier format; {UPGRADES[old]}")]
        )
    portfolio, problems = type_problems(
        source, model, f"schema: {SCHEMA_VERSION}", _describer(model)
    )
    if portfolio is None:
        # Tiers that are well-formed on their own are still checked against each other, so a
        # type error elsewhere does not hide an overlap or a duplicate name.
        if isinstance(source.data, dict):
            problems += [
                source.problem(loc, message) for loc, message in _partial_rules(source.data)
            ]
        raise InputError(problems)
    problems += [source.problem(loc, message) for loc, message in rule_problems(portfolio)]
    if problems:
        raise InputError(problems)
    return portfolio


def load_portfolio(path: Path, model: type[Portfolio], display: str | None = None) -> Portfolio:
    """Read, parse and validate a portfolio file; raise `InputError` with every problem found."""
    return validate_data(load_source(path, display), model)


def problems_of(path: Path, model: type[Portfolio]) -> list[Problem]:
    """Every problem in `path` (empty when it is valid); handy for tests and editors."""
    try:
        load_portfolio(path, model)
    except InputError as err:
        return err.problems
    return []
