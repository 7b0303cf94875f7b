"""What a product folder exports: one `PRODUCT` of type `Product`.

A product is found by the engine through the `labcatalog.products` entry points
(pyproject.toml), never by importing its module by name; a third product is one new folder plus
one entry point. The `Product` says:
- its key in portfolio.yaml and how to read its entry there (`ProductEntry`, from the model);
- its template builder (pure: portfolio -> Template);
- what it adds to the account-wide platform stack, once (`add_to_platform`) and per tier
  (`add_to_tier`): product stacks may not create IAM roles (the launch role denies it), so the
  roles a product runs with, and the launch role's rights for it, are made by the platform;
- its Service Catalog self-service actions;
- which of its template's parameters the build binds to each tier's settings
  (`bound_parameters`), as it binds `Tier`.

The platform stack is not a catalog product; its builder (`PlatformBuilder`) is found through
the `labcatalog.platform` entry point and is handed the products. `add_to_tier` adds to the
template of one tier (a stack nested in the platform's), where the account-wide values of
`PlatformContext` are that template's parameters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from awacs.aws import Statement
from troposphere import AWSHelperFn, Template
from troposphere.iam import Policy as RolePolicy

from generator.model.config import Portfolio, ProductEntry, Tier
from generator.model.config import Product as ProductConfig

Value = str | AWSHelperFn  # a literal or a CloudFormation expression (Ref, GetAtt, Sub)


@dataclass(frozen=True)
class ServiceActionSpec:
    """An SSM Automation document that users may run against their provisioned product.

    `name` and `assume_role` may hold `{tier}`, `{partition}` and `{account}`, filled in by
    `for_tier` when the publisher makes one action per tier: each tier's actions run as that
    tier's own role (the ARN Service Catalog passes to the document as AutomationAssumeRole).
    """

    name: str
    description: str
    document_name: str
    document_version: str = "$DEFAULT"
    # The role Systems Manager runs the document's steps as: an ARN (pattern), or Service
    # Catalog's "LAUNCH_ROLE" for the provisioned product's launch role.
    assume_role: str = "LAUNCH_ROLE"
    # SSM parameters as Service Catalog takes them, e.g. [{"Name": "InstanceId", "Type": "TARGET"}]
    parameters: tuple[tuple[str, str], ...] = ()

    def for_tier(self, tier: str, partition: str, account: str) -> ServiceActionSpec:
        """This action as `tier` runs it: its name and role with the tier filled in."""
        fill = {"tier": tier, "partition": partition, "account": account}
        return replace(
            self, name=self.name.format(**fill), assume_role=self.assume_role.format(**fill)
        )

    @property
    def definition(self) -> dict[str, str]:
        """The `Definition` map of CreateServiceAction."""
        return {
            "Name": self.document_name,
            "Version": self.document_version,
            "AssumeRole": self.assume_role,
            "Parameters": json.dumps(
                [{"Name": name, "Type": kind} for name, kind in self.parameters],
                separators=(",", ":"),
            ),
        }


@dataclass(frozen=True)
class SsmValue:
    """An SSM parameter the platform publishes for products to read when they launch."""

    logical_id: str
    name: str  # from `generator.cfn.names` (tier_parameter, platform_parameter, ...)
    value: Value
    description: str


@dataclass(frozen=True)
class LaunchPolicy:
    """A managed policy for launch roles (inline, it would push a launch role past IAM's quota)."""

    logical_id: str
    name: str
    description: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class PassableRole:
    """A role the tier's launch role may pass, and the one service it may pass it to."""

    arn: Value
    service: str  # as iam:PassedToService names it, e.g. policies.ECS_TASKS


@dataclass(frozen=True)
class PlatformContext:
    """Account-wide values of the platform stack that products build on."""

    notebook_bucket: Value
    notebook_key_arn: Value
    hub_key_arn: Value
    repository_arn: Value
    # The bucket of load balancers' access logs (account-wide templates only).
    load_balancer_logs: Value | None = None
    # The validated portfolio the platform is built from (its settings decide, e.g., whether
    # the account's load balancer exists); None only in tests of a product's part alone.
    portfolio: Portfolio | None = None


@dataclass(frozen=True)
class TierContext:
    """One tier as the platform hands it to products: names, and the tier's own values."""

    name: str  # e.g. "non-pii"
    logical_id: str  # e.g. "NonPii"
    platform: PlatformContext
    notebook_role_arn: Value  # the shared hub's servers' own task role: no data
    # The tier data role's inline policies (its data access). Only a product's credential
    # broker (`TierContribution.credential_brokers`) reaches them, by assuming the data role.
    data_policies: tuple[RolePolicy, ...]


@dataclass(frozen=True)
class AccountContribution:
    """What a product adds to the platform once: managed policies every launch role gets."""

    launch_policies: tuple[LaunchPolicy, ...] = ()
    parameters: tuple[SsmValue, ...] = ()
    # Logical ids of resources made here whose Ref each tier's template needs (the platform
    # hands it over as a parameter of the same name, so `Ref(id)` reads the same in both).
    tier_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TierContribution:
    """What a product adds to one tier: the launch role's rights for it, and SSM parameters."""

    passable_roles: tuple[PassableRole, ...] = ()
    launch_statements: tuple[Statement, ...] = ()  # inline in the tier's launch role policy
    launch_policies: tuple[LaunchPolicy, ...] = ()  # managed, attached to the tier's launch role
    parameters: tuple[SsmValue, ...] = ()
    # What the tier's end users (its portfolio's principals) need for this product beyond
    # Service Catalog's end-user actions: part of the tier's end-user policy.
    end_user_statements: tuple[Statement, ...] = ()
    # Roles of its hubs, which get their users' credentials: the tier's data role trusts these
    # (for one person at a time; `policies.data_role_trust_policy`) and nothing else.
    credential_brokers: tuple[Value, ...] = ()


def _nothing_account(t: Template, platform: PlatformContext) -> AccountContribution:
    return AccountContribution()


def _nothing_tier(t: Template, tier: TierContext) -> TierContribution:
    return TierContribution()


def _no_actions(config: ProductConfig) -> tuple[ServiceActionSpec, ...]:
    return ()


def _nothing_bound(portfolio: Portfolio, tier: Tier) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Product(ProductEntry):
    """A catalog product: its portfolio.yaml entry (key, config class, description) and the rest.

    `add_to_platform` (to the platform's root template) and `add_to_tier` (to the template of
    one tier, nested in it) may add resources and outputs (roles, documents) and return what the
    platform itself must wire (launch role rights, parameters). They run only when the product
    is configured in portfolio.yaml.
    """

    build: Callable[[Portfolio], Template] = field(kw_only=True)
    add_to_platform: Callable[[Template, PlatformContext], AccountContribution] = field(
        default=_nothing_account, kw_only=True
    )
    add_to_tier: Callable[[Template, TierContext], TierContribution] = field(
        default=_nothing_tier, kw_only=True
    )
    service_actions: Callable[[ProductConfig], tuple[ServiceActionSpec, ...]] = field(
        default=_no_actions, kw_only=True
    )
    # Parameters of the template whose values are the tier's settings, not a launch's: the
    # build binds each (`generator.cfn.bind`) in the tier's template, as it binds `Tier`, so
    # the console never asks them while the template's conditions still read them.
    bound_parameters: Callable[[Portfolio, Tier], dict[str, str]] = field(
        default=_nothing_bound, kw_only=True
    )

    def configured(self, portfolio: Portfolio) -> ProductConfig | None:
        """This product's entry in `portfolio`, or None when the portfolio leaves it out."""
        return getattr(portfolio.products, self.field, None)


@dataclass(frozen=True)
class PlatformTemplates:
    """The platform's templates: the root (account-wide resources, and one nested stack per
    tier) and each tier's own template, which the root's nested stack of that tier runs."""

    root: Template
    tiers: tuple[tuple[str, Template], ...]  # (tier name, its template), in portfolio order

    def tier(self, name: str) -> Template:
        return dict(self.tiers)[name]


# Where a tier's template is, relative to the root template's folder (the engine decides).
TierTemplateUrl = Callable[[str], str]
# The platform stack's builder: the portfolio, every registered product, and where each tier's
# template goes.
PlatformBuilder = Callable[[Portfolio, Sequence[Product], TierTemplateUrl], PlatformTemplates]
