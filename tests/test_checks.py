"""Every checkov skip in build/ is one of the reasoned skips in generator/cfn/checks.py."""

from __future__ import annotations

import json

from generator.cfn.checks import CHECKOV_SKIPS
from tests.conftest import ROOT


def test_every_skip_in_build_is_listed_with_its_reason():
    used = set()
    for path in (ROOT / "build").rglob("*.template.json"):
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert skip["id"] in CHECKOV_SKIPS, f"{path.name}:{logical_id} skips {skip['id']}"
                assert skip["comment"] == CHECKOV_SKIPS[skip["id"]]
                used.add(skip["id"])
    # A reason left in the list after its skip is gone would mislead a reviewer.
    assert used == set(CHECKOV_SKIPS)
