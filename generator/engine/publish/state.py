"""What Service Catalog (and the template bucket) hold now, read with list/describe calls only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import botocore.exceptions

from generator.engine.publish.aws import Clients
from generator.engine.publish.desired import MANAGED_TAG, Desired
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
    """Current state, keyed like `Desired`: tier, product key, (tag key, value), action name."""

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


def read_state(clients: Clients, desired: Desired, bucket: str) -> CatalogState:
    """Read what exists of everything `desired` names; nothing is changed."""
    sc = clients.servicecatalog
    state = CatalogState()
    for template in {p.version.template.key for p in desired.products}:
        try:
            clients.s3.head_object(Bucket=bucket, Key=template)
            state.template_keys.add(template)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
    all_portfolios = _pages(sc, "list_portfolios", "PortfolioDetails")
    for spec in desired.portfolios:
        found = _one_by_name(all_portfolios, spec.name, "DisplayName", "portfolio")
        if found is None:
            continue
        described = sc.describe_portfolio(Id=found["Id"])
        tags = _tags(described.get("Tags", []))
        _check_managed(tags, "portfolio", spec.name)
        principals = _pages(
            sc, "list_principals_for_portfolio", "Principals", PortfolioId=found["Id"]
        )
        constraints = _pages(
            sc, "list_constraints_for_portfolio", "ConstraintDetails", PortfolioId=found["Id"]
        )
        state.portfolios[spec.tier] = PortfolioState(
            id=found["Id"],
            name=found["DisplayName"],
            description=found.get("Description", ""),
            provider=found.get("ProviderName", ""),
            tags=tags,
            tag_option_ids={t["Id"] for t in described.get("TagOptions", [])},
            principals={p["PrincipalARN"]: p["PrincipalType"] for p in principals},
            constraints=[_constraint(sc, c) for c in constraints],
        )
    if desired.products:
        all_products = _pages(
            sc, "search_products_as_admin", "ProductViewDetails", ProductSource="ACCOUNT"
        )
        summaries = [d["ProductViewSummary"] for d in all_products]
        for spec in desired.products:
            found = _one_by_name(summaries, spec.name, "Name", "product")
            if found is not None:
                state.products[spec.key] = _product(clients, found, spec)
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


def _product(clients: Clients, summary: dict, spec) -> ProductState:
    sc = clients.servicecatalog
    product_id = summary["ProductId"]
    described = sc.describe_product_as_admin(Id=product_id)
    tags = _tags(described.get("Tags", []))
    _check_managed(tags, "product", spec.name)
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
    if spec.service_actions:
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
