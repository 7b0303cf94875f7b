"""Users' persistent homes on the personal hub: the data volume, its snapshot, the boot script.

What this proves: the data volume is made from the snapshot a launch names (and new and empty
without one), is snapshotted when the product is terminated, and the launch role may create a
volume from this account's snapshots only; the boot script's `prepare_homes` gives the homes'
folder and each home (also one restored from an older version's snapshot) to the image's user,
private to it, and keeps what is inside untouched. That a user's server writes its files into
its home on that volume, and finds them in a new server, is proven end to end in
tests/test_hub_e2e.py (the same spawner and mounts) and tests/test_hub_isolation.py.
What it cannot prove: EC2's restore itself (no EC2 here).
"""

from __future__ import annotations

import os
import re

import pytest
from troposphere import encode_to_dict

from tests.support.container import IMAGE_GID, IMAGE_UID
from tests.support.personal_hub_support import (
    Evaluator,
    a_launch,
    body,
    boot_script,
    launch_values,
    platform_ssm,
    run_boot_functions,
)


def snapshot_of_the_data_volume(example, **given: str) -> str | None:
    """The data volume's SnapshotId as CloudFormation resolves it for a launch (None: unset)."""
    template = body(example)
    tier = example.tiers[0].name
    values = launch_values(template, **{**a_launch(template, tier), **given})
    evaluator = Evaluator(template, values, platform_ssm(tier))
    condition, chosen, otherwise = template["Resources"]["DataVolume"]["Properties"]["SnapshotId"][
        "Fn::If"
    ]
    assert otherwise == {"Ref": "AWS::NoValue"}
    return evaluator.evaluate(chosen) if evaluator.conditions[condition] else None


@pytest.mark.parametrize(
    "case,given,expected",
    [
        ("a new volume", {}, None),
        ("restored", {"DataVolumeSnapshotId": "snap-0123456789abcdef0"}, "snap-0123456789abcdef0"),
    ],
)
def test_the_data_volume_is_made_from_the_snapshot_a_launch_names(example, case, given, expected):
    assert snapshot_of_the_data_volume(example, **given) == expected, case


def test_the_data_volume_is_kept_as_a_snapshot_and_the_parameter_takes_only_snapshot_ids(example):
    template = body(example)
    volume = template["Resources"]["DataVolume"]
    assert (volume["DeletionPolicy"], volume["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    parameter = template["Parameters"]["DataVolumeSnapshotId"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("") and pattern.match("snap-0123456789abcdef0")
    assert not pattern.match("vol-0123456789abcdef0") and not pattern.match("snap-x; rm -rf /")
    grouped = [
        p
        for group in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        for p in group["Parameters"]
    ]
    assert "DataVolumeSnapshotId" in grouped


def test_the_launch_role_may_restore_only_this_accounts_snapshots():
    from products.personal_hub import launch

    statements = [encode_to_dict(s) for s in launch.launch_statements("pii")]
    (restore,) = [s for s in statements if s["Sid"].startswith("PersonalHubRestore")]
    assert restore["Action"] == ["ec2:CreateVolume"]
    assert restore["Condition"]["StringEquals"]["ec2:Owner"] == {"Fn::Sub": "${AWS::AccountId}"}


def test_prepare_homes_gives_every_home_to_the_image_user(example, tmp_path):
    homes = tmp_path / "data" / "homes"
    restored = homes / "alice"  # as on a volume restored from an older version's snapshot
    restored.mkdir(parents=True)
    os.chown(homes, 0, 0)
    os.chown(restored, 0, 0)
    restored.chmod(0o755)
    (restored / "analysis.ipynb").write_text("{}")
    os.chown(restored / "analysis.ipynb", IMAGE_UID, IMAGE_GID)

    run_boot_functions(boot_script(example, tmp_path), tmp_path, "prepare_data_dirs", {})

    assert (homes.stat().st_uid, homes.stat().st_gid, homes.stat().st_mode & 0o777) == (
        IMAGE_UID,
        IMAGE_GID,
        0o755,
    )
    assert (restored.stat().st_uid, restored.stat().st_mode & 0o777) == (IMAGE_UID, 0o700)
    assert (restored / "analysis.ipynb").read_text() == "{}"  # what was inside is kept
