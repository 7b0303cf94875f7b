"""What Service Catalog should hold: computed from portfolio.yaml, the build and the caller."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from generator.cfn import names
from generator.engine.build import product_stack
from generator.engine.build_folder import Build
from generator.engine.publish.aws import Caller
from generator.engine.publish.service_actions import (
    ServiceActionSpec,
    action_roles,
    product_service_actions,
)
from generator.engine.registry import Registry, discover
from generator.model.config import Portfolio, Product, Tier
from generator.model.problems import UserError

MANAGED_TAG = {"Key": "managed-by", "Value": "labcatalog"}
TIER_TAG_KEY = names.TIER_TAG
PRODUCT_TAG_KEY = names.PRODUCT_TAG
# The parameter every product's code declares, which the build binds in each tier's template.
TIER_PARAMETER = names.TIER_TEMPLATE_PARAMETER
TEMPLATE_KEY_PREFIX = "templates/sha256"
# Provisioning artifacts cannot be tagged, so a version's template hash is kept at the end of
# its description, which ListProvisioningArtifacts already returns (no extra call).
_HASH_MARK = re.compile(r"\(labcatalog sha256:([0-9a-f]{64})\)$")


def version_description(text: str, sha256: str) -> str:
    """`First release (labcatalog sha256:HEX)`: the description with the template hash."""
    return f"{text} (labcatalog sha256:{sha256})"


def hash_in_description(description: str | None) -> str | None:
    """The template hash stored by `version_description`, or None when there is none."""
    match = _HASH_MARK.search(description or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class TemplateFile:
    """A product's template for one tier in the build: which product, tier and version, and
    its exact bytes."""

    product: str
    tier: str
    version: str
    body: bytes

    @property
    def stack(self) -> str:
        """`<product key>/<tier>`: the build's stack key, and the published product's identity."""
        return product_stack(self.product, self.tier)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def key(self) -> str:
        """Its S3 key: derived from the content, so a key never changes meaning."""
        return f"{TEMPLATE_KEY_PREFIX}/{self.sha256}.template.json"


@dataclass(frozen=True)
class VersionSpec:
    name: str
    description: str
    template: TemplateFile


@dataclass(frozen=True)
class ProductSpec:
    """One Service Catalog product: a portfolio.yaml product for one tier, in that tier's
    portfolio only. `key` (`<product key>/<tier>`) is its identity, kept in its tags."""

    key: str
    product: str  # the product's key in portfolio.yaml
    tier: str
    name: str
    owner: str
    description: str
    distributor: str
    support_email: str | None
    version: VersionSpec
    keep_versions: int
    service_actions: tuple[ServiceActionSpec, ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        return {
            MANAGED_TAG["Key"]: MANAGED_TAG["Value"],
            PRODUCT_TAG_KEY: self.product,
            TIER_TAG_KEY: self.tier,
        }


@dataclass(frozen=True)
class PortfolioSpec:
    tier: str
    name: str
    description: str
    provider: str
    principals: tuple[str, ...]
    launch_role_name: str
    # The portfolio's TagOptions: the file's and its tier's own, which Service Catalog puts on
    # every stack launched from it (the tier's launch role runs only stacks with its tier's).
    tag_options: tuple[tuple[str, str], ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        return {MANAGED_TAG["Key"]: MANAGED_TAG["Value"], TIER_TAG_KEY: self.tier}


@dataclass(frozen=True)
class Desired:
    portfolios: tuple[PortfolioSpec, ...]
    products: tuple[ProductSpec, ...]
    tag_options: tuple[tuple[str, str], ...]
    skipped: tuple[str, ...] = field(default=())
    # Every (product key)/(tier) portfolio.yaml configures, with a template in the build or
    # not: a managed product whose identity is not here was removed from the file.
    configured: tuple[str, ...] = field(default=())

    @property
    def product_keys(self) -> set[str]:
        return set(self.configured) | {p.key for p in self.products}


def portfolio_name(portfolio: Portfolio, tier: Tier) -> str:
    return f"{portfolio.portfolio.name} ({tier.name})"


def launch_role_name(tier: str) -> str:
    """The tier's launch role, created by the platform stack."""
    return names.LAUNCH_ROLE.format(tier=tier)


def principal_arn(principal: str, who: Caller) -> str:
    """`role/NAME` -> `arn:PARTITION:iam::ACCOUNT:role/NAME`; full ARNs are kept."""
    if principal.startswith("arn:"):
        return principal
    return f"arn:{who.partition}:iam::{who.account}:{principal}"


def launch_constraint_parameters(tier: str) -> dict:
    """Launch constraint: run stacks as the tier's launch role, by name (works in any account)."""
    return {"LocalRoleName": launch_role_name(tier)}


def configured_products(
    portfolio: Portfolio, registry: Registry | None = None
) -> dict[str, Product]:
    """Each product `portfolio` configures, by key, with its entry (in the registry's order)."""
    return {product.key: entry for product, entry in (registry or discover()).configured(portfolio)}


def read_templates(
    portfolio: Portfolio, build: Build, registry: Registry | None = None
) -> tuple[list[TemplateFile], list[str]]:
    """The configured products' templates in `build`, one per tier, and notes on those
    missing."""
    found, skipped = [], []
    for key, product in configured_products(portfolio, registry).items():
        for tier in portfolio.tiers:
            stack = product_stack(key, tier.name)
            template = build.template(stack)
            if template is None:
                skipped.append(
                    f"{stack} {product.version}: no template in the build yet; not published"
                )
                continue
            if template.version != product.version:
                raise UserError(
                    f"the build holds {key} {template.version} ({template.path}), but the "
                    f"portfolio says {product.version}; run: labcatalog build"
                )
            parameters = json.loads(template.text).get("Parameters", {})
            if TIER_PARAMETER in parameters:
                raise UserError(
                    f"{template.path} still asks for {TIER_PARAMETER!r}: a product's template "
                    "for a tier has its tier bound, so the console offers no tier to choose; "
                    "run: labcatalog build"
                )
            found.append(TemplateFile(key, tier.name, product.version, template.text.encode()))
    return found, skipped


def desired_state(
    portfolio: Portfolio,
    templates: list[TemplateFile],
    who: Caller,
    skipped: list[str] | None = None,
    registry: Registry | None = None,
) -> Desired:
    """Everything the catalog should hold for this portfolio and these templates."""
    info = portfolio.portfolio
    registry = registry or discover()
    configured = configured_products(portfolio, registry)
    shared_options = tuple(
        (key, value) for key, values in sorted(portfolio.tag_options.items()) for value in values
    )
    portfolios = []
    for tier in portfolio.tiers:
        # A self-service action's role updates the tier's provisioned products (a resize), for
        # which Service Catalog wants it among the portfolio's principals, as a user would be.
        actions = [
            a
            for key in configured
            for a in product_service_actions(registry.product(key), portfolio, [tier.name], who)
        ]
        members = {principal_arn(p, who) for p in tier.principals} | {*action_roles(actions)}
        name = portfolio_name(portfolio, tier)
        if len(name) > 100:
            raise UserError(
                f"portfolio name {name!r} is over Service Catalog's 100 characters; "
                "shorten portfolio.name"
            )
        portfolios.append(
            PortfolioSpec(
                tier=tier.name,
                name=name,
                description=f"{info.description}. Tier {tier.name}: {tier.description}",
                provider=info.provider,
                principals=tuple(sorted(members)),
                launch_role_name=launch_role_name(tier.name),
                tag_options=(*shared_options, (TIER_TAG_KEY, tier.name)),
            )
        )
    products = []
    for template in templates:
        product = configured[template.product]
        products.append(
            ProductSpec(
                key=template.stack,
                product=template.product,
                tier=template.tier,
                name=product.name,
                owner=product.owner,
                description=product.description,
                distributor=info.provider,
                support_email=info.support_email,
                version=VersionSpec(
                    template.version,
                    version_description(product.version_description, template.sha256),
                    template,
                ),
                keep_versions=product.keep_versions,
                service_actions=product_service_actions(
                    registry.product(template.product), portfolio, [template.tier], who
                ),
            )
        )
    tag_options = tuple(dict.fromkeys(o for p in portfolios for o in p.tag_options))
    identities = tuple(
        product_stack(key, tier.name) for key in configured for tier in portfolio.tiers
    )
    return Desired(
        tuple(portfolios), tuple(products), tag_options, tuple(skipped or ()), identities
    )
