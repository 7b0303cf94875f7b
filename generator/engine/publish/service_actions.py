"""Self-service actions a product offers (e.g. stop or restart a personal hub), if it defines any.

The hook: a product package may have a `service_actions` module (for `personal-hub`:
`products/personal_hub/service_actions.py`) with `SERVICE_ACTIONS`, a tuple of
`ServiceActionSpec`, and optionally `configured(portfolio)`, the subset portfolio.yaml turns on;
when `configured` exists, only its actions are published. A product without the module, or with
no action turned on, publishes none, and the publisher then makes no service-action calls at all.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.model.config import Portfolio


@dataclass(frozen=True)
class ServiceActionSpec:
    """An SSM Automation document that users may run against their provisioned product."""

    name: str
    description: str
    document_name: str
    document_version: str = "$DEFAULT"
    # Service Catalog's value for "the provisioned product's launch role": users need no SSM
    # rights of their own, and an action can do only what the tier's launch role may.
    assume_role: str = "LAUNCH_ROLE"
    # SSM parameters as Service Catalog takes them, e.g. [{"Name": "InstanceId", "Type": "TARGET"}]
    parameters: tuple[tuple[str, str], ...] = ()

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


def product_service_actions(
    product_key: str, portfolio: Portfolio
) -> tuple[ServiceActionSpec, ...]:
    """The actions `products/<product>/service_actions.py` offers for this portfolio, or none."""
    package = f"products.{product_key.replace('-', '_')}"
    module_name = f"{package}.service_actions"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name in (package, module_name):
            return ()
        raise
    if hasattr(module, "configured"):
        return tuple(module.configured(portfolio))
    return tuple(module.SERVICE_ACTIONS)
