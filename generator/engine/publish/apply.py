"""Carry out a plan's actions in order, one API call each, resolving names to ids as it goes."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import singledispatch

from generator.engine.publish import actions as act
from generator.engine.publish.aws import Clients
from generator.engine.publish.desired import PortfolioSpec, ProductSpec, VersionSpec
from generator.engine.publish.plan import Plan
from generator.engine.publish.state import CatalogState

CFN = "CLOUD_FORMATION_TEMPLATE"


@dataclass
class Ids:
    """Service Catalog ids of what the plan names: known ones from the state, new ones as made."""

    portfolios: dict[str, str] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)
    versions: dict[tuple[str, str], str] = field(default_factory=dict)
    tag_options: dict[tuple[str, str], str] = field(default_factory=dict)
    service_actions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, state: CatalogState) -> Ids:
        return cls(
            portfolios={tier: p.id for tier, p in state.portfolios.items()},
            products={key: p.id for key, p in state.products.items()},
            versions={(key, v.name): v.id for key, p in state.products.items() for v in p.versions},
            tag_options={kv: option_id for kv, (option_id, _) in state.tag_options.items()},
            service_actions={name: a.id for name, a in state.service_actions.items()},
        )


@dataclass
class Context:
    clients: Clients
    ids: Ids

    @property
    def sc(self):
        return self.clients.servicecatalog


Progress = Callable[[int, int, act.Action], None]


def apply(plan: Plan, clients: Clients, state: CatalogState, progress: Progress | None = None):
    """Run every change of `plan`; return the actions done (all of them unless one raised)."""
    context = Context(clients, Ids.of(state))
    changes = plan.changes
    done = []
    for number, action in enumerate(changes, start=1):
        if progress:
            progress(number, len(changes), action)
        run(action, context)
        done.append(action)
    return done


@singledispatch
def run(action: act.Action, context: Context) -> None:
    raise TypeError(f"no applier for {type(action).__name__}")


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _artifact(version: VersionSpec, url: str) -> dict:
    return {
        "Name": version.name,
        "Description": version.description,
        "Info": {"LoadTemplateFromURL": url},
        "Type": CFN,
    }


@run.register
def _(action: act.UploadTemplate, context: Context) -> None:
    template = action.template
    context.clients.s3.put_object(
        Bucket=action.bucket,
        Key=template.key,
        Body=template.body,
        ContentType="application/json",
        ChecksumSHA256=base64.b64encode(bytes.fromhex(template.sha256)).decode(),
    )


def _portfolio_fields(spec: PortfolioSpec) -> dict:
    return {
        "DisplayName": spec.name,
        "Description": spec.description,
        "ProviderName": spec.provider,
    }


@run.register
def _(action: act.CreatePortfolio, context: Context) -> None:
    spec = action.spec
    made = context.sc.create_portfolio(Tags=_tags(spec.tags), **_portfolio_fields(spec))
    context.ids.portfolios[spec.tier] = made["PortfolioDetail"]["Id"]


@run.register
def _(action: act.UpdatePortfolio, context: Context) -> None:
    spec = action.spec
    context.sc.update_portfolio(
        Id=context.ids.portfolios[spec.tier],
        AddTags=_tags(dict(action.add_tags)),
        **_portfolio_fields(spec),
    )


def _product_fields(spec: ProductSpec) -> dict:
    fields = {
        "Owner": spec.owner,
        "Description": spec.description,
        "Distributor": spec.distributor,
    }
    if spec.support_email:
        fields["SupportEmail"] = spec.support_email
    return fields


@run.register
def _(action: act.CreateProduct, context: Context) -> None:
    spec = action.spec
    made = context.sc.create_product(
        Name=spec.name,
        ProductType=CFN,
        Tags=_tags(spec.tags),
        ProvisioningArtifactParameters=_artifact(spec.version, action.template_url),
        **_product_fields(spec),
    )
    context.ids.products[spec.key] = made["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    context.ids.versions[(spec.key, spec.version.name)] = made["ProvisioningArtifactDetail"]["Id"]


@run.register
def _(action: act.UpdateProduct, context: Context) -> None:
    spec = action.spec
    context.sc.update_product(
        Id=context.ids.products[spec.key],
        Name=spec.name,
        AddTags=_tags(dict(action.add_tags)),
        **_product_fields(spec),
    )


@run.register
def _(action: act.CreateVersion, context: Context) -> None:
    made = context.sc.create_provisioning_artifact(
        ProductId=context.ids.products[action.product],
        Parameters=_artifact(action.version, action.template_url),
    )
    context.ids.versions[(action.product, action.version.name)] = made[
        "ProvisioningArtifactDetail"
    ]["Id"]


@run.register
def _(action: act.UpdateVersion, context: Context) -> None:
    changes = {}
    if action.description is not None:
        changes["Description"] = action.description
    if action.guidance is not None:
        changes["Guidance"] = action.guidance
    context.sc.update_provisioning_artifact(
        ProductId=context.ids.products[action.product],
        ProvisioningArtifactId=context.ids.versions[(action.product, action.version)],
        **changes,
    )


@run.register
def _(action: act.AssociateProduct, context: Context) -> None:
    context.sc.associate_product_with_portfolio(
        ProductId=context.ids.products[action.product],
        PortfolioId=context.ids.portfolios[action.tier],
    )


@run.register
def _(action: act.DisassociateProduct, context: Context) -> None:
    context.sc.disassociate_product_from_portfolio(
        ProductId=context.ids.products[action.product],
        PortfolioId=context.ids.portfolios[action.tier],
    )


@run.register
def _(action: act.CreateConstraint, context: Context) -> None:
    context.sc.create_constraint(
        PortfolioId=context.ids.portfolios[action.tier],
        ProductId=context.ids.products[action.product],
        Type=action.type,
        Parameters=action.parameters,
        Description=action.description,
    )


@run.register
def _(action: act.UpdateConstraint, context: Context) -> None:
    context.sc.update_constraint(
        Id=action.constraint_id, Parameters=action.parameters, Description=action.description
    )


@run.register
def _(action: act.DeleteConstraint, context: Context) -> None:
    context.sc.delete_constraint(Id=action.constraint_id)


@run.register
def _(action: act.CreateTagOption, context: Context) -> None:
    made = context.sc.create_tag_option(Key=action.key, Value=action.value)
    context.ids.tag_options[(action.key, action.value)] = made["TagOptionDetail"]["Id"]


@run.register
def _(action: act.ActivateTagOption, context: Context) -> None:
    context.sc.update_tag_option(
        Id=context.ids.tag_options[(action.key, action.value)], Active=True
    )


@run.register
def _(action: act.AssociateTagOption, context: Context) -> None:
    context.sc.associate_tag_option_with_resource(
        ResourceId=context.ids.portfolios[action.tier],
        TagOptionId=context.ids.tag_options[(action.key, action.value)],
    )


@run.register
def _(action: act.DisassociateTagOption, context: Context) -> None:
    context.sc.disassociate_tag_option_from_resource(
        ResourceId=context.ids.portfolios[action.tier], TagOptionId=action.tag_option_id
    )


@run.register
def _(action: act.AssociatePrincipal, context: Context) -> None:
    context.sc.associate_principal_with_portfolio(
        PortfolioId=context.ids.portfolios[action.tier],
        PrincipalARN=action.arn,
        PrincipalType="IAM",
    )


@run.register
def _(action: act.DisassociatePrincipal, context: Context) -> None:
    context.sc.disassociate_principal_from_portfolio(
        PortfolioId=context.ids.portfolios[action.tier],
        PrincipalARN=action.arn,
        PrincipalType=action.principal_type,
    )


@run.register
def _(action: act.CreateServiceAction, context: Context) -> None:
    spec = action.spec
    made = context.sc.create_service_action(
        Name=spec.name,
        DefinitionType="SSM_AUTOMATION",
        Definition=spec.definition,
        Description=spec.description,
    )
    context.ids.service_actions[spec.name] = made["ServiceActionDetail"]["ServiceActionSummary"][
        "Id"
    ]


@run.register
def _(action: act.UpdateServiceAction, context: Context) -> None:
    spec = action.spec
    context.sc.update_service_action(
        Id=context.ids.service_actions[spec.name],
        Definition=spec.definition,
        Description=spec.description,
    )


@run.register
def _(action: act.AssociateServiceAction, context: Context) -> None:
    context.sc.associate_service_action_with_provisioning_artifact(
        ProductId=context.ids.products[action.product],
        ProvisioningArtifactId=context.ids.versions[(action.product, action.version)],
        ServiceActionId=context.ids.service_actions[action.action],
    )
