"""The personal-hub console parameters: each declared once, with its group, label and constraint.

Parameter values end up in the user data between single quotes and in an env file, one per line:
every pattern below excludes quotes, `$`, backslashes and line breaks.
"""

from __future__ import annotations

from troposphere import Template

from generator.cfn.parameters import Console, Group, Param
from generator.model.config import Portfolio
from products.hub_image.content import image_tag
from products.personal_hub import instance_types

MAX_IDLE_MINUTES = 1440  # CloudWatch evaluates at most one day of periods

USERNAME = r"[A-Za-z0-9._%+@-]{1,128}"
NAME_LIST = rf"^({USERNAME}(,{USERNAME}){{0,19}})?$"


def declared(portfolio: Portfolio) -> Console:
    """Every parameter of the personal-hub template, in console order."""
    return Console(
        Group(
            "Your hub",
            Param(
                "Tier",
                "Data tier",
                "Data tier whose data this hub may use; your portfolio fixes it.",
                allowed_values=[tier.name for tier in portfolio.tiers],
                constraint="must be one of this portfolio's tiers",
            ),
            Param(
                "Owner",
                "Your user name",
                "Leave empty: the hub finds your user name from the identity you launch it "
                "with. Set it only to launch a hub for someone else (their user name at the "
                "identity provider).",
                default="",
                allowed_pattern=f"^({USERNAME})?$",
                constraint="empty, or a user name or email address: letters, digits and ._%+@-",
            ),
            Param(
                "Collaborators",
                "Collaborators",
                "Other users who may log in to this hub, comma-separated; empty for none.",
                default="",
                allowed_pattern=NAME_LIST,
                constraint="up to 20 user names separated by commas, no spaces",
            ),
        ),
        Group(
            "Instance",
            Param(
                "InstanceType",
                "Instance type",
                "Size of your instance: m7i general purpose, r7i more memory, c7i more compute, "
                "g4dn/g5/g6 NVIDIA GPUs, m7g/r7g/c7g Graviton (Arm, cheaper; arm64 packages only).",
                default=instance_types.DEFAULT,
                allowed_values=[it.name for it in instance_types.CURATED],
                constraint="must be one of the listed instance types",
            ),
            Param(
                "DataVolumeSize",
                "Data volume (GiB)",
                "Size of your data volume in GiB: your home (notebooks, files, packages) and the "
                "hub's state.",
                type="Number",
                default="100",
                min_value=10,
                max_value=4096,
                constraint="a whole number of GiB between 10 and 4096",
            ),
            Param(
                "DataVolumeSnapshotId",
                "Restore from snapshot",
                "To get your home back after the product was terminated: the snapshot of its "
                "data volume (snap-..., EC2 console, Snapshots). The volume size must be at "
                "least the snapshot's. Empty: a new, empty volume.",
                default="",
                allowed_pattern=r"^(snap-[0-9a-f]{8,17})?$",
                constraint="a snapshot id (snap- and 8 or 17 hex digits), or empty",
            ),
            Param(
                "IdleStopMinutes",
                "Stop when idle for (minutes)",
                "Stop the instance after this many minutes with no one using the hub and no "
                "kernel computing; start it again from the console. 0 never stops it (you pay "
                "while it runs).",
                type="Number",
                default="60",
                min_value=0,
                max_value=MAX_IDLE_MINUTES,
                constraint=f"a whole number of minutes between 0 and {MAX_IDLE_MINUTES}",
            ),
        ),
        Group(
            "Hub image",
            Param(
                "HubImageRepository",
                "Hub image repository",
                "ECR repository of the hub image; empty for the platform's repository (the only "
                "one the instance role may pull from).",
                default="",
                allowed_pattern=(
                    r"^([0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+)?$"
                ),
                constraint="an ECR repository URI, or empty",
            ),
            Param(
                "HubImageTag",
                "Hub image tag",
                "Tag of the hub image; empty for the image this product version was built with "
                f"({image_tag()}).",
                default="",
                allowed_pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$",
                constraint="a Docker tag: letters, digits and _.-",
            ),
        ),
    )


def add_parameters(t: Template, portfolio: Portfolio) -> Console:
    """The parameters and their console groups and labels.

    The network, the identity provider and the tier's groups are the platform's settings
    (portfolio.yaml), read at launch and at boot, never asked for."""
    console = declared(portfolio)
    console.add_to(t)
    return console
