"""The personal hub's entry in portfolio.yaml: a `Product`, plus its self-service actions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from generator.model.config import Product

SelfServiceAction = Literal["start", "stop", "resize"]


def _unique_actions(actions: list[str]) -> list[str]:
    for j, action in enumerate(actions):
        if action in actions[:j]:
            raise ValueError(f"{action!r} is listed twice")
    return actions


class PersonalHubProduct(Product):
    """The personal-hub product: a Product, plus what its users may do to their instance."""

    self_service_actions: Annotated[list[SelfServiceAction], AfterValidator(_unique_actions)] = (
        Field(
            default_factory=list,
            description=(
                "Service Catalog self-service actions offered on a launched personal hub: start, "
                "stop and resize (to another instance type of the product's list)."
            ),
            json_schema_extra={"uniqueItems": True},
        )
    )
