"""Helpers for the publisher's tests: small portfolios, tiny product templates, AWS plumbing.

The product templates here are stand-ins (one per product and tier, as the build makes them,
the tier bound: no `Tier` parameter, the tier in a tag of one wait-condition handle), so these
tests hold whatever the real product templates become.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions
import yaml

from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.build_folder import Artifact, Build
from generator.engine.publish.apply import apply
from generator.engine.publish.aws import Clients, connect, is_read, record_calls
from generator.engine.publish.plan import Plan
from generator.engine.publish.publisher import make_plan
from generator.engine.registry import load_portfolio
from generator.model.config import Portfolio
from tests.support import moto_servicecatalog
from tests.support.moto_server import REGION, MotoServer

BUCKET = "labcatalog-templates-test"


# The platform's settings of every portfolio these tests make (any valid ones do).
PLATFORM_SETTINGS: dict[str, Any] = {
    "network": {
        "vpc_id": "vpc-0123456789abcdef0",
        "server_subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "load_balancer_subnets": ["subnet-0a1b2c3d4e5f60003", "subnet-0a1b2c3d4e5f60004"],
    },
    "identity": {
        "oidc": {
            "issuer_url": "https://idp.example.com",
            "client_id": "client",
            "client_secret_name": "labcatalog/{tier}/personal-hub/oidc-client-secret",
        }
    },
    "dns": {
        "hosted_zone_id": "Z0123456789EXAMPLE",
        "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/"
        "0a1b2c3d-0000-4000-8000-0123456789ab",
        "hub_host_name": "{hub}.{tier}.jupyter.example.com",
    },
}


def portfolio_data(tiers: int = 2) -> dict[str, Any]:
    """A valid portfolio with `tiers` tiers and both products at 1.0.0."""
    return {
        "schema": "labcatalog/v2",
        "portfolio": {
            "name": "Data Science",
            "description": "JupyterHub environments",
            "provider": "Data Platform Team",
            "support_email": "data-platform@example.com",
        },
        "data_lake": {"bucket": "example-datalake"},
        "tiers": [
            {
                "name": f"tier{i}",
                "description": f"Tier {i}",
                "read": [f"tier{i}/"],
                "principals": [f"role/Team{i}", f"group/Leads{i}"],
                "identity_group": f"team{i}",
                "admin_group": f"leads{i}",
            }
            for i in range(tiers)
        ],
        "products": {
            key: {
                "name": name,
                "owner": "Data Platform Team",
                "description": f"{name} for tests",
                "version": "1.0.0",
                "version_description": "First release",
                "keep_versions": 2,
            }
            for key, name in (("shared-hub", "Team hub"), ("personal-hub", "Personal hub"))
        },
        "tag_options": {"cost-center": ["ds-research", "ds-analytics"]},
        "platform": PLATFORM_SETTINGS,
    }


def tiny_template(product: str, tier: str, version: str, variant: str = "", image: str = "") -> str:
    """A small valid product template for one tier (bound: no `Tier` parameter, the tier in
    its Metadata, as the build records it); `variant` changes its bytes; `image`, a hub image
    tag, is named as the default of a parameter as the products do."""
    body: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{product} {version} test stand-in {variant}".rstrip(),
        "Metadata": {builder.METADATA_KEY: {"product": product, "tier": tier, "version": version}},
        # No default: a launch gives it, and an update must keep it.
        "Parameters": {"Owner": {"Type": "String"}},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
    if image:
        body["Parameters"]["HubImageTag"] = {"Type": "String", "Default": image}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


@dataclass
class Workspace:
    """A portfolio file and its build folder in a temporary directory."""

    root: Path
    data: dict[str, Any] = field(default_factory=portfolio_data)
    variants: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # product key -> image tag it names

    @property
    def portfolio_path(self) -> Path:
        return self.root / "portfolio.yaml"

    @property
    def outdir(self) -> Path:
        return self.root / "build"

    def write(self) -> Portfolio:
        """Write portfolio.yaml and a build/ holding each configured product's template for
        each tier (a tiny stand-in, at the path and version the build gives it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.portfolio_path.write_text(yaml.safe_dump(self.data, sort_keys=False))
        portfolio = load_portfolio(self.portfolio_path)
        templates = []
        for stack in builder.stacks(portfolio):
            if stack.version is None:  # the platform: the publisher does not read it
                continue
            variant = self.variants.get(stack.product, "")
            image = self.images.get(stack.product, "")
            text = tiny_template(stack.product, stack.tier, stack.version, variant, image)
            templates.append(Artifact(stack.path, text, 1, stack.key, stack.version))
        build_folder.write(Build.of(templates).files, self.outdir)
        return portfolio

    def build(self) -> Build:
        """The build as written, read back from build/."""
        return build_folder.read(self.outdir)

    def template(self, product: str, tier: str = "tier0") -> Path:
        """Where build/ holds a product's template for a tier (from the manifest)."""
        return self.outdir / self.build().template(builder.product_stack(product, tier)).path

    def set_version(self, product: str, version: str, variant: str | None = None) -> None:
        self.data["products"][product]["version"] = version
        self.variants[product] = variant if variant is not None else version


def clients_for(server: MotoServer) -> Clients:
    return connect(region=REGION, endpoint_url=server.endpoint_url)


def local_catalog(server: MotoServer) -> MotoServer:
    """`server` with the extended Service Catalog and the template bucket (a clean account)."""
    moto_servicecatalog.install()
    prepare_account(server)
    return server


def isolated_workspace(folder: Path, monkeypatch) -> Workspace:
    """A workspace in `folder` whose AWS clients see only the tests' credentials: no profile, no
    endpoint or session token from the environment."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return Workspace(folder)


def changed_rows(plan: Plan) -> list[tuple[str, str, str]]:
    """The plan's table as (change, resource, subject) rows."""
    return [(r.change, r.resource, r.subject) for a in plan.changes for r in a.rows()]


def prepare_account(server: MotoServer) -> None:
    """What the platform stack leaves behind that the publisher reads: the template bucket."""
    server.client("s3").create_bucket(Bucket=BUCKET)


@dataclass
class Run:
    plan: Plan
    mutating: int
    reads: int


def publish(portfolio: Portfolio, outdir: Path, server: MotoServer) -> Run:
    """Plan and apply with fresh clients, counting the calls made."""
    clients = clients_for(server)
    log = record_calls(clients)
    plan, state = make_plan(portfolio, build_folder.read(outdir), clients, BUCKET)
    apply(plan, clients, state)
    return Run(plan, log.changes, log.reads)


class Interrupt(Exception):
    """Stands for a crash or a lost connection in the middle of a publish."""


def interrupt_at(clients: Clients, call_number: int, after: bool) -> None:
    """Fail the `call_number`-th changing call: before it is sent, or after AWS applied it."""
    seen = {"count": 0}

    def before(model, **_: Any) -> None:
        if is_read(model.name):
            return
        seen["count"] += 1
        if seen["count"] == call_number and not after:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="interrupted")

    def after_call(model, **_: Any) -> None:
        if not is_read(model.name) and seen["count"] == call_number and after:
            raise Interrupt(f"response to {model.name} lost")

    for client in clients.all():
        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after_call)


def launch(sc, product_name: str, tier: str, name: str, owner: str | None = None) -> None:
    """Launch the product of this name that the tier's portfolio offers (each has its own), as
    an end user would."""
    portfolio_id = next(
        p["Id"]
        for p in sc.list_portfolios(PageSize=20)["PortfolioDetails"]
        if p["DisplayName"] == f"Data Science ({tier})"
    )
    products = sc.search_products_as_admin(PageSize=20)["ProductViewDetails"]
    (product_id,) = [
        p["ProductViewSummary"]["ProductId"]
        for p in products
        if p["ProductViewSummary"]["Name"] == product_name
        and portfolio_id
        in {
            x["Id"]
            for x in sc.list_portfolios_for_product(
                ProductId=p["ProductViewSummary"]["ProductId"], PageSize=20
            )["PortfolioDetails"]
        }
    ]
    (version,) = sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
    made = sc.provision_product(
        ProductId=product_id,
        ProvisioningArtifactId=version["Id"],
        PathId=portfolio_id,
        ProvisionedProductName=name,
        ProvisioningParameters=[{"Key": "Owner", "Value": owner or name}],
        ProvisionToken=name,
    )
    sc.describe_record(Id=made["RecordDetail"]["RecordId"])  # the launch finishes
