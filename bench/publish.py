"""Benchmark: API calls of `publish` against a naive publisher that recreates versions each run.

Run with: python bench/publish.py   (in the tox `py` env or the dev venv: needs moto[server])

Everything runs against a moto server on 127.0.0.1 extended with the local Service Catalog of
tests/support/moto_servicecatalog.py (page size 20, AWS's default), so no AWS account is used.
For each
portfolio it counts calls (changing / read-only, one per operation, retries excluded) of:

- a first publish into an empty account,
- a second publish with nothing changed,
- a publish after one product's version was bumped.

The naive publisher does what aws-service-catalog-factory does on every pipeline run: it uploads
every template, adds a new provisioning artifact for every product, re-associates every product,
principal and tag option, and deletes and recreates every constraint. Product templates are
small stand-ins; the call counts do not depend on template size.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import botocore.exceptions
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.engine import build_folder  # noqa: E402
from generator.engine.publish import desired as want  # noqa: E402
from generator.engine.publish.aws import Clients, caller, record_calls, template_url  # noqa: E402
from generator.model.config import Portfolio  # noqa: E402
from tests.support import moto_servicecatalog  # noqa: E402
from tests.support.moto_server import start_moto_server  # noqa: E402
from tests.support.publish_support import (  # noqa: E402
    BUCKET,
    Workspace,
    clients_for,
    portfolio_data,
    prepare_account,
    publish,
)

EXAMPLE = ROOT / "portfolio.yaml"


def example_data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def five_tiers() -> dict:
    data = portfolio_data(tiers=5)
    for tier in data["tiers"]:
        tier["principals"] = tier["principals"][:1]
    return data


def naive_publish(portfolio: Portfolio, outdir: Path, clients: Clients, run: int) -> None:
    """The factory's way: every run re-creates versions and constraints, re-associates all."""
    sc = clients.servicecatalog
    templates, _ = want.read_templates(portfolio, build_folder.read(outdir))
    spec = want.desired_state(portfolio, templates, caller(clients))
    for template in templates:
        clients.s3.put_object(Bucket=BUCKET, Key=template.key, Body=template.body)
    existing = {
        p["DisplayName"]: p["Id"]
        for page in sc.get_paginator("list_portfolios").paginate()
        for p in page["PortfolioDetails"]
    }
    portfolio_ids = {}
    for p in spec.portfolios:
        if p.name not in existing:
            made = sc.create_portfolio(DisplayName=p.name, ProviderName=p.provider)
            existing[p.name] = made["PortfolioDetail"]["Id"]
        portfolio_ids[p.tier] = existing[p.name]
        for arn in p.principals:
            sc.associate_principal_with_portfolio(
                PortfolioId=existing[p.name], PrincipalARN=arn, PrincipalType="IAM"
            )
    products = {
        d["ProductViewSummary"]["Name"]: d["ProductViewSummary"]["ProductId"]
        for page in sc.get_paginator("search_products_as_admin").paginate()
        for d in page["ProductViewDetails"]
    }
    for product in spec.products:
        # One product per product and tier; a name per tier, as a name is all this one finds by.
        name = f"{product.name} ({product.tier})"
        url = template_url(clients, BUCKET, product.version.template.key)
        artifact = {
            "Name": f"{product.version.name} (run {run})",
            "Info": {"LoadTemplateFromURL": url},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        }
        if name not in products:
            made = sc.create_product(
                Name=name,
                Owner=product.owner,
                ProductType="CLOUD_FORMATION_TEMPLATE",
                ProvisioningArtifactParameters=artifact,
            )
            products[name] = made["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        else:
            sc.create_provisioning_artifact(ProductId=products[name], Parameters=artifact)
        portfolio_id = portfolio_ids[product.tier]
        sc.associate_product_with_portfolio(ProductId=products[name], PortfolioId=portfolio_id)
        for page in sc.get_paginator("list_constraints_for_portfolio").paginate(
            PortfolioId=portfolio_id, ProductId=products[name]
        ):
            for constraint in page["ConstraintDetails"]:
                sc.delete_constraint(Id=constraint["ConstraintId"])
        sc.create_constraint(
            PortfolioId=portfolio_id,
            ProductId=products[name],
            Type="LAUNCH",
            Parameters=json.dumps(want.launch_constraint_parameters(product.tier)),
        )
    options = {
        (o["Key"], o["Value"]): o["Id"]
        for page in sc.get_paginator("list_tag_options").paginate()
        for o in page["TagOptionDetails"]
    }
    for key, value in spec.tag_options:
        if (key, value) not in options:
            options[(key, value)] = sc.create_tag_option(Key=key, Value=value)["TagOptionDetail"][
                "Id"
            ]
        for portfolio_id in portfolio_ids.values():
            try:
                sc.associate_tag_option_with_resource(
                    ResourceId=portfolio_id, TagOptionId=options[(key, value)]
                )
            except botocore.exceptions.ClientError as err:
                if err.response["Error"]["Code"] != "DuplicateResourceException":
                    raise


def measure(server, data: dict, naive: bool) -> list[tuple[int, int]]:
    """(changes, reads) of a first publish, a no-op publish and a one-version bump."""
    server.reset()
    moto_servicecatalog.install()
    prepare_account(server)
    work = Workspace(Path(tempfile.mkdtemp(prefix="bench-publish-")), json.loads(json.dumps(data)))
    counts = []
    for step in ("first", "no-op", "bump"):
        if step == "bump":
            work.set_version("shared-hub", "1.1.0")
        portfolio = work.write()
        if naive:
            clients = clients_for(server)
            log = record_calls(clients)
            naive_publish(portfolio, work.outdir, clients, len(counts))
            counts.append((log.changes, log.reads))
        else:
            run = publish(portfolio, work.outdir, server)
            counts.append((run.mutating, run.reads))
    return counts


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto_servicecatalog.DEFAULT_PAGE_SIZE = 20
    portfolios = {
        "example (2 tiers x 2 products)": example_data(),
        "5 tiers x 2 products": five_tiers(),
    }
    server = start_moto_server()
    try:
        print("| portfolio | publisher | first publish | no-op publish | one-version bump |")
        print("| --- | --- | --- | --- | --- |")
        for name, data in portfolios.items():
            for label, naive in (("labcatalog", False), ("naive (recreates)", True)):
                cells = [f"{c} changes + {r} reads" for c, r in measure(server, data, naive)]
                print(f"| {name} | {label} | {' | '.join(cells)} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
