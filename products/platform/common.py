"""Helpers every part of the platform stack uses: its tags, and retention of data."""

from __future__ import annotations

from troposphere import Tags

from generator.cfn.tags import stack_tags


def tags(**extra: str) -> Tags:
    return stack_tags("platform", **extra)


def retain(resource):
    """Data outlives the stack: deleting or replacing it must never delete notebooks or logs."""
    resource.DeletionPolicy = "Retain"
    resource.UpdateReplacePolicy = "Retain"
    return resource
