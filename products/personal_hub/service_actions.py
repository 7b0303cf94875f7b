"""The personal hub's self-service actions, as the publisher registers them.

`SERVICE_ACTIONS` is the hook `generator.engine.publish.service_actions` reads: every action this
product
defines. `configured(portfolio)` is the subset that `products.personal-hub.self_service_actions`
in portfolio.yaml turns on. Each runs its SSM Automation document (created by the platform stack,
see `automation.py`) with the provisioned product's launch role (`AssumeRole: LAUNCH_ROLE`).
"""

from __future__ import annotations

from generator.engine.publish.service_actions import ServiceActionSpec
from generator.model.config import Portfolio
from products.personal_hub import automation

# Service Catalog's own value for "the launch role of the provisioned product".
ASSUME_ROLE = "LAUNCH_ROLE"

DESCRIPTIONS = {
    "start": "Start your personal JupyterHub (it stops itself again when idle)",
    "stop": "Stop your personal JupyterHub now; notebooks and the data volume are kept",
    "resize": "Restart your personal JupyterHub with another instance type of the same kind",
}


def action_name(action: str) -> str:
    """The name users see in the console: `labcatalog-personal-hub-start`."""
    return f"labcatalog-personal-hub-{action}"


SERVICE_ACTIONS = tuple(
    ServiceActionSpec(
        name=action_name(action),
        description=DESCRIPTIONS[action],
        document_name=automation.document_name(action),
        parameters=automation.PARAMETERS[action],
    )
    for action in automation.ACTIONS
)


def configured(portfolio: Portfolio) -> tuple[ServiceActionSpec, ...]:
    """The actions portfolio.yaml offers on personal hubs, in the product's order."""
    product = portfolio.products.personal_hub
    wanted = set(product.self_service_actions) if product else set()
    return tuple(
        spec
        for action, spec in zip(automation.ACTIONS, SERVICE_ACTIONS, strict=True)
        if action in wanted
    )
