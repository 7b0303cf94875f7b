"""What leaves portfolio.yaml leaves Service Catalog: removed tiers and products, renames.

Run on the local Service Catalog (tests/support/moto_servicecatalog.py), which refuses to take a
product out of a portfolio that still holds constraints on it, as AWS does.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from generator.engine.publish import actions as act
from generator.engine.publish.apply import apply
from generator.engine.publish.aws import record_calls
from generator.engine.publish.publisher import make_plan
from tests.support import moto_servicecatalog
from tests.support.publish_support import (
    BUCKET,
    Interrupt,
    Workspace,
    changed_rows,
    clients_for,
    interrupt_at,
    isolated_workspace,
    local_catalog,
    portfolio_data,
    prepare_account,
    publish,
)

ACCOUNT = "123456789012"


@pytest.fixture
def catalog(aws):
    return local_catalog(aws)


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    return isolated_workspace(tmp_path, monkeypatch)


def _remove_tier1_and_personal_hub(workspace: Workspace):
    workspace.data["tiers"] = workspace.data["tiers"][:1]
    del workspace.data["products"]["personal-hub"]
    workspace.set_version("shared-hub", "1.1.0")  # and a new version of what stays
    return workspace.write()


def test_plan_shows_removed_tiers_and_products_and_publish_carries_them_out(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    portfolio = _remove_tier1_and_personal_hub(workspace)
    clients = clients_for(catalog)
    plan, state = make_plan(portfolio, workspace.build(), clients, BUCKET)
    rows = changed_rows(plan)
    principal = f"arn:aws:iam::{ACCOUNT}:role/Team1"
    assert ("delete", "association", f"tier1 <- principal {principal}") in rows
    assert ("delete", "association", "tier1 <- product shared-hub/tier1") in rows
    assert ("delete", "association", "tier1 <- product personal-hub/tier1") in rows
    assert ("delete", "association", "tier0 <- product personal-hub/tier0") in rows
    # Each product of a removed tier, and each tier's product of a removed product, is removed.
    for removed in ("personal-hub/tier0", "personal-hub/tier1", "shared-hub/tier1"):
        assert ("deprecate", "version", f"{removed} 1.0.0") in rows
    assert ("delete", "constraint", "tier0 personal-hub/tier0 launch") in rows
    assert ("delete", "association", "tier0 <- product shared-hub/tier0") not in rows
    assert not [r for r in plan.rows() if r.change == "unchanged" and "removed" in r.subject]
    # Users lose the tier before anything else leaves it.
    kinds = [type(a) for a in plan.changes]
    assert kinds[0] is act.DisassociatePrincipal
    log = record_calls(clients)
    apply(plan, clients, state)
    assert not [c for c in log.calls if ".Delete" in c and "Constraint" not in c]
    snapshot = moto_servicecatalog.snapshot()
    portfolios = {p[0]: p for p in snapshot["portfolios"]}
    assert portfolios["Data Science (tier1)"][5] == []  # no principals
    assert portfolios["Data Science (tier1)"][6] == []  # no products
    assert portfolios["Data Science (tier0)"][6] == ["Team hub"]
    personal = [p for p in snapshot["products"] if p[0] == "Personal hub"]
    assert len(personal) == 2  # one per tier
    for product in personal:
        assert [(v[0], v[2]) for v in product[4]] == [("1.0.0", "DEPRECATED")]  # kept
    assert {c[:2] for c in snapshot["constraints"]} == {("Data Science (tier0)", "Team hub")}
    again = publish(portfolio, workspace.outdir, catalog)
    assert again.mutating == 0
    assert ("unchanged", "portfolio", "Data Science (tier1) (tier removed)") in [
        (r.change, r.resource, r.subject) for r in again.plan.rows()
    ]


def test_a_returning_tier_reuses_its_portfolio(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    publish(_remove_tier1_and_personal_hub(workspace), workspace.outdir, catalog)
    workspace.data = portfolio_data()
    workspace.set_version("shared-hub", "1.2.0")
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert not [r for r in changed_rows(run.plan) if r[1] in ("portfolio", "product")]
    assert ("update", "version", "personal-hub/tier0 1.0.0") in changed_rows(run.plan)
    assert ("update", "version", "personal-hub/tier1 1.0.0") in changed_rows(run.plan)
    assert len(moto_servicecatalog.snapshot()["portfolios"]) == 2


def test_renames_update_in_place_by_identity_tag(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    workspace.data["portfolio"]["name"] = "Analytics"
    workspace.data["products"]["shared-hub"]["name"] = "Team JupyterHub"
    run = publish(workspace.write(), workspace.outdir, catalog)
    rows = changed_rows(run.plan)
    assert ("update", "portfolio", "Analytics (tier0)") in rows
    assert ("update", "product", "shared-hub/tier0 (Team JupyterHub)") in rows
    assert ("update", "product", "shared-hub/tier1 (Team JupyterHub)") in rows
    assert not [r for r in rows if r[0] == "create"]
    snapshot = moto_servicecatalog.snapshot()
    assert [p[0] for p in snapshot["portfolios"]] == ["Analytics (tier0)", "Analytics (tier1)"]
    assert sorted(p[0] for p in snapshot["products"]) == [
        "Personal hub",
        "Personal hub",
        "Team JupyterHub",
        "Team JupyterHub",
    ]
    assert publish(workspace.write(), workspace.outdir, catalog).mutating == 0


def test_a_product_published_for_every_tier_at_once_makes_way_for_one_per_tier(catalog, workspace):
    """Upgrading from one product in every portfolio, its Tier pinned by a template constraint:
    each tier gets its own product; the old one leaves the portfolios (pins first) and its
    versions are deprecated, not deleted (hubs launched from it keep running)."""
    portfolio = workspace.write()
    publish(portfolio, workspace.outdir, catalog)
    sc = catalog.client("servicecatalog")
    old_template = '{"Parameters": {"Tier": {"Type": "String"}}, "Resources": {}}'
    catalog.client("s3").put_object(Bucket=BUCKET, Key="old.json", Body=old_template.encode())
    old = sc.create_product(
        Name="Team hub",
        Owner="Data Platform Team",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        Tags=[
            {"Key": "managed-by", "Value": "labcatalog"},
            {"Key": "labcatalog:product", "Value": "shared-hub"},
        ],
        ProvisioningArtifactParameters={
            "Name": "0.9.0",
            "Info": {"LoadTemplateFromURL": f"https://{BUCKET}.s3.amazonaws.com/old.json"},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        },
    )["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    for detail in sc.list_portfolios(PageSize=20)["PortfolioDetails"]:
        tier = detail["DisplayName"][-6:-1]
        sc.associate_product_with_portfolio(ProductId=old, PortfolioId=detail["Id"])
        sc.create_constraint(
            PortfolioId=detail["Id"],
            ProductId=old,
            Type="TEMPLATE",
            Parameters='{"Rules": {"PinTier": {"Assertions": []}}}',
            Description=f"labcatalog: parameter Tier pinned to {tier}",
        )
    run = publish(portfolio, workspace.outdir, catalog)
    assert sorted(changed_rows(run.plan)) == [
        ("delete", "association", "tier0 <- product shared-hub"),
        ("delete", "association", "tier1 <- product shared-hub"),
        ("delete", "constraint", "tier0 shared-hub template"),
        ("delete", "constraint", "tier1 shared-hub template"),
        ("deprecate", "version", "shared-hub 0.9.0"),
    ]
    assert sc.list_portfolios_for_product(ProductId=old)["PortfolioDetails"] == []
    assert publish(portfolio, workspace.outdir, catalog).mutating == 0


def test_a_tiers_product_found_in_another_tiers_portfolio_leaves_it(catalog, workspace):
    portfolio = workspace.write()
    publish(portfolio, workspace.outdir, catalog)
    sc = catalog.client("servicecatalog")
    portfolios = {
        p["DisplayName"]: p["Id"] for p in sc.list_portfolios(PageSize=20)["PortfolioDetails"]
    }
    tier0_team_hub = next(
        view["ProductViewSummary"]["ProductId"]
        for view in sc.search_products_as_admin(PageSize=20)["ProductViewDetails"]
        if view["ProductViewSummary"]["Name"] == "Team hub"
        and portfolios["Data Science (tier0)"]
        in {
            p["Id"]
            for p in sc.list_portfolios_for_product(
                ProductId=view["ProductViewSummary"]["ProductId"]
            )["PortfolioDetails"]
        }
    )
    sc.associate_product_with_portfolio(
        ProductId=tier0_team_hub, PortfolioId=portfolios["Data Science (tier1)"]
    )
    run = publish(portfolio, workspace.outdir, catalog)
    assert [
        (r.change, r.resource, r.subject, r.detail) for a in run.plan.changes for r in a.rows()
    ] == [("delete", "association", "tier1 <- product shared-hub/tier0", "another tier's product")]
    shown_in = sc.list_portfolios_for_product(ProductId=tier0_team_hub)["PortfolioDetails"]
    assert [p["DisplayName"] for p in shown_in] == ["Data Science (tier0)"]
    assert publish(portfolio, workspace.outdir, catalog).mutating == 0


def _two_tiers(root) -> Workspace:
    data = portfolio_data(tiers=2)
    for tier in data["tiers"]:
        tier["principals"] = tier["principals"][:1]
    data["tag_options"] = {"cost-center": ["ds-research"]}
    return Workspace(root, data)


@pytest.mark.parametrize("after", [False, True], ids=["before-call", "response-lost"])
def test_removal_interrupted_at_every_step_a_rerun_converges(catalog, tmp_path, after):
    def fresh(name: str) -> Workspace:
        catalog.reset()
        moto_servicecatalog.install()
        prepare_account(catalog)
        work = _two_tiers(tmp_path / name)
        publish(work.write(), work.outdir, catalog)
        return work

    reference = fresh("reference")
    steps = publish(_remove_tier1_and_personal_hub(reference), reference.outdir, catalog).mutating
    expected = moto_servicecatalog.snapshot()
    assert steps >= 8
    for step in range(1, steps + 1):
        work = fresh(f"{after}-{step}")
        portfolio = _remove_tier1_and_personal_hub(work)
        clients = clients_for(catalog)
        interrupt_at(clients, step, after)
        plan, state = make_plan(portfolio, work.build(), clients, BUCKET)
        with pytest.raises((Interrupt, botocore.exceptions.EndpointConnectionError)):
            apply(plan, clients, state)
        rerun = publish(portfolio, work.outdir, catalog)
        assert moto_servicecatalog.snapshot() == expected, f"step {step}"
        assert publish(portfolio, work.outdir, catalog).mutating == 0, f"step {step}"
        assert rerun.mutating <= steps - (step - (0 if after else 1)), f"step {step}"
