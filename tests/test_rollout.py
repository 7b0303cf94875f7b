"""`labcatalog rollout`: launched products by tier and version, and updates in waves.

The call shapes are checked by botocore's Stubber (the real API model); the behaviour on the
local Service Catalog, extended with the provisioned-product calls (launch paths are portfolio
ids there, and a record finishes when it is first described).
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from generator.cli import main
from generator.engine import rollout
from generator.engine.publish.aws import connect
from generator.engine.publish.state import CatalogState, PortfolioState, ProductState, VersionState
from tests.support import moto_servicecatalog
from tests.support.publish_support import (
    Workspace,
    clients_for,
    isolated_workspace,
    launch,
    local_catalog,
    publish,
)


@pytest.fixture
def catalog(aws):
    return local_catalog(aws)


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    work = isolated_workspace(tmp_path, monkeypatch)
    work.data["products"]["shared-hub"]["keep_versions"] = 1
    return work


def _launched_then_bumped(catalog, workspace: Workspace, failing: bool = False):
    publish(workspace.write(), workspace.outdir, catalog)
    sc = catalog.client("servicecatalog")
    launch(sc, "Team hub", "tier0", "alice-hub", "fail" if failing else None)
    launch(sc, "Team hub", "tier1", "bob-hub")
    launch(sc, "Personal hub", "tier0", "carol-hub")
    workspace.set_version("shared-hub", "1.1.0")
    publish(workspace.write(), workspace.outdir, catalog)  # keep_versions 1: 1.0.0 deprecated


def test_inventory_lists_launched_products_by_tier_and_version(catalog, workspace):
    _launched_then_bumped(catalog, workspace)
    found = rollout.inventory(clients_for(catalog))
    listed = [
        (x.tier, x.product, x.identity, x.version, x.deprecated, x.name) for x in found.launched
    ]
    assert listed == [
        ("tier0", "personal-hub", "personal-hub/tier0", "1.0.0", False, "carol-hub"),
        ("tier0", "shared-hub", "shared-hub/tier0", "1.0.0", True, "alice-hub"),
        ("tier1", "shared-hub", "shared-hub/tier1", "1.0.0", True, "bob-hub"),
    ]
    assert found.newest["shared-hub/tier0"][0] == "1.1.0"
    assert found.newest["shared-hub/tier1"][0] == "1.1.0"
    # Each moves within its own tier's product.
    moves, _ = rollout.plan_rollout(found, wave_size=5)
    targets = {m.launched.name: (m.launched.product_id, m.version_id) for m in moves}
    assert targets == {
        "alice-hub": (found.launched[1].product_id, found.newest["shared-hub/tier0"][1]),
        "bob-hub": (found.launched[2].product_id, found.newest["shared-hub/tier1"][1]),
    }
    assert found.launched[1].product_id != found.launched[2].product_id


def test_update_moves_deprecated_ones_in_waves_keeping_parameters(catalog, workspace):
    _launched_then_bumped(catalog, workspace)
    clients = clients_for(catalog)
    moves, notes = rollout.plan_rollout(rollout.inventory(clients), wave_size=1)
    assert notes == []
    assert [(m.launched.name, m.version, m.wave) for m in moves] == [
        ("alice-hub", "1.1.0", 1),
        ("bob-hub", "1.1.0", 2),
    ]
    waits = []
    done = rollout.update(clients, moves, sleep=waits.append)
    assert [(m.launched.name, status) for m, status in done] == [
        ("alice-hub", "SUCCEEDED"),
        ("bob-hub", "SUCCEEDED"),
    ]
    assert waits == [15.0, 15.0]  # each wave polled until its record finished
    assert moto_servicecatalog.launched() == {
        "alice-hub": ("1.1.0", "AVAILABLE", {"Owner": "alice-hub"}),  # no default: kept
        "bob-hub": ("1.1.0", "AVAILABLE", {"Owner": "bob-hub"}),
        "carol-hub": ("1.0.0", "AVAILABLE", {"Owner": "carol-hub"}),  # not deprecated: left
    }
    again, _ = rollout.plan_rollout(rollout.inventory(clients), wave_size=1)
    assert again == []


def test_a_failed_update_stops_the_rollout_after_its_wave(catalog, workspace):
    _launched_then_bumped(catalog, workspace, failing=True)
    clients = clients_for(catalog)
    moves, _ = rollout.plan_rollout(rollout.inventory(clients), wave_size=1)
    done = rollout.update(clients, moves, sleep=lambda _: None)
    assert [(m.launched.name, status) for m, status in done] == [("alice-hub", "FAILED")]
    assert moto_servicecatalog.launched()["bob-hub"][0] == "1.0.0"


def test_cli_lists_then_updates_after_a_dry_run(catalog, workspace):
    _launched_then_bumped(catalog, workspace)
    runner = CliRunner()
    endpoint = ["--endpoint-url", catalog.endpoint_url, "--region", "us-east-1"]
    listed = runner.invoke(main, ["rollout", *endpoint])
    assert listed.exit_code == 0, listed.output
    assert "tier1  shared-hub    1.0.0 (deprecated)  AVAILABLE  bob-hub" in listed.output
    refused = runner.invoke(main, ["rollout", *endpoint, "--update"])
    assert refused.exit_code == 2
    assert "wave 1: alice-hub (tier0) shared-hub 1.0.0 -> 1.1.0" in refused.output
    assert moto_servicecatalog.launched()["alice-hub"][0] == "1.0.0"  # dry run only
    updated = runner.invoke(main, ["rollout", *endpoint, "--update", "--yes", "--wave-size", "2"])
    assert updated.exit_code == 0, updated.output
    assert "rollout: 2 updated" in updated.output
    assert {v[0] for v in moto_servicecatalog.launched().values()} == {"1.1.0", "1.0.0"}
    assert moto_servicecatalog.launched()["bob-hub"][0] == "1.1.0"


# -- call shapes (Stubber) --------------------------------------------------------------------
@pytest.fixture
def stubbed(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    clients = connect(region="eu-west-1")
    with Stubber(clients.servicecatalog) as stub:
        yield clients, stub
        stub.assert_no_pending_responses()


def _state() -> CatalogState:
    versions = [
        VersionState("pa-old", "1.0.0", "", "DEPRECATED"),
        VersionState("pa-new", "1.1.0", "", "DEFAULT"),
    ]
    return CatalogState(
        portfolios={"pii": PortfolioState("port-1", "DS (pii)", "", "", {}, set(), {}, [])},
        products={
            "shared-hub": ProductState("prod-1", "Team hub", "", "", "", None, {}, versions, set())
        },
    )


def test_stubbed_inventory_and_update_calls_match_the_api(stubbed):
    clients, stub = stubbed
    portfolio_arn = "arn:aws:catalog:eu-west-1:111122223333:portfolio/port-1"
    stub.add_response(
        "search_provisioned_products",
        {
            "ProvisionedProducts": [
                {
                    "Id": "pp-1",
                    "Name": "alice-hub",
                    "Status": "AVAILABLE",
                    "ProductId": "prod-1",
                    "ProvisioningArtifactId": "pa-old",
                    "LastSuccessfulProvisioningRecordId": "rec-1",
                    "Tags": [{"Key": rollout.PORTFOLIO_TAG, "Value": portfolio_arn}],
                },
                {"Id": "pp-2", "Name": "other", "ProductId": "prod-9", "Status": "AVAILABLE"},
            ],
            "NextPageToken": "",
        },
        {"AccessLevelFilter": {"Key": "Account", "Value": "self"}},
    )
    found = rollout.inventory(clients, _state())
    assert [(x.tier, x.version, x.deprecated) for x in found.launched] == [("pii", "1.0.0", True)]
    (move,), _ = rollout.plan_rollout(found, wave_size=5)
    stub.add_response(
        "describe_record",
        {"RecordDetail": {"RecordId": "rec-1", "PathId": "lpv3-abc"}},
        {"Id": "rec-1"},
    )
    for version, keys in (("pa-old", ["Tier", "Removed"]), ("pa-new", ["Tier", "Added"])):
        stub.add_response(
            "describe_provisioning_artifact",
            {"ProvisioningArtifactParameters": [{"ParameterKey": k} for k in keys]},
            {
                "ProductId": "prod-1",
                "ProvisioningArtifactId": version,
                "IncludeProvisioningArtifactParameters": True,
            },
        )
    stub.add_response(
        "update_provisioned_product",
        {"RecordDetail": {"RecordId": "rec-2", "Status": "CREATED"}},
        {
            "ProvisionedProductId": "pp-1",
            "ProductId": "prod-1",
            "ProvisioningArtifactId": "pa-new",
            "PathId": "lpv3-abc",
            "ProvisioningParameters": [{"Key": "Tier", "UsePreviousValue": True}],
        },
    )
    stub.add_response(
        "describe_record", {"RecordDetail": {"Status": "IN_PROGRESS"}}, {"Id": "rec-2"}
    )
    stub.add_response("describe_record", {"RecordDetail": {"Status": "SUCCEEDED"}}, {"Id": "rec-2"})
    waits = []
    done = rollout.update(clients, [move], sleep=waits.append, poll_seconds=7)
    assert [status for _, status in done] == ["SUCCEEDED"] and waits == [7]


def test_a_hub_of_the_product_every_tier_shared_is_left_with_a_note():
    """Launched before each tier had its own product: Service Catalog updates a launched product
    within its product only, so rollout names it instead of moving it to the tier's product."""
    old = rollout.Launched(
        id="pp-1",
        name="old-hub",
        product="shared-hub",
        product_id="prod-0",
        identity="shared-hub",
        tier="pii",
        version="1.2.0",
        version_id="pa-0",
        deprecated=True,
        status="AVAILABLE",
        record_id="rec-0",
    )
    found = rollout.Inventory([old], {"shared-hub/pii": ("1.3.0", "pa-1")})
    moves, notes = rollout.plan_rollout(found, wave_size=5)
    assert moves == []
    assert notes == [
        "old-hub: launched from shared-hub as every tier shared it, before each tier had its "
        "own; Service Catalog cannot move it to another product: relaunch it from the pii "
        "portfolio"
    ]
