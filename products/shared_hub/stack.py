"""What every part of a shared-hub stack shares: its tags, its names, and the platform's values.

The platform publishes each tier's roles and the account's buckets, key and repository in SSM
(names in `generator.cfn.names`); the stack reads them for the tier chosen at launch.
"""

from __future__ import annotations

from troposphere import Ref, Select, Sub, Tags

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


def hub_subnets() -> list[Select]:
    """The subnets of the hub and its state: the first two task subnets.

    EFS needs a mount target in the zone of each subnet the hub can run in; CloudFormation
    cannot loop over a list parameter, so the hub and its state use the first two subnets.
    """
    return [Select(0, Ref("TaskSubnets")), Select(1, Ref("TaskSubnets"))]
