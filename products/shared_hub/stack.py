"""What every part of a shared-hub stack shares: its tags, its names, and the platform's values.

The platform publishes each tier's roles and the account's buckets, key and repository in SSM
(names in `generator.cfn.names`); the stack reads them for the tier chosen at launch.
"""

from __future__ import annotations

from troposphere import Ref, Sub, Tags

from generator.cfn import names
from generator.cfn.tags import TagValue, stack_tags

STACK = "shared-hub"  # the labcatalog:stack tag of the product's resources


def tags(name: str | None = None, **extra: TagValue) -> Tags:
    """The stack's tags, with the chosen tier, a `Name` when given, and `extra`."""
    return stack_tags(STACK, name=name, **{names.TIER_TAG: Ref("Tier")}, **extra)


def tier_value(parameter: str) -> Sub:
    """A per-tier value the platform publishes (a `names` pattern), for the chosen Tier."""
    return Sub(names.resolved(parameter.format(tier="${Tier}")))


def platform_value(parameter: str) -> str:
    """An account-wide value the platform publishes, read when the stack is launched."""
    return names.resolved(parameter)


def named(pattern: str, **extra: str) -> Sub:
    """A name from `generator.cfn.names`, for this stack's tier."""
    return Sub(pattern.format(tier="${Tier}", stack="${AWS::StackName}", **extra))


def hub_role() -> Sub:
    """The hub task's role: the tier's hub role, which may only start, watch and stop this
    tier's user tasks. Users' servers never run in the hub's task, so it never needs the
    notebook role."""
    return tier_value(names.HUB_TASK_ROLE_ARN_PARAMETER)


def hub_subnets() -> list[Sub]:
    """The subnets of the hub and its state: the tier's first two server subnets.

    EFS needs a mount target in the zone of each subnet the hub can run in; a dynamic reference
    cannot be split into a list, so the platform publishes the first two on their own.
    """
    return [
        tier_value(names.FIRST_SERVER_SUBNET_SETTING),
        tier_value(names.SECOND_SERVER_SUBNET_SETTING),
    ]


def load_balancer_subnets() -> list[Sub]:
    """The load balancer's subnets: the tier's first two (in two zones, as ALB needs)."""
    return [
        tier_value(names.FIRST_LOAD_BALANCER_SUBNET_SETTING),
        tier_value(names.SECOND_LOAD_BALANCER_SUBNET_SETTING),
    ]


def vpc() -> Sub:
    """The tier's VPC (the platform's settings)."""
    return tier_value(names.VPC_ID_SETTING)


def hub_host_name() -> Sub:
    """The hub's host name: the name given at launch, then the rest of the platform's pattern
    for this tier (e.g. `team1` + `.pii.jupyter.example.com`)."""
    return Sub(
        "${HubName}" + names.resolved(names.HUB_HOST_NAME_SUFFIX_SETTING.format(tier="${Tier}"))
    )
