"""Self-service actions a product offers (e.g. stop or restart a personal hub), if it defines any.

A product says which through its `PRODUCT.service_actions` (`generator.cfn.product`), given its
entry in portfolio.yaml: the actions that entry turns on. A product that defines none, or with
no action turned on, publishes none, and the publisher then makes no service-action calls at all.

Each action is published once per tier (`ServiceActionSpec.for_tier`): its definition names the
role its document runs as, and that role is the tier's own, so a tier's action can act only on
that tier's resources.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.cfn.product import Product
from generator.cfn.product import ServiceActionSpec as ServiceActionSpec
from generator.engine.publish.aws import Caller
from generator.model.config import Portfolio

# Service Catalog's name for "the provisioned product's launch role" in a definition.
LAUNCH_ROLE = "LAUNCH_ROLE"


def product_service_actions(
    product: Product, portfolio: Portfolio, tiers: Sequence[str], who: Caller
) -> tuple[ServiceActionSpec, ...]:
    """The actions `product` offers for this portfolio in each of `tiers` (none when the
    product is not configured)."""
    entry = product.configured(portfolio)
    if entry is None:
        return ()
    # An action that names no tier is the same in every tier: published once.
    return tuple(
        dict.fromkeys(
            spec.for_tier(tier, who.partition, who.account)
            for tier in tiers
            for spec in product.service_actions(entry)
        )
    )


def action_roles(actions: Sequence[ServiceActionSpec]) -> tuple[str, ...]:
    """The roles these actions run as (not the launch role), each once, sorted."""
    return tuple(sorted({a.assume_role for a in actions if a.assume_role != LAUNCH_ROLE}))
