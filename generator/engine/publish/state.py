"""What Service Catalog (and the template bucket) hold now, read with list/describe calls only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import botocore.exceptions

from generator.engine.build import product_stack
from generator.engine.publish.aws import Clients
from generator.engine.publish.desired import MANAGED_TAG, PRODUCT_TAG_KEY, TIER_TAG_KEY, Desired
from generator.model.problems import UserError


@dataclass
class ConstraintState:
    id: str
    type: str
    product_id: str
    description: str
    parameters: dict


@dataclass
class PortfolioState:
    id: str
    name: str
    description: str
    provider: str
    tags: dict[str, str]
    tag_option_ids: set[str]
    principals: dict[str, str]  # ARN -> IAM or IAM_PATTERN
    constraints: list[ConstraintState]


@dataclass
class VersionState:
    id: str
    name: str
    description: str
    guidance: str
    service_action_ids: set[str] | None = None  # read only when the product defines actions


@dataclass
class ProductState:
    id: str
    name: str
    owner: str
    description: str
    distributor: str
    support_email: str | None
    tags: dict[str, str]
    versions: list[VersionState]
    portfolio_ids: set[str]


@dataclass
class ServiceActionState:
    id: str
    description: str
    definition: dict[str, str]


@dataclass
class CatalogState:
    """Current state, keyed like `Desired`: tier, product identity (`<product key>/<tier>`),
    (tag key, value), action name."""

    portfolios: dict[str, PortfolioState] = field(default_factory=dict)
    products: dict[str, ProductState] = field(default_factory=dict)
    tag_options: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    service_actions: dict[str, ServiceActionState] = field(default_factory=dict)
    template_keys: set[str] = field(default_factory=set)


def _pages(client, operation: str, result_key: str, **kwargs) -> list[dict]:
    paginator = client.get_paginator(operation)
    return [item for page in paginator.paginate(**kwargs) for item in page.get(result_key, [])]


def _tags(tags: list[dict]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _one_by_name(items: list[dict], name: str, name_key: str, what: str) -> dict | None:
    matches = [item for item in items if item[name_key] == name]
    if len(matches) > 1:
        ids = ", ".join(sorted(m.get("Id") or m.get("ProductId", "") for m in matches))
        raise UserError(
            f"{len(matches)} {what}s are named {name!r} ({ids}); labcatalog finds {what}s by "
            "name, so delete or rename the extra ones first"
        )
    return matches[0] if matches else None


def _check_managed(tags: dict[str, str], what: str, name: str) -> None:
    if tags.get(MANAGED_TAG["Key"]) != MANAGED_TAG["Value"]:
        raise UserError(
            f"{what} {name!r} exists but was not created by labcatalog (no tag "
            f"{MANAGED_TAG['Key']}={MANAGED_TAG['Value']}); rename it, or tag it to let "
            "labcatalog manage it"
        )


def _is_managed(tags: dict[str, str]) -> bool:
    return tags.get(MANAGED_TAG["Key"]) == MANAGED_TAG["Value"]


def portfolio_identity(tags: dict[str, str]) -> str | None:
    """A managed portfolio's identity: its tier tag."""
    return tags.get(TIER_TAG_KEY)


def product_identity(tags: dict[str, str]) -> str | None:
    """A managed product's identity: `<product key>/<tier>` from its product and tier tags; a
    product published before products were per tier has no tier tag: its product key alone."""
    key = tags.get(PRODUCT_TAG_KEY)
    if key is None or TIER_TAG_KEY not in tags:
        return key
    return product_stack(key, tags[TIER_TAG_KEY])


def _identify(
    found: list[tuple[dict, dict[str, str]]],
    wanted: list[tuple[str, str]],
    identity_of: Callable[[dict[str, str]], str | None],
    what: str,
) -> dict[str, tuple[dict, dict[str, str]]]:
    """Each managed item by its identity tags (tier; product key and tier), so that a rename
    finds the item it renames; one without them (published before tags existed) by its name,
    when only one wanted item has that name. `wanted` lists each desired (name, identity). An
    item that has a desired name but is not managed is refused, as is a second item with the
    same identity."""
    by_identity: dict[str, tuple[dict, dict[str, str]]] = {}
    untagged = []
    for item, tags in found:
        identity = identity_of(tags) if _is_managed(tags) else None
        if identity is None:
            untagged.append((item, tags))
            continue
        if identity in by_identity:
            raise UserError(
                f"two {what}s carry the identity {identity} ({_id(by_identity[identity][0])}, "
                f"{_id(item)}); labcatalog finds {what}s by their tags, so delete the extra one"
            )
        by_identity[identity] = (item, tags)
    name_key = "DisplayName" if what == "portfolio" else "Name"
    named = Counter(name for name, _ in wanted)
    for name, identity in wanted:
        if identity in by_identity or named[name] > 1:
            continue
        found_by_name = _one_by_name([i for i, _ in untagged], name, name_key, what)
        if found_by_name is not None:
            tags = next(t for i, t in untagged if i is found_by_name)
            _check_managed(tags, what, name)
            by_identity[identity] = (found_by_name, tags)
    return by_identity


def _id(item: dict) -> str:
    return item.get("ProductId") or item.get("Id", "")


def read_state(clients: Clients, desired: Desired, bucket: str) -> CatalogState:
    """Read what exists of everything `desired` names, and every other portfolio and product
    labcatalog manages (what was removed from portfolio.yaml); nothing is changed."""
    sc = clients.servicecatalog
    state = CatalogState()
    for template in {p.version.template.key for p in desired.products}:
        try:
            clients.s3.head_object(Bucket=bucket, Key=template)
            state.template_keys.add(template)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
    described_portfolios = [
        (found, sc.describe_portfolio(Id=found["Id"]))
        for found in _pages(sc, "list_portfolios", "PortfolioDetails")
    ]
    tags_of = {d[0]["Id"]: d[1] for d in described_portfolios}
    portfolios = _identify(
        [(found, _tags(d.get("Tags", []))) for found, d in described_portfolios],
        [(spec.name, spec.tier) for spec in desired.portfolios],
        portfolio_identity,
        "portfolio",
    )
    for tier, (found, tags) in portfolios.items():
        described = tags_of[found["Id"]]
        principals = _pages(
            sc, "list_principals_for_portfolio", "Principals", PortfolioId=found["Id"]
        )
        constraints = _pages(
            sc, "list_constraints_for_portfolio", "ConstraintDetails", PortfolioId=found["Id"]
        )
        state.portfolios[tier] = PortfolioState(
            id=found["Id"],
            name=found["DisplayName"],
            description=found.get("Description", ""),
            provider=found.get("ProviderName", ""),
            tags=tags,
            tag_option_ids={t["Id"] for t in described.get("TagOptions", [])},
            principals={p["PrincipalARN"]: p["PrincipalType"] for p in principals},
            constraints=[_constraint(sc, c) for c in constraints],
        )
    all_products = _pages(
        sc, "search_products_as_admin", "ProductViewDetails", ProductSource="ACCOUNT"
    )
    summaries = [d["ProductViewSummary"] for d in all_products]
    described_products = {
        s["ProductId"]: sc.describe_product_as_admin(Id=s["ProductId"]) for s in summaries
    }
    specs = {spec.key: spec for spec in desired.products}
    products = _identify(
        [(s, _tags(described_products[s["ProductId"]].get("Tags", []))) for s in summaries],
        [(spec.name, spec.key) for spec in desired.products],
        product_identity,
        "product",
    )
    for key, (found, tags) in products.items():
        state.products[key] = _product(clients, found, tags, specs.get(key))
    if desired.tag_options:
        for option in _pages(sc, "list_tag_options", "TagOptionDetails"):
            state.tag_options[(option["Key"], option["Value"])] = (option["Id"], option["Active"])
    if any(p.service_actions for p in desired.products):
        for summary in _pages(sc, "list_service_actions", "ServiceActionSummaries"):
            detail = sc.describe_service_action(Id=summary["Id"])["ServiceActionDetail"]
            state.service_actions[summary["Name"]] = ServiceActionState(
                id=summary["Id"],
                description=summary.get("Description", ""),
                definition=detail.get("Definition", {}),
            )
    return state


def _constraint(sc, detail: dict) -> ConstraintState:
    # The list call leaves out the parameters; only DescribeConstraint returns them.
    described = sc.describe_constraint(Id=detail["ConstraintId"])
    return ConstraintState(
        id=detail["ConstraintId"],
        type=detail["Type"],
        product_id=detail.get("ProductId", ""),
        description=detail.get("Description", ""),
        parameters=json.loads(described.get("ConstraintParameters") or "{}"),
    )


def _product(clients: Clients, summary: dict, tags: dict[str, str], spec) -> ProductState:
    """A managed product's versions and portfolios; `spec` is None for a removed product."""
    sc = clients.servicecatalog
    product_id = summary["ProductId"]
    artifacts = sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
    versions = [
        VersionState(
            id=a["Id"],
            name=a["Name"],
            description=a.get("Description", ""),
            guidance=a.get("Guidance", "DEFAULT"),
        )
        for a in artifacts
    ]
    if spec is not None and spec.service_actions:
        for version in versions:
            if version.name == spec.version.name:
                version.service_action_ids = {
                    s["Id"]
                    for s in _pages(
                        sc,
                        "list_service_actions_for_provisioning_artifact",
                        "ServiceActionSummaries",
                        ProductId=product_id,
                        ProvisioningArtifactId=version.id,
                    )
                }
    portfolios = _pages(sc, "list_portfolios_for_product", "PortfolioDetails", ProductId=product_id)
    return ProductState(
        id=product_id,
        name=summary["Name"],
        owner=summary.get("Owner", ""),
        description=summary.get("ShortDescription", ""),
        distributor=summary.get("Distributor", ""),
        support_email=summary.get("SupportEmail") or None,
        tags=tags,
        versions=versions,
        portfolio_ids={p["Id"] for p in portfolios},
    )
