"""The tags every labcatalog resource carries, built one way for every stack."""

from __future__ import annotations

from troposphere import AWSHelperFn, Sub, Tags

from generator.cfn.names import STACK_TAG

TagValue = str | AWSHelperFn


def stack_tags(stack: str | None, *, name: str | None = None, **extra: TagValue) -> Tags:
    """`labcatalog:stack` (when `stack` is given), a `Name` of `<stack name>-<name>` (when `name`
    is given), and `extra`: tag keys from `generator.cfn.names` mapped to their values."""
    found: dict[str, TagValue] = {}
    if name is not None:
        found["Name"] = Sub(f"${{AWS::StackName}}-{name}")
    if stack is not None:
        found[STACK_TAG] = stack
    return Tags({**found, **extra})
