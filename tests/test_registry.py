"""The product registry: a third product is one folder plus one registry entry.

A toy product, defined here the way a product folder defines its `PRODUCT`, joins the installed
products in a registry of the test's own: build writes its template, the platform carries its
roles, launch rights and parameters, and publish wants it in the catalog. The layer rules
(which package may import which) are checked on the source with `ast`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import awacs.sqs as sqs
import pytest
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Output, Parameter, Template
from troposphere.iam import Role
from troposphere.sqs import Queue

from generator.cfn import names, policies
from generator.cfn.product import (
    AccountContribution,
    LaunchPolicy,
    PassableRole,
    PlatformContext,
    Product,
    ServiceActionSpec,
    SsmValue,
    TierContext,
    TierContribution,
)
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine import registry as registry_module
from generator.engine.publish.aws import Caller
from generator.engine.publish.desired import desired_state, read_templates
from generator.model.config import Portfolio
from generator.model.config import Product as ProductConfig
from generator.model.problems import InputError
from tests.conftest import EXAMPLE, platform_body, platform_templates

ROOT = Path(__file__).resolve().parents[1]
TOY = "toy-queue"
TOY_SERVICE = "lambda.amazonaws.com"


# The toy product's "folder": a template builder, its platform parts, its service actions.


def toy_template(portfolio: Portfolio) -> Template:
    t = Template(Description=f"toy queue {portfolio.products.toy_queue.version}")
    t.add_parameter(
        Parameter("Tier", Type="String", AllowedValues=[x.name for x in portfolio.tiers])
    )
    t.add_resource(Queue("Queue"))
    return t


def toy_account(t: Template, platform: PlatformContext) -> AccountContribution:
    return AccountContribution(
        launch_policies=(
            LaunchPolicy(
                "LaunchToyQueuePolicy",
                names.LAUNCH_POLICY.format(name=TOY),
                "Service Catalog may manage toy queues (account-wide part)",
                (
                    Statement(
                        Sid="ToyListQueues", Effect=Allow, Action=[sqs.ListQueues], Resource=["*"]
                    ),
                ),
            ),
        ),
        parameters=(
            SsmValue(
                "ToyQueueKeyParameter",
                names.platform_parameter("toy-key"),
                platform.hub_key_arn,
                "toy key",
            ),
        ),
    )


def toy_tier(t: Template, tier: TierContext) -> TierContribution:
    role = t.add_resource(
        Role(
            f"{tier.logical_id}ToyQueueRole",
            RoleName=f"labcatalog-{tier.name}-toy-queue",
            AssumeRolePolicyDocument=policies.service_trust_policy(TOY_SERVICE),
        )
    )
    t.add_output(Output(f"{tier.logical_id}ToyQueueRoleArn", Value=GetAtt(role, "Arn")))
    return TierContribution(
        passable_roles=(PassableRole(GetAtt(role, "Arn"), TOY_SERVICE),),
        credential_brokers=(GetAtt(role, "Arn"),),
        launch_statements=(
            Statement(
                Sid="ToyQueues",
                Effect=Allow,
                Action=[sqs.CreateQueue, sqs.DeleteQueue],
                Resource=[policies.regional_arn("sqs", f"labcatalog-{tier.name}-*")],
            ),
        ),
        parameters=(
            SsmValue(
                f"{tier.logical_id}ToyQueueRoleParameter",
                names.tier_parameter(tier.name, "toy-queue-role-arn"),
                GetAtt(role, "Arn"),
                f"labcatalog tier {tier.name}: toy queue role arn",
            ),
        ),
    )


PURGE = ServiceActionSpec(name="toy-purge", description="Purge the queue", document_name="ToyPurge")

TOY_PRODUCT = Product(
    key=TOY,
    config=ProductConfig,
    description="A queue per tier.",
    build=toy_template,
    add_to_platform=toy_account,
    add_to_tier=toy_tier,
    service_actions=lambda entry: (PURGE,),
)

TOY_ENTRY = f"""
  {TOY}:
    name: Toy queue
    owner: Data Platform Team
    description: A queue for your team
    version: 0.1.0
    version_description: First toy
"""


@pytest.fixture(scope="module")
def registry() -> registry_module.Registry:
    """The installed products plus the toy: one more registry entry, nothing else."""
    installed = registry_module.discover()
    return registry_module.make([*installed.products, TOY_PRODUCT], installed.platform)


@pytest.fixture(scope="module")
def toy_portfolio_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("toy") / "portfolio.yaml"
    path.write_text(EXAMPLE.read_text().replace("\nproducts:\n", "\nproducts:" + TOY_ENTRY, 1))
    return path


@pytest.fixture(scope="module")
def portfolio(registry, toy_portfolio_path) -> Portfolio:
    return registry_module.load_portfolio(toy_portfolio_path, registry=registry)


def test_installed_registry_has_the_products_sorted_by_key():
    installed = registry_module.discover()
    assert [p.key for p in installed.products] == ["personal-hub", "shared-hub"]
    assert all(isinstance(p, Product) for p in installed.products)


def test_portfolio_model_is_composed_from_the_registry(registry, toy_portfolio_path, portfolio):
    assert portfolio.products.toy_queue.version == "0.1.0"
    assert [p.key for p, _ in registry.configured(portfolio)] == [
        "personal-hub",
        "shared-hub",
        TOY,
    ]
    schema = registry.portfolio_model.model_json_schema(by_alias=True)
    products = schema["$defs"]["Products"]["properties"]
    assert products[TOY]["description"] == "A queue per tier."
    # Without the toy registered, the same file names an unknown product.
    with pytest.raises(InputError) as err:
        registry_module.load_portfolio(toy_portfolio_path)
    assert TOY in str(err.value)


def test_build_writes_the_toy_products_template(registry, portfolio, tmp_path):
    artifacts = builder.generate(portfolio, registry)
    toys = [s for s in builder.stacks(portfolio, registry) if s.product == TOY]
    # build/<key>/<tier>.template.json, made in stacks(), each with its tier bound
    assert [s.path for s in toys] == [f"{TOY}/{t.name}.template.json" for t in portfolio.tiers]
    stack = toys[0]
    build_folder.write(artifacts, tmp_path)
    body = json.loads((tmp_path / stack.path).read_text())
    assert body["Description"] == "toy queue 0.1.0"
    assert "Parameters" not in body  # its only parameter, Tier, is bound
    manifest = json.loads((tmp_path / build_folder.MANIFEST).read_text())
    assert manifest["templates"][stack.path]["version"] == "0.1.0"


def test_platform_carries_the_toy_products_contributions(registry, portfolio):
    resources = platform_body(portfolio, registry)["Resources"]
    assert resources["LaunchToyQueuePolicy"]["Properties"]["ManagedPolicyName"] == (
        f"labcatalog-launch-{TOY}"
    )
    assert resources["ToyQueueKeyParameter"]["Properties"]["Value"] == {
        "Fn::GetAtt": ["HubKey", "Arn"]
    }
    for tier in portfolio.tiers:
        tid = tier.logical_id
        role = resources[f"{tid}ToyQueueRole"]["Properties"]
        # The toy role brokers the tier's data: the data role trusts it beside the hubs.
        assert "Policies" not in role
        data = resources[f"{tid}DataRole"]["Properties"]
        trust, *_ = data["AssumeRolePolicyDocument"]["Statement"]
        brokers = [arn["Fn::GetAtt"][0] for arn in trust["Principal"]["AWS"]]
        assert sorted(brokers) == sorted(
            f"{tid}{role}" for role in ("PersonalHubRole", "HubTaskRole", "ToyQueueRole")
        )
        assert [p["PolicyName"] for p in data["Policies"]] == ["data-access", "require-tls"]
        parameter = resources[f"{tid}ToyQueueRoleParameter"]["Properties"]
        assert parameter["Name"] == f"/labcatalog/tiers/{tier.name}/toy-queue-role-arn"
        launch = resources[f"{tid}LaunchRole"]["Properties"]
        assert {"Ref": "LaunchToyQueuePolicy"} in launch["ManagedPolicyArns"]
        (document,) = [p["PolicyDocument"] for p in launch["Policies"]]
        by_sid = {s["Sid"]: s for s in document["Statement"]}
        assert by_sid["ToyQueues"]["Action"] == ["sqs:CreateQueue", "sqs:DeleteQueue"]
        passing = by_sid["PassOnlyThisTiersRolesToLambda"]
        assert passing["Resource"] == [{"Fn::GetAtt": [f"{tid}ToyQueueRole", "Arn"]}]
        assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": TOY_SERVICE}}


def test_platform_without_the_toy_configured_has_none_of_it(registry):
    example = registry_module.load_portfolio(EXAMPLE, registry=registry)
    texts = platform_templates(example, registry)
    assert not any("Toy" in text for text in texts.values())
    assert texts == platform_templates(example)


def test_publish_wants_the_toy_product_with_its_service_actions(registry, portfolio, tmp_path):
    build = build_folder.Build(tuple(builder.generate(portfolio, registry)))
    templates, skipped = read_templates(portfolio, build, registry)
    assert skipped == []
    desired = desired_state(portfolio, templates, Caller("123456789012", "aws"), registry=registry)
    by_key = {(p.product, p.tier): p for p in desired.products}
    tiers = [t.name for t in portfolio.tiers]
    assert sorted(by_key) == sorted(
        (key, tier) for key in ("personal-hub", "shared-hub", TOY) for tier in tiers
    )
    for tier in tiers:  # one product per tier
        toy = by_key[(TOY, tier)]
        assert (toy.key, toy.name, toy.version.name) == (f"{TOY}/{tier}", "Toy queue", "0.1.0")
        assert toy.service_actions == (PURGE,)
        assert by_key[("shared-hub", tier)].service_actions == ()


# Layers: which package may import which.


def imports_of(path: Path, root: Path) -> set[str]:
    """Every module `path` imports, relative imports made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(path.relative_to(root).parent.parts)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def offending(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """`path imports module` for each import of `package` from one of the `forbidden` ones."""
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for name in sorted(imports_of(path, root)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(root)} imports {name}")
    return bad


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("generator", ("products",)),
        ("generator/model", ("generator.cfn", "generator.engine", "generator.commands")),
        ("generator/cfn", ("generator.engine", "generator.commands", "generator.cli")),
        ("generator/engine", ("generator.commands", "generator.cli")),
        ("products", ("generator.engine", "generator.commands", "generator.cli")),
    ],
)
def test_layers_import_only_downwards(package, forbidden):
    assert offending(package, forbidden) == []


def test_the_import_check_can_fail(tmp_path):
    (tmp_path / "generator").mkdir()
    (tmp_path / "generator" / "bad.py").write_text("from products.shared_hub import template\n")
    (tmp_path / "generator" / "ok.py").write_text("from .model import config\nimport json\n")
    assert offending("generator", ("products",), tmp_path) == [
        "generator/bad.py imports products.shared_hub",
        "generator/bad.py imports products.shared_hub.template",
    ]
    assert imports_of(tmp_path / "generator" / "ok.py", tmp_path) == {
        "generator.model",
        "generator.model.config",
        "json",
    }
