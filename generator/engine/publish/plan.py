"""The plan: compare what should be (`Desired`) with what is (`CatalogState`), as a list of actions.

Order matters for safety when a run stops half-way: principals come last, so users are never
given a portfolio whose products lack their launch role. Each product is published once per
tier, its tier bound in its template, and only that tier's portfolio offers it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.engine.publish import actions as act
from generator.engine.publish.desired import (
    TIER_TAG_KEY,
    Desired,
    PortfolioSpec,
    ProductSpec,
    TemplateFile,
    hash_in_description,
    launch_constraint_parameters,
)
from generator.engine.publish.state import CatalogState, ConstraintState, ProductState
from generator.model.problems import UserError

DEPRECATED, DEFAULT = "DEPRECATED", "DEFAULT"
OURS = "labcatalog: "


@dataclass
class Plan:
    """Everything `publish` would do, in order, plus what it leaves out and why."""

    bucket: str
    actions: list[act.Action] = field(default_factory=list)
    skipped: tuple[str, ...] = ()

    @property
    def changes(self) -> list[act.Action]:
        return [a for a in self.actions if a.change is not act.Change.UNCHANGED]

    def rows(self) -> list[act.Row]:
        return [row for action in self.actions for row in action.rows()]


def semver_key(name: str) -> tuple:
    """Order versions as semantic versions; anything else sorts first (oldest)."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:-(.+))?", name)
    if not match:
        return (0, -1, -1, -1, 0, name)
    major, minor, patch, pre = match.groups()
    return (1, int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def diff(
    desired: Desired, state: CatalogState, bucket: str, url: Callable[[TemplateFile], str]
) -> Plan:
    """The actions that make the catalog match `desired`; raises `UserError` for broken rules."""
    plan = Plan(bucket=bucket, skipped=desired.skipped)
    add = plan.actions.append
    _revoke_removed_tiers(desired, state, add)
    uploads = set()
    for product in desired.products:
        template = product.version.template
        if template.key in uploads:  # same bytes as another product's: one object serves both
            continue
        uploads.add(template.key)
        if template.key in state.template_keys:
            add(act.Unchanged("template", f"{template.stack} {template.version}"))
        else:
            add(act.UploadTemplate(template, bucket))
    for spec in desired.portfolios:
        _portfolio(spec, state, add)
    tag_option_names = {id_: kv for kv, (id_, _) in state.tag_options.items()}
    for key, value in desired.tag_options:
        if (key, value) not in state.tag_options:
            add(act.CreateTagOption(key, value))
        elif not state.tag_options[(key, value)][1]:
            add(act.ActivateTagOption(key, value))
        else:
            add(act.Unchanged("tag option", f"{key}={value}"))
    problems = []
    for spec in desired.products:
        problems += _product(spec, state.products.get(spec.key), url(spec.version.template), add)
    if problems:
        raise UserError("\n".join(problems))
    made: set[str] = set()  # each action once, though every tier's product links it
    for spec in desired.products:
        _service_actions(spec, state, made, add)
    for portfolio in desired.portfolios:
        current = state.portfolios.get(portfolio.tier)
        for product in desired.products:
            if product.tier == portfolio.tier:
                _association_and_constraints(portfolio, product, current, state, add)
    for portfolio in desired.portfolios:
        _tag_option_associations(portfolio, desired, state, tag_option_names, add)
    for portfolio in desired.portfolios:
        _principals(portfolio, state, add)
    _removals(desired, state, add)
    return plan


def _portfolio(spec: PortfolioSpec, state: CatalogState, add) -> None:
    current = state.portfolios.get(spec.tier)
    if current is None:
        add(act.CreatePortfolio(spec))
        return
    fields = tuple(
        name
        for name, want, have in (
            ("name", spec.name, current.name),
            ("description", spec.description, current.description),
            ("provider", spec.provider, current.provider),
        )
        if want != have
    )
    tags = tuple((k, v) for k, v in spec.tags.items() if current.tags.get(k) != v)
    if fields or tags:
        add(act.UpdatePortfolio(spec, fields, tags))
    else:
        add(act.Unchanged("portfolio", spec.name))


def _product(spec: ProductSpec, current: ProductState | None, url: str, add) -> list[str]:
    """Product, its configured version and the guidance of every version; problems found."""
    if current is None:
        add(act.CreateProduct(spec, url))
        return []
    fields = tuple(
        name
        for name, want, have in (
            ("name", spec.name, current.name),
            ("owner", spec.owner, current.owner),
            ("description", spec.description, current.description),
            ("distributor", spec.distributor, current.distributor),
            ("support email", spec.support_email, current.support_email),
        )
        if want is not None and want != have
    )
    tags = tuple((k, v) for k, v in spec.tags.items() if current.tags.get(k) != v)
    subject = f"{spec.key} ({spec.name})"
    if fields or tags:
        add(act.UpdateProduct(spec, fields, tags))
    else:
        add(act.Unchanged("product", subject))
    wanted = spec.version
    existing = {v.name: v for v in current.versions}
    if wanted.name not in existing:
        add(act.CreateVersion(spec.key, wanted, url))
    else:
        have = existing[wanted.name]
        stored = hash_in_description(have.description)
        if stored != wanted.template.sha256:
            where = f"sha256 {stored[:12]}" if stored else "no labcatalog hash"
            return [
                f"{spec.key} {wanted.name} is already published with a different template "
                f"({where} in Service Catalog, sha256 {wanted.template.sha256[:12]} in build/); "
                f"versions are immutable: bump products.{spec.product}.version in portfolio.yaml, "
                "run labcatalog build, then publish"
            ]
    names = sorted(set(existing) | {wanted.name}, key=semver_key, reverse=True)
    keep = set(names[: spec.keep_versions]) | {wanted.name}
    for name in sorted(existing, key=semver_key):
        version = existing[name]
        guidance = DEFAULT if name in keep else DEPRECATED
        description = wanted.description if name == wanted.name else None
        if description == version.description:
            description = None
        if guidance != version.guidance or description is not None:
            add(
                act.UpdateVersion(
                    spec.key,
                    name,
                    description=description,
                    guidance=guidance if guidance != version.guidance else None,
                )
            )
        else:
            note = " (deprecated)" if guidance == DEPRECATED else ""
            add(act.Unchanged("version", f"{spec.key} {name}{note}"))
    return []


def _service_actions(spec: ProductSpec, state: CatalogState, made: set[str], add) -> None:
    product = state.products.get(spec.key)
    version = None
    if product is not None:
        version = next((v for v in product.versions if v.name == spec.version.name), None)
    for action in spec.service_actions:
        current = state.service_actions.get(action.name)
        if action.name in made:
            pass
        elif current is None:
            add(act.CreateServiceAction(action))
        elif current.definition != action.definition or current.description != action.description:
            add(act.UpdateServiceAction(action))
        else:
            add(act.Unchanged("service action", action.name))
        made.add(action.name)
        linked = version is not None and current is not None
        if linked and current.id in (version.service_action_ids or set()):
            subject = f"{spec.key} {spec.version.name} <- action {action.name}"
            add(act.Unchanged("association", subject))
        else:
            add(act.AssociateServiceAction(spec.key, spec.version.name, action.name))


def _constraints_wanted(portfolio: PortfolioSpec) -> list[tuple[str, dict, str]]:
    # No template constraint: a product's template has its tier bound, so there is nothing to
    # pin (a pin labcatalog made before is deleted, see below).
    return [
        (
            "LAUNCH",
            launch_constraint_parameters(portfolio.tier),
            f"{OURS}launch as role {portfolio.launch_role_name}",
        ),
    ]


def _association_and_constraints(
    portfolio: PortfolioSpec, product: ProductSpec, current, state: CatalogState, add
) -> None:
    product_state = state.products.get(product.key)
    associated = bool(current and product_state and current.id in product_state.portfolio_ids)
    if associated:
        add(act.Unchanged("association", f"{portfolio.tier} <- product {product.key}"))
    else:
        add(act.AssociateProduct(portfolio.tier, product.key))
    existing: list[ConstraintState] = []
    if associated:
        existing = [c for c in current.constraints if c.product_id == product_state.id]
    for kind, parameters, description in _constraints_wanted(portfolio):
        text = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
        same_kind = [c for c in existing if c.type == kind]
        if kind == "TEMPLATE":  # other teams may add their own template constraints: keep them
            same_kind = [c for c in same_kind if c.description.startswith(OURS)]
        exact = [
            c for c in same_kind if c.parameters == parameters and c.description == description
        ]
        keep = exact[0] if exact else (same_kind[0] if same_kind else None)
        if keep is None:
            add(act.CreateConstraint(portfolio.tier, product.key, kind, text, description))
        elif keep in exact:
            add(act.Unchanged("constraint", f"{portfolio.tier} {product.key} {kind.lower()}"))
        else:
            add(
                act.UpdateConstraint(
                    portfolio.tier, product.key, kind, text, description, constraint_id=keep.id
                )
            )
        for extra in same_kind:
            if extra is not keep:
                add(act.DeleteConstraint(portfolio.tier, product.key, kind, extra.id))
    for pin in existing:
        if pin.type == "TEMPLATE" and pin.description.startswith(OURS):
            add(
                act.DeleteConstraint(
                    portfolio.tier, product.key, pin.type, pin.id, reason="tier bound in template"
                )
            )


def _tag_option_associations(
    portfolio: PortfolioSpec, desired: Desired, state: CatalogState, names: dict, add
) -> None:
    current = state.portfolios.get(portfolio.tier)
    have = current.tag_option_ids if current else set()
    wanted_ids = set()
    for key, value in portfolio.tag_options:
        option = state.tag_options.get((key, value))
        if option and option[0] in have:
            wanted_ids.add(option[0])
            add(act.Unchanged("association", f"{portfolio.tier} <- tag option {key}={value}"))
        else:
            add(act.AssociateTagOption(portfolio.tier, key, value))
    for stale in sorted(have - wanted_ids):
        key, value = names.get(stale, ("?", stale))
        add(act.DisassociateTagOption(portfolio.tier, key, value, tag_option_id=stale))


def _principals(portfolio: PortfolioSpec, state: CatalogState, add) -> None:
    current = state.portfolios.get(portfolio.tier)
    have = current.principals if current else {}
    for arn in portfolio.principals:
        if arn in have:
            add(act.Unchanged("association", f"{portfolio.tier} <- principal {arn}"))
        else:
            add(act.AssociatePrincipal(portfolio.tier, arn))
    for arn in sorted(set(have) - set(portfolio.principals)):
        add(act.DisassociatePrincipal(portfolio.tier, arn, have[arn]))


def _removed_tiers(desired: Desired, state: CatalogState) -> list[str]:
    return sorted(set(state.portfolios) - {p.tier for p in desired.portfolios})


def _revoke_removed_tiers(desired: Desired, state: CatalogState, add) -> None:
    """Users lose a removed tier before anything else happens (the plan's first steps)."""
    for tier in _removed_tiers(desired, state):
        principals = state.portfolios[tier].principals
        for arn in sorted(principals):
            add(act.DisassociatePrincipal(tier, arn, principals[arn], reason="tier removed"))


def _removals(desired: Desired, state: CatalogState, add) -> None:
    """Undo what labcatalog published for tiers and products no longer in portfolio.yaml.

    Users have lost the removed tiers already (`_revoke_removed_tiers`). Each product leaves
    the portfolio (its constraints first, as Service Catalog requires; the launch constraint
    first of them, so that a product is never launchable without a pin made before products
    were per tier yet with its launch role), as does a product found in another tier's
    portfolio; then the removed products' versions are deprecated (a product published before
    products were per tier is removed so: each tier has its own now). Nothing is deleted: a
    provisioned product keeps working on its version, and an emptied portfolio stays, to be
    found again by its tier tag if the tier comes back.
    """
    removed_tiers = _removed_tiers(desired, state)
    removed_products = sorted(set(state.products) - desired.product_keys)
    managed_portfolios = {p.id for p in state.portfolios.values()}
    for tier, portfolio in sorted(state.portfolios.items()):
        for key, product in sorted(state.products.items()):
            if portfolio.id not in product.portfolio_ids:
                continue
            if tier in removed_tiers:
                reason = "tier removed"
            elif key in removed_products:
                reason = "product removed"
            elif product.tags.get(TIER_TAG_KEY, tier) != tier:
                reason = "another tier's product"
            else:
                continue
            mine = [c for c in portfolio.constraints if c.product_id == product.id]
            for constraint in sorted(mine, key=lambda c: (c.type != "LAUNCH", c.type, c.id)):
                add(act.DeleteConstraint(tier, key, constraint.type, constraint.id, reason=reason))
            add(act.DisassociateProduct(tier, key, reason=reason))
    for key in removed_products:
        product = state.products[key]
        active = [v for v in product.versions if v.guidance != DEPRECATED]
        for version in sorted(active, key=lambda v: semver_key(v.name)):
            add(act.UpdateVersion(key, version.name, guidance=DEPRECATED))
        if not active and not product.portfolio_ids & managed_portfolios:
            add(act.Unchanged("product", f"{key} ({product.name}) removed, versions deprecated"))
    for tier in removed_tiers:
        portfolio = state.portfolios[tier]
        products = any(portfolio.id in p.portfolio_ids for p in state.products.values())
        if not portfolio.principals and not products:
            add(act.Unchanged("portfolio", f"{portfolio.name} (tier removed)"))
