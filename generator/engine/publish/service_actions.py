"""Self-service actions a product offers (e.g. stop or restart a personal hub), if it defines any.

A product says which through its `PRODUCT.service_actions` (`generator.cfn.product`), given its
entry in portfolio.yaml: the actions that entry turns on. A product that defines none, or with
no action turned on, publishes none, and the publisher then makes no service-action calls at all.
"""

from __future__ import annotations

from generator.cfn.product import Product
from generator.cfn.product import ServiceActionSpec as ServiceActionSpec
from generator.model.config import Portfolio


def product_service_actions(
    product: Product, portfolio: Portfolio
) -> tuple[ServiceActionSpec, ...]:
    """The actions `product` offers for this portfolio (none when it is not configured)."""
    entry = product.configured(portfolio)
    return () if entry is None else tuple(product.service_actions(entry))
