"""One tier's part of the platform, as a stack nested in the platform stack.

Everything per tier (its roles, what each product adds for it, its SSM parameters) lives in a
template of its own, so the platform stack grows by one resource per tier and no single template
comes near CloudFormation's limits (500 resources, 200 outputs, 1 MB) however many tiers there
are. The root template keeps the account-wide resources and hands each tier's stack the values it
needs as parameters, named as in the root (the bucket's logical id, the launch policies'), so a
reference reads the same in both. `tier_roles.add_tier` fills the tier's template; what a later
change adds per tier goes there (or in a product's `add_to_tier`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from troposphere import GetAtt, Parameter, Ref, Template
from troposphere.cloudformation import Stack

from generator.cfn import names
from generator.cfn.product import PlatformContext, Product
from generator.model.config import DataLake, Portfolio, Tier
from products.platform import homes, settings, tier_roles
from products.platform.common import tags

# The account-wide values a tier's template takes: its parameter name -> PlatformContext field.
PLATFORM_VALUES = {
    "NotebookBucket": ("notebook_bucket", "Name of the platform's notebook bucket"),
    "NotebookKeyArn": ("notebook_key_arn", "ARN of the KMS key that encrypts notebooks"),
    "HubKeyArn": ("hub_key_arn", "ARN of the KMS key of hub logs, state and secrets"),
    "HubRepositoryArn": ("repository_arn", "ARN of the hub image's ECR repository"),
}
# cfn-lint's W3002 says a local TemplateURL works only once packaged; the platform is deployed
# through `aws cloudformation package` (README, "Deploying the platform"), which uploads each
# tier's template and writes its S3 URL in.
PACKAGED = {"cfn-lint": {"config": {"ignore_checks": ["W3002"]}}}


def description(tier: Tier) -> str:
    return (
        f"labcatalog platform, tier {tier.name}: its notebook, launch and product roles and its "
        "SSM parameters. Nested in the platform stack; generated from portfolio.yaml; do not edit."
    )


def tier_template(
    lake: DataLake,
    tier: Tier,
    products: Sequence[Product],
    launch_policy_ids: Sequence[str],
    tier_refs: Sequence[str] = (),
    portfolio: Portfolio | None = None,
) -> Template:
    """The template of one tier, given the logical ids of the account-wide launch policies
    (each becomes a parameter carrying the policy's ARN) and of the other root resources the
    products' tier parts refer to (`tier_refs`, parameters too); pure."""
    t = Template(Description=description(tier))
    t.set_version("2010-09-09")
    values = {
        name: Ref(t.add_parameter(Parameter(name, Type="String", Description=text)))
        for name, (_, text) in PLATFORM_VALUES.items()
    }
    platform = PlatformContext(
        **{field: values[name] for name, (field, _) in PLATFORM_VALUES.items()},
        portfolio=portfolio,
    )
    account_policies = [
        Ref(
            t.add_parameter(
                Parameter(
                    logical_id,
                    Type="String",
                    Description=f"ARN of the account-wide launch policy {logical_id}",
                )
            )
        )
        for logical_id in launch_policy_ids
    ]
    for logical_id in tier_refs:
        t.add_parameter(
            Parameter(
                logical_id, Type="String", Description=f"The platform's {logical_id} (its Ref)"
            )
        )
    tier_roles.add_tier(t, lake, tier, platform, products, account_policies)
    notebook_role = t.resources[f"{tier.logical_id}NotebookRole"]  # tier_roles made it
    homes.add_tier_homes(
        t, tier, Ref(notebook_role), GetAtt(notebook_role, "Arn"), values["NotebookKeyArn"]
    )
    if portfolio is not None:
        for value in settings.settings_parameters(portfolio.platform, tier):
            tier_roles.add_parameter(t, value)
    return t


def add_tier_stack(
    root: Template,
    tier: Tier,
    template_url: str,
    platform: PlatformContext,
    launch_policy_ids: Sequence[str],
    tier_refs: Sequence[str] = (),
) -> Stack:
    """The root's nested stack of `tier`, running the tier's template at `template_url`."""
    parameters = {name: getattr(platform, field) for name, (field, _) in PLATFORM_VALUES.items()}
    parameters.update(
        {logical_id: Ref(logical_id) for logical_id in (*launch_policy_ids, *tier_refs)}
    )
    parameters.update({name: Ref(name) for name in homes.NETWORK_PARAMETERS})
    return root.add_resource(
        Stack(
            f"{tier.logical_id}TierStack",
            TemplateURL=template_url,
            Parameters=parameters,
            Tags=tags(**{names.TIER_TAG: tier.name}),
            Metadata=PACKAGED,
        )
    )
