"""The publisher against a stateful local Service Catalog: it converges and stays idempotent.

The catalog is moto's server extended by tests/support/moto_servicecatalog.py (see its docstring for
what it does and does not prove). Calls are counted with botocore event hooks on the clients.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse

from generator.engine.publish import actions as act
from generator.engine.publish.apply import apply
from generator.engine.publish.aws import caller, template_url
from generator.engine.publish.desired import (
    desired_state,
    hash_in_description,
    read_templates,
)
from generator.engine.publish.plan import diff
from generator.engine.publish.publisher import make_plan
from generator.engine.publish.service_actions import ServiceActionSpec
from generator.engine.publish.state import read_state
from generator.model.problems import UserError
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


def changes(run) -> list[tuple[str, str, str]]:
    return changed_rows(run.plan)


def by_tier(products: list) -> dict[tuple[str, str], tuple]:
    """The snapshot's products by (name, tier tag): each tier has its own of each product."""
    found = {}
    for product in products:
        key = (product[0], dict(product[3])["labcatalog:tier"])
        assert key not in found, f"{key} published twice"
        found[key] = product
    return found


def test_first_publish_creates_everything_as_configured(catalog, workspace):
    run = publish(workspace.write(), workspace.outdir, catalog)
    state = moto_servicecatalog.snapshot()
    portfolios = {p[0]: p for p in state["portfolios"]}
    assert sorted(portfolios) == ["Data Science (tier0)", "Data Science (tier1)"]
    _, _, provider, tags, options, principals, products = portfolios["Data Science (tier0)"]
    assert provider == "Data Platform Team"
    assert ("managed-by", "labcatalog") in tags and ("labcatalog:tier", "tier0") in tags
    # The file's TagOptions and the tier's own, which Service Catalog puts on the tier's stacks
    # (its launch role runs only stacks tagged with its tier).
    assert options == [
        "cost-center=ds-analytics",
        "cost-center=ds-research",
        "labcatalog:tier=tier0",
    ]
    assert principals == [
        (f"arn:aws:iam::{ACCOUNT}:group/Leads0", "IAM"),
        (f"arn:aws:iam::{ACCOUNT}:role/Team0", "IAM"),
    ]
    assert products == ["Personal hub", "Team hub"]
    assert len(state["products"]) == 4  # two products, once per tier, named as configured
    versions = {key: p[4] for key, p in by_tier(state["products"]).items()}
    (version,) = versions[("Team hub", "tier1")]
    assert version[0] == "1.0.0" and version[2] == "DEFAULT"
    body = workspace.template("shared-hub", "tier1").read_bytes()
    sha = hashlib.sha256(body).hexdigest()  # computed here, not read back from the publisher
    assert version[1] == f"First release (labcatalog sha256:{sha})"
    assert hash_in_description(version[1]) == sha
    assert version[4].endswith(f"/{BUCKET}/templates/sha256/{sha}.template.json")
    stored = catalog.client("s3").get_object(
        Bucket=BUCKET, Key=f"templates/sha256/{sha}.template.json"
    )
    assert stored["Body"].read() == body
    constraints = [c for c in state["constraints"] if c[0] == "Data Science (tier1)"]
    # A launch constraint for each of the tier's two products; no tier to pin (it is bound).
    assert [c[2] for c in constraints] == ["LAUNCH"] * 2
    launch = [json.loads(c[4]) for c in constraints]
    assert launch == [{"LocalRoleName": "labcatalog-tier1-launch"}] * 2
    assert run.mutating == len(run.plan.changes)
    # Principals come last: a half-done run never hands users a product without constraints.
    kinds = [type(a) for a in run.plan.changes]
    assert kinds.index(act.AssociatePrincipal) > max(
        i for i, k in enumerate(kinds) if k is act.CreateConstraint
    )


def test_each_tier_has_its_own_products_in_its_own_portfolio_only(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    sc = catalog.client("servicecatalog")
    portfolios = {
        p["Id"]: p["DisplayName"] for p in sc.list_portfolios(PageSize=20)["PortfolioDetails"]
    }
    found = {}
    for view in sc.search_products_as_admin(PageSize=20)["ProductViewDetails"]:
        product_id = view["ProductViewSummary"]["ProductId"]
        tags = {t["Key"]: t["Value"] for t in sc.describe_product_as_admin(Id=product_id)["Tags"]}
        shown_in = sc.list_portfolios_for_product(ProductId=product_id, PageSize=20)
        found[(tags["labcatalog:product"], tags["labcatalog:tier"])] = (
            view["ProductViewSummary"]["Name"],
            sorted(portfolios[p["Id"]] for p in shown_in["PortfolioDetails"]),
        )
    assert found == {
        ("shared-hub", "tier0"): ("Team hub", ["Data Science (tier0)"]),
        ("shared-hub", "tier1"): ("Team hub", ["Data Science (tier1)"]),
        ("personal-hub", "tier0"): ("Personal hub", ["Data Science (tier0)"]),
        ("personal-hub", "tier1"): ("Personal hub", ["Data Science (tier1)"]),
    }
    # Each tier's product runs its own tier's template.
    for tier in ("tier0", "tier1"):
        body = json.loads(workspace.template("shared-hub", tier).read_text())
        assert body["Metadata"]["labcatalog"]["tier"] == tier


def test_second_publish_makes_zero_changing_calls(catalog, workspace):
    portfolio = workspace.write()
    publish(portfolio, workspace.outdir, catalog)
    before = moto_servicecatalog.snapshot()
    again = publish(portfolio, workspace.outdir, catalog)
    assert again.mutating == 0
    assert again.plan.changes == []
    assert {r.change for r in again.plan.rows()} == {act.Change.UNCHANGED}
    assert moto_servicecatalog.snapshot() == before


def test_version_bump_adds_one_version_and_uploads_one_template(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    workspace.set_version("shared-hub", "1.1.0")
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert changes(run) == [
        ("create", "template", "shared-hub/tier0 1.1.0"),
        ("create", "template", "shared-hub/tier1 1.1.0"),
        ("create", "version", "shared-hub/tier0 1.1.0"),
        ("create", "version", "shared-hub/tier1 1.1.0"),
    ]
    versions = {
        key: [v[0] for v in p[4]]
        for key, p in by_tier(moto_servicecatalog.snapshot()["products"]).items()
    }
    assert versions == {
        ("Team hub", "tier0"): ["1.0.0", "1.1.0"],
        ("Team hub", "tier1"): ["1.0.0", "1.1.0"],
        ("Personal hub", "tier0"): ["1.0.0"],
        ("Personal hub", "tier1"): ["1.0.0"],
    }


def test_changed_template_without_a_version_bump_is_refused(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    workspace.variants["shared-hub"] = "edited"
    before = moto_servicecatalog.snapshot()
    with pytest.raises(
        UserError, match=r"shared-hub/tier0 1\.0\.0 .*immutable: bump products\.shared-hub\.version"
    ):
        publish(workspace.write(), workspace.outdir, catalog)
    assert moto_servicecatalog.snapshot() == before


def test_versions_beyond_keep_versions_are_deprecated_never_deleted(catalog, workspace):
    for version in ("1.0.0", "1.1.0", "1.10.0"):  # 1.10.0 > 1.1.0: ordered as versions
        workspace.set_version("shared-hub", version)
        run = publish(workspace.write(), workspace.outdir, catalog)
    assert ("deprecate", "version", "shared-hub/tier0 1.0.0") in changes(run)
    assert ("deprecate", "version", "shared-hub/tier1 1.0.0") in changes(run)
    for tier in ("tier0", "tier1"):
        product = by_tier(moto_servicecatalog.snapshot()["products"])[("Team hub", tier)]
        guidance = {v[0]: v[2] for v in product[4]}
        assert guidance == {"1.0.0": "DEPRECATED", "1.1.0": "DEFAULT", "1.10.0": "DEFAULT"}
    # Keeping more versions again brings the old one back; nothing was ever deleted.
    workspace.data["products"]["shared-hub"]["keep_versions"] = 3
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert changes(run) == [
        ("update", "version", "shared-hub/tier0 1.0.0"),
        ("update", "version", "shared-hub/tier1 1.0.0"),
    ]


def test_principals_and_tag_options_follow_the_file_exactly(catalog, workspace):
    publish(workspace.write(), workspace.outdir, catalog)
    workspace.data["tiers"][0]["principals"] = ["role/Team0", "role/NewTeam"]
    workspace.data["tag_options"] = {"cost-center": ["ds-research"]}
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert sorted(changes(run)) == [
        ("create", "association", f"tier0 <- principal arn:aws:iam::{ACCOUNT}:role/NewTeam"),
        ("delete", "association", f"tier0 <- principal arn:aws:iam::{ACCOUNT}:group/Leads0"),
        ("delete", "association", "tier0 <- tag option cost-center=ds-analytics"),
        ("delete", "association", "tier1 <- tag option cost-center=ds-analytics"),
    ]
    assert publish(workspace.write(), workspace.outdir, catalog).mutating == 0


def test_a_portfolio_not_made_by_labcatalog_is_not_taken_over(catalog, workspace):
    catalog.client("servicecatalog").create_portfolio(
        DisplayName="Data Science (tier0)", ProviderName="someone else"
    )
    with pytest.raises(UserError, match="not created by labcatalog"):
        publish(workspace.write(), workspace.outdir, catalog)


def test_hand_edited_constraint_is_put_back(catalog, workspace):
    portfolio = workspace.write()
    publish(portfolio, workspace.outdir, catalog)
    sc = catalog.client("servicecatalog")
    portfolio_id = next(
        p["Id"]
        for p in sc.list_portfolios(PageSize=20)["PortfolioDetails"]
        if p["DisplayName"] == "Data Science (tier0)"
    )
    launch = next(
        c
        for c in sc.list_constraints_for_portfolio(PortfolioId=portfolio_id, PageSize=20)[
            "ConstraintDetails"
        ]
        if c["Type"] == "LAUNCH"
    )
    sc.update_constraint(Id=launch["ConstraintId"], Parameters='{"LocalRoleName": "admin"}')
    run = publish(portfolio, workspace.outdir, catalog)
    assert [(r[0], r[1]) for r in changes(run)] == [("update", "constraint")]
    assert publish(portfolio, workspace.outdir, catalog).mutating == 0


def _first_publish(workspace: Workspace):
    return workspace.write()


def _two_versions_published(workspace: Workspace):
    """Publish 1.0.0 then 1.1.0: as many versions as keep_versions (2) lets stay active."""
    yield workspace.write()
    workspace.set_version("shared-hub", "1.1.0")
    yield workspace.write()


def _bump_with_deprecation(workspace: Workspace):
    """A third version: publishing it deprecates 1.0.0, the oldest beyond keep_versions."""
    workspace.set_version("shared-hub", "1.2.0")
    return workspace.write()


def _published_before(setup, workspace: Workspace):
    """The portfolios the scenario publishes before the change, one at a time (each written
    when the one before it has been published), none without a setup."""
    return iter(()) if setup is None else setup(workspace)


def _small(root) -> Workspace:
    """One tier, one principal, one tag option, two products: every kind of step, few steps."""
    data = portfolio_data(tiers=1)
    data["tiers"][0]["principals"] = ["role/Team0"]
    data["tag_options"] = {"cost-center": ["ds-research"]}
    return Workspace(root, data)


SCENARIOS = {
    # name: (what is published beforehand, the change to publish under interruption)
    "first publish": (None, _first_publish),
    "bump + deprecate": (_two_versions_published, _bump_with_deprecation),
}
# What each scenario's reference run must do, so that interruptions fall inside it.
SCENARIO_CHANGES = {
    "first publish": ("create", "product"),
    "bump + deprecate": ("deprecate", "version"),
}


def _published_state(catalog, workspace: Workspace, setup, change) -> dict:
    """End state of an uninterrupted publish of the scenario, from a clean catalog."""
    catalog.reset()
    moto_servicecatalog.install()
    prepare_account(catalog)
    for before in _published_before(setup, workspace):
        publish(before, workspace.outdir, catalog)
    return publish(change(workspace), workspace.outdir, catalog)


@pytest.mark.parametrize("after", [False, True], ids=["before-call", "response-lost"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_interrupted_at_every_step_a_rerun_converges(catalog, tmp_path, workspace, scenario, after):
    setup, change = SCENARIOS[scenario]
    reference = _published_state(catalog, _small(tmp_path / "ref"), setup, change)
    expected = moto_servicecatalog.snapshot()
    steps = reference.mutating
    assert steps > 0
    # The scenario does what its name says (a deprecation is among the calls interrupted).
    assert SCENARIO_CHANGES[scenario] in [(c, r) for c, r, _ in changes(reference)]
    for step in range(1, steps + 1):
        work = _small(tmp_path / f"{scenario}-{after}-{step}")
        catalog.reset()
        moto_servicecatalog.install()
        prepare_account(catalog)
        for before in _published_before(setup, work):
            publish(before, work.outdir, catalog)
        portfolio = change(work)
        clients = clients_for(catalog)
        interrupt_at(clients, step, after)
        plan, state = make_plan(portfolio, work.build(), clients, BUCKET)
        with pytest.raises((Interrupt, botocore.exceptions.EndpointConnectionError)):
            apply(plan, clients, state)
        rerun = publish(portfolio, work.outdir, catalog)
        assert moto_servicecatalog.snapshot() == expected, f"step {step}"
        assert publish(portfolio, work.outdir, catalog).mutating == 0, f"step {step}"
        # The re-run did only what was left: never more than the whole publish.
        assert rerun.mutating <= steps - (step - (0 if after else 1)), f"step {step}"


def test_throttling_is_retried(catalog, workspace):
    """A throttled call is retried by botocore (adaptive mode), not failed."""
    clients = clients_for(catalog)
    throttled = {"left": 1}

    def throttle(request, **_):
        if throttled["left"] and request.headers.get("X-Amz-Target", b"").endswith(
            b"CreatePortfolio"
        ):
            throttled["left"] -= 1
            body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
            return AWSResponse(request.url, 400, {}, _Raw(body))
        return None

    clients.servicecatalog.meta.events.register("before-send", throttle)
    plan, state = make_plan(workspace.write(), workspace.build(), clients, BUCKET)
    apply(plan, clients, state)
    assert throttled["left"] == 0
    assert len(moto_servicecatalog.snapshot()["portfolios"]) == 2


class _Raw:
    """The raw body an AWSResponse reads (a urllib3 response in real use)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_args, **_kwargs):
        yield self._body


def test_self_service_actions_are_created_and_associated_once(catalog, workspace):
    portfolio = workspace.write()
    clients = clients_for(catalog)
    plan, _ = make_plan(portfolio, workspace.build(), clients, BUCKET)
    restart = ServiceActionSpec(
        name="labcatalog-restart-hub",
        description="Restart your hub",
        document_name="AWS-RestartEC2Instance",
        parameters=(("InstanceId", "TARGET"),),
    )

    def with_actions(desired):
        products = tuple(
            replace(p, service_actions=(restart,)) if p.product == "personal-hub" else p
            for p in desired.products
        )
        return replace(desired, products=products)

    def run_once():
        templates, _ = read_templates(portfolio, workspace.build())
        desired = with_actions(desired_state(portfolio, templates, caller(clients)))
        state = read_state(clients, desired, BUCKET)
        the_plan = diff(desired, state, BUCKET, lambda t: template_url(clients, BUCKET, t.key))
        apply(the_plan, clients, state)
        return the_plan

    first = run_once()
    assert ("create", "service action", "labcatalog-restart-hub") in [
        (r.change, r.resource, r.subject) for r in first.rows()
    ]
    snapshot = moto_servicecatalog.snapshot()
    personal = next(p for p in snapshot["products"] if p[0] == "Personal hub")
    assert personal[4][0][5] == ["labcatalog-restart-hub"]
    assert run_once().changes == []
    # Without a service_actions module the product publishes none and lists none.
    assert not any(isinstance(a, act.CreateServiceAction) for a in plan.actions)
