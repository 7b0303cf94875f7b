"""The personal hub's self-service actions, as the publisher registers them.

`SERVICE_ACTIONS` is every action this product defines; `configured(entry)`, the product's
`service_actions` (see `PRODUCT`), is the subset that `products.personal-hub.self_service_actions`
in portfolio.yaml turns on. Each runs its SSM Automation document (created by the platform stack,
see `automation.py`) as the tier's action role (`action_role.py`): the publisher makes each
action once per tier (`ServiceActionSpec.for_tier`), named and assuming that tier's role.
"""

from __future__ import annotations

from generator.cfn.product import ServiceActionSpec
from products.personal_hub import automation, names
from products.personal_hub.config import PersonalHubProduct

DESCRIPTIONS = {
    "start": "Start your personal JupyterHub (it stops itself again when idle)",
    "stop": "Stop your personal JupyterHub now; notebooks and the data volume are kept",
    "resize": "Restart your personal JupyterHub with another instance type (through an update)",
}
# The role's ARN as a pattern: the publisher knows the account and partition it publishes in.
ACTION_ROLE_ARN = "arn:{partition}:iam::{account}:role/" + names.ACTION_ROLE


def action_name(action: str, tier: str = "{tier}") -> str:
    """The name users see in the console: `labcatalog-pii-personal-hub-start`."""
    return f"labcatalog-{tier}-personal-hub-{action}"


SERVICE_ACTIONS = tuple(
    ServiceActionSpec(
        name=action_name(action),
        description=DESCRIPTIONS[action],
        document_name=automation.document_name(action),
        assume_role=ACTION_ROLE_ARN,
        parameters=automation.PARAMETERS[action],
    )
    for action in automation.ACTIONS
)


def configured(entry: PersonalHubProduct) -> tuple[ServiceActionSpec, ...]:
    """The actions portfolio.yaml offers on personal hubs, in the product's order."""
    wanted = set(entry.self_service_actions)
    return tuple(
        spec
        for action, spec in zip(automation.ACTIONS, SERVICE_ACTIONS, strict=True)
        if action in wanted
    )
