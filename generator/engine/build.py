"""Turn a validated portfolio into the files of `build/`, deterministically and all-or-nothing."""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from troposphere import Template

from generator.cfn.bind import BindError, bind
from generator.cfn.fold import fold_conditions
from generator.cfn.names import TIER_TEMPLATE_PARAMETER
from generator.engine import build_folder
from generator.engine.build_folder import TEMPLATE_SUFFIX, Artifact, Build
from generator.engine.registry import Registry, discover
from generator.model.config import Portfolio
from generator.model.problems import UserError

# CloudFormation's quotas for one template (uploaded through S3).
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_BYTES = 1_000_000
# IAM's quotas, counted without whitespace: all inline policies of one role; one managed policy;
# a role's trust policy (the default quota: 2,048, adjustable to 4,096). Managed policies attached
# to one role: the default quota (10, adjustable to 20).
MAX_ROLE_INLINE_POLICY_CHARS = 10_240
MAX_MANAGED_POLICY_CHARS = 6_144
MAX_TRUST_POLICY_CHARS = 2_048
MAX_MANAGED_POLICIES_PER_ROLE = 10
# Quotas of one account (and region) that the build as a whole uses, by resource type: the
# default quota, and the most it can be raised to (Service Quotas). A build past the default
# deploys only once the quota is raised (README, "Scale"); past the maximum it never does, so
# `generate` refuses it.
ACCOUNT_QUOTAS = {
    "AWS::IAM::Role": ("IAM roles", 1_000, 5_000),
    "AWS::IAM::ManagedPolicy": ("IAM customer managed policies", 1_500, 5_000),
    "AWS::IAM::InstanceProfile": ("IAM instance profiles", 1_000, 5_000),
    "AWS::SSM::Parameter": ("SSM standard parameters", 10_000, 10_000),
    "AWS::CloudFormation::Stack": ("CloudFormation stacks (nested ones count)", 2_000, 10_000),
}
# The template Metadata key under which the build records a product's key and version.
METADATA_KEY = "labcatalog"
# The platform's stack key; each tier's part of it is the stack `platform/<tier>`.
PLATFORM = "platform"

T = TypeVar("T")


def tier_stack(tier: str) -> str:
    """The stack key of a tier's part of the platform (its template nests in the platform's)."""
    return f"{PLATFORM}/{tier}"


def product_stack(product: str, tier: str) -> str:
    """The stack key of a product's template for one tier (its `Tier` parameter bound)."""
    return f"{product}/{tier}"


@dataclass(frozen=True)
class Stack:
    """A template that the build produces: where it goes, the pure function that makes it, its
    key (`platform`, `platform/<tier>` or `<product key>/<tier>`) and, for a product, its
    version and the tier its `Tier` parameter is bound to."""

    path: str
    build: Callable[[Portfolio], Template]
    key: str
    version: str | None = None
    tier: str | None = None
    product: str | None = None  # the product's key in portfolio.yaml
    # Further parameters bound in this tier's template: the tier's settings (the product's
    # `bound_parameters`), as (name, value) in the product's order.
    bindings: tuple[tuple[str, str], ...] = ()


def stacks(portfolio: Portfolio, registry: Registry | None = None) -> list[Stack]:
    """Every template this portfolio produces: the platform and each configured product, once
    per tier.

    The one place a template's path in build/ is made: `<key>.template.json`, the same for every
    version, so a version bump shows in review as a diff of one file per tier. Each tier's part
    of the platform is a stack nested in the platform's, at `platform/<tier>.template.json` (its
    key `platform/<tier>`); the platform's root template runs it from that path, relative to its
    own folder, which `aws cloudformation package` turns into an S3 URL. Each product's template
    for a tier is at `<product key>/<tier>.template.json` (its key `<product key>/<tier>`), with
    its `Tier` parameter bound to that tier: the tier's portfolio offers it, and the console
    offers no tier to choose.
    """
    registry = registry or discover()
    root = f"{PLATFORM}{TEMPLATE_SUFFIX}"
    tiers = {tier.name: f"{PLATFORM}/{tier.name}{TEMPLATE_SUFFIX}" for tier in portfolio.tiers}

    def tier_template_url(tier: str) -> str:
        # Relative to the root's folder: where `aws cloudformation package` looks for it.
        return posixpath.relpath(tiers[tier], posixpath.dirname(root) or ".")

    platform = _once(lambda p: registry.build_platform(p, tier_template_url))
    found = [Stack(root, lambda p: platform(p).root, PLATFORM)]
    for tier, path in tiers.items():
        found.append(Stack(path, lambda p, tier=tier: platform(p).tier(tier), tier_stack(tier)))
    for product, entry in registry.configured(portfolio):
        template = _once(product.build)
        for tier in portfolio.tiers:
            key = product_stack(product.key, tier.name)
            found.append(
                Stack(
                    f"{key}{TEMPLATE_SUFFIX}",
                    template,
                    key,
                    entry.version,
                    tier=tier.name,
                    product=product.key,
                    bindings=tuple(product.bound_parameters(portfolio, tier).items()),
                )
            )
    return found


def _once(make: Callable[[Portfolio], T]) -> Callable[[Portfolio], T]:
    """`make`, called once per portfolio: the platform's root and every tier's template are made
    together; a product's template is made once and bound to each tier."""
    made: dict[int, tuple[Portfolio, T]] = {}

    def get(portfolio: Portfolio) -> T:
        if id(portfolio) not in made:
            made.clear()
            made[id(portfolio)] = (portfolio, make(portfolio))
        return made[id(portfolio)][1]

    return get


def template_body(template: Template, stack: Stack) -> dict:
    """The stack's template as JSON data: a product's with its `Tier` bound to the stack's tier
    and its `bindings` to the tier's settings (`generator.cfn.bind`), the conditions binding
    made constant folded (`generator.cfn.fold`), and its key, tier and version recorded in its
    Metadata (key `labcatalog`), so they show in the template itself, whose path does not change
    between versions."""
    found = template.to_dict()
    if stack.tier is not None and stack.product is not None:
        try:
            for name, value in ((TIER_TEMPLATE_PARAMETER, stack.tier), *stack.bindings):
                found = bind(found, name, value)
            found = fold_conditions(found)
        except BindError as err:  # a product's code broke its contract: say which
            raise BindError(f"{stack.path}: {err}") from None
    if stack.version is not None:
        found.setdefault("Metadata", {})[METADATA_KEY] = {
            "product": stack.product or stack.key,
            **({"tier": stack.tier} if stack.tier is not None else {}),
            "version": stack.version,
        }
    return found


def render(template: Template | dict) -> str:
    """Template JSON, byte-identical for identical input (sorted keys, no timestamps)."""
    found = template.to_dict() if isinstance(template, Template) else template
    return json.dumps(found, indent=1, sort_keys=True) + "\n"


def check_limits(path: str, template: Template | dict, text: str) -> list[str]:
    """What in this template would break a CloudFormation or IAM quota."""
    if isinstance(template, Template):
        template = template.to_dict()
    found = []
    counts = {
        what: (len(template.get(section, {})), limit)
        for what, section, limit in (
            ("resources", "Resources", MAX_RESOURCES),
            ("parameters", "Parameters", MAX_PARAMETERS),
            ("outputs", "Outputs", MAX_OUTPUTS),
        )
    }
    for what, (count, limit) in counts.items():
        if count > limit:
            found.append(f"{path}: {count} {what}, over CloudFormation's limit of {limit}")
    if len(text.encode()) > MAX_BODY_BYTES:
        found.append(
            f"{path}: {len(text.encode())} bytes, over CloudFormation's limit of {MAX_BODY_BYTES}"
        )
    body = json.loads(text)
    for logical_id, resource in body.get("Resources", {}).items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(json.dumps(resource["Properties"]["PolicyDocument"], separators=(",", ":")))
            if size > MAX_MANAGED_POLICY_CHARS:
                found.append(
                    f"{path}: managed policy {logical_id} has {size} characters, over IAM's "
                    f"limit of {MAX_MANAGED_POLICY_CHARS}"
                )
        if resource["Type"] != "AWS::IAM::Role":
            continue
        trust = resource["Properties"]["AssumeRolePolicyDocument"]
        size = len(json.dumps(trust, separators=(",", ":")))
        if size > MAX_TRUST_POLICY_CHARS:
            found.append(
                f"{path}: role {logical_id} has a trust policy of {size} characters, over IAM's "
                f"default quota of {MAX_TRUST_POLICY_CHARS}"
            )
        managed = resource["Properties"].get("ManagedPolicyArns", [])
        if len(managed) > MAX_MANAGED_POLICIES_PER_ROLE:
            found.append(
                f"{path}: role {logical_id} has {len(managed)} managed policies, over IAM's "
                f"default quota of {MAX_MANAGED_POLICIES_PER_ROLE} per role"
            )
        policies = resource["Properties"].get("Policies", [])
        size = sum(len(json.dumps(p["PolicyDocument"], separators=(",", ":"))) for p in policies)
        if size > MAX_ROLE_INLINE_POLICY_CHARS:
            found.append(
                f"{path}: role {logical_id} has {size} characters of inline policy, over IAM's "
                f"limit of {MAX_ROLE_INLINE_POLICY_CHARS}; give its tier fewer prefixes"
            )
    return found


@dataclass(frozen=True)
class AccountUse:
    """How many of one account quota's resources a build creates, against that quota."""

    what: str
    count: int
    default: int
    maximum: int

    @property
    def over_default(self) -> bool:
        return self.count > self.default


def account_use(templates: Iterable[Artifact]) -> list[AccountUse]:
    """What the build's stacks create together, per account quota (`ACCOUNT_QUOTAS`); the
    platform's stacks and each product stack launched once (a product launched N times uses N
    times its own share; its templates for other tiers are the same stack for another tier)."""
    counts: Counter[str] = Counter()
    products = set()
    for template in templates:
        if template.resources is None:
            continue
        if template.version is not None and template.stack is not None:
            product = template.stack.partition("/")[0]
            if product in products:
                continue
            products.add(product)
        counts["AWS::CloudFormation::Stack"] += 1
        for resource in json.loads(template.text).get("Resources", {}).values():
            # A nested stack is counted once, as its own template, above.
            if resource["Type"] != "AWS::CloudFormation::Stack":
                counts[resource["Type"]] += 1
    return [
        AccountUse(what, counts[kind], default, maximum)
        for kind, (what, default, maximum) in ACCOUNT_QUOTAS.items()
    ]


def quotas_to_raise(files: Iterable[Artifact]) -> list[str]:
    """What to raise before deploying this build: each account quota it passes the default of."""
    return [
        f"the build creates {use.count} {use.what} in one account, over the default quota of "
        f"{use.default}: raise it (Service Quotas) before deploying; see README, Scale"
        for use in account_use(files)
        if use.over_default
    ]


def generate(portfolio: Portfolio, registry: Registry | None = None) -> list[Artifact]:
    """Every file of the build, in memory, the manifest last; raise `UserError` if a template
    breaks a quota."""
    templates = []
    problems = []
    for stack in stacks(portfolio, registry):
        try:
            template = template_body(stack.build(portfolio), stack)
        except ValueError as err:
            # troposphere refuses a template past CloudFormation's counts as it is built.
            if not str(err).startswith("Maximum"):
                raise
            problems.append(
                f"{stack.path}: {err} (a CloudFormation limit); this portfolio has "
                f"{len(portfolio.tiers)} tiers: use fewer tiers or split the portfolio"
            )
            continue
        text = render(template)
        found = check_limits(stack.path, template, text)
        if found:
            problems += [
                f"{p}; this portfolio has {len(portfolio.tiers)} tiers: use fewer or split it"
                for p in found
            ]
            continue
        templates.append(
            Artifact(stack.path, text, len(template.get("Resources", {})), stack.key, stack.version)
        )
    problems += [
        f"the build creates {use.count} {use.what} in one account, over the most AWS allows "
        f"({use.maximum}); this portfolio has {len(portfolio.tiers)} tiers: use fewer or split it"
        for use in account_use(templates)
        if use.count > use.maximum
    ]
    if problems:
        raise UserError("\n".join(problems))
    return list(Build.of(templates).files)


def require_current(
    portfolio: Portfolio, portfolio_path: Path, outdir: Path, risk: str, then: str = ""
) -> Build:
    """Generate the build in memory and return it if `outdir` holds exactly it; otherwise
    `UserError` naming the missing, differing and stray files (`build_folder.require_current`).

    Publish and cost go on with the build returned, without reading `outdir` again.
    """
    build = Build(tuple(generate(portfolio)))
    return build_folder.require_current(build, portfolio_path, outdir, risk, then)
