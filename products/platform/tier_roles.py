"""Each tier's own roles: its data role, its notebook role, its launch role, its parameters.

The products add their part per tier (`Product.add_to_tier`): roles of their own, what the
launch role may pass and do for them, and SSM parameters; this module wires it together.
"""

from __future__ import annotations

from collections.abc import Sequence

from awacs.aws import PolicyDocument
from troposphere import GetAtt, Output, Ref, Template
from troposphere.iam import ManagedPolicy, Role
from troposphere.ssm import Parameter as SsmParameter

from generator.cfn import names, policies
from generator.cfn.product import (
    LaunchPolicy,
    PlatformContext,
    Product,
    SsmValue,
    TierContext,
    TierContribution,
)
from generator.model.config import DataLake, Tier
from products.platform import end_users
from products.platform.common import tags


def add_launch_policy(t: Template, policy: LaunchPolicy) -> Ref:
    """A managed policy for launch roles; returns a Ref to attach it."""
    return Ref(
        t.add_resource(
            ManagedPolicy(
                policy.logical_id,
                ManagedPolicyName=policy.name,
                Description=policy.description,
                PolicyDocument=PolicyDocument(
                    Version=policies.VERSION, Statement=list(policy.statements)
                ),
            )
        )
    )


def add_parameter(t: Template, value: SsmValue) -> None:
    t.add_resource(
        SsmParameter(
            value.logical_id,
            Name=value.name,
            Type="String",
            Value=value.value,
            Description=value.description,
        )
    )


def _tier_parameter(tier: Tier, logical_suffix: str, pattern: str, value) -> SsmValue:
    """A per-tier SSM parameter; described by the last part of its name."""
    name = pattern.format(tier=tier.name)
    return SsmValue(
        f"{tier.logical_id}{logical_suffix}Parameter",
        name,
        value,
        f"labcatalog tier {tier.name}: {name.rsplit('/', 1)[1].replace('-', ' ')}",
    )


def add_notebook_role(
    t: Template, tier: Tier, lake: DataLake, platform: PlatformContext
) -> TierContext:
    """The tier's notebook role, the shared hub's servers' own task role, which reaches no
    data (their hub gives them their user's credentials); returns the tier's context, with the
    data role's policies."""
    tid = tier.logical_id
    data_policies = (
        policies.inline(
            "data-access",
            policies.tier_data_access_policy(
                lake_bucket=lake.bucket,
                lake_key_arn=lake.kms_key_arn,
                read=tier.read,
                write=tier.write,
                notebooks=policies.notebook_prefix(tier.name),
                notebook_bucket=platform.notebook_bucket,
                notebook_key_arn=platform.notebook_key_arn,
                tier=tier.name,
            ),
        ),
        policies.inline(
            "require-tls", policies.require_tls_policy([lake.bucket, platform.notebook_bucket])
        ),
    )
    role = t.add_resource(
        Role(
            f"{tid}NotebookRole",
            RoleName=names.NOTEBOOK_ROLE.format(tier=tier.name),
            Description=(
                f"Notebook servers of tier {tier.name}: no data (their hub gives them their "
                "user's credentials)"
            ),
            AssumeRolePolicyDocument=policies.notebook_role_trust_policy(),
            Tags=tags(**{names.TIER_TAG: tier.name}),
        )
    )
    t.add_output(Output(f"{tid}NotebookRoleArn", Value=GetAtt(role, "Arn")))
    return TierContext(
        name=tier.name,
        logical_id=tid,
        platform=platform,
        notebook_role_arn=GetAtt(role, "Arn"),
        data_policies=data_policies,
    )


def add_data_role(
    t: Template, tier: TierContext, contributions: Sequence[TierContribution]
) -> None:
    """The tier's data role: its lake prefixes, its notebooks and each user's own folder, for
    the products' credential brokers (their hubs) only, one person at a time. None when no
    product brokers credentials (nothing could assume it)."""
    brokers = [arn for c in contributions for arn in c.credential_brokers]
    if not brokers:
        return
    role = t.add_resource(
        Role(
            f"{tier.logical_id}DataRole",
            RoleName=names.DATA_ROLE.format(tier=tier.name),
            Description=(
                f"The data of tier {tier.name}, for its hubs' users, each session one person's"
            ),
            AssumeRolePolicyDocument=policies.data_role_trust_policy(tier.name, brokers),
            Policies=list(tier.data_policies),
            Tags=tags(**{names.TIER_TAG: tier.name}),
        )
    )
    t.add_output(Output(f"{tier.logical_id}DataRoleArn", Value=GetAtt(role, "Arn")))


def add_launch_role(
    t: Template,
    tier: Tier,
    contributions: Sequence[TierContribution],
    account_policies: Sequence[Ref],
) -> GetAtt:
    """The role Service Catalog launches the tier's products with; returns its ARN."""
    tid = tier.logical_id
    passable: dict[str, list] = {}
    for role in (r for c in contributions for r in c.passable_roles):
        passable.setdefault(role.service, []).append(role.arn)
    managed = list(account_policies) + [
        add_launch_policy(t, policy) for c in contributions for policy in c.launch_policies
    ]
    launch = t.add_resource(
        Role(
            f"{tid}LaunchRole",
            # Launch constraints name this role (LocalRoleName), so the name is fixed.
            RoleName=names.LAUNCH_ROLE.format(tier=tier.name),
            Description=f"Service Catalog launches products of tier {tier.name} with this role",
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.SERVICE_CATALOG),
            Policies=[
                policies.inline(
                    "launch-products",
                    policies.launch_role_policy(
                        tier.name,
                        passable=passable,
                        product_statements=[s for c in contributions for s in c.launch_statements],
                    ),
                )
            ],
            ManagedPolicyArns=managed,
            Tags=tags(**{names.TIER_TAG: tier.name}),
        )
    )
    t.add_output(Output(f"{tid}LaunchRoleName", Value=Ref(launch)))
    return GetAtt(launch, "Arn")


def add_tier(
    t: Template,
    lake: DataLake,
    tier: Tier,
    platform: PlatformContext,
    configured: Sequence[Product],
    account_policies: Sequence[Ref],
) -> None:
    """A tier's notebook role, what each configured product adds, and the tier's launch role."""
    context = add_notebook_role(t, tier, lake, platform)
    contributions = [product.add_to_tier(t, context) for product in configured]
    add_data_role(t, context, contributions)
    launch_arn = add_launch_role(t, tier, contributions, account_policies)
    end_users.add_end_user_policy(t, tier, contributions)
    parameters = [
        _tier_parameter(
            tier, "NotebookRoleArn", names.NOTEBOOK_ROLE_ARN_PARAMETER, context.notebook_role_arn
        ),
        _tier_parameter(tier, "LaunchRoleArn", names.LAUNCH_ROLE_ARN_PARAMETER, launch_arn),
    ]
    for value in parameters + [p for c in contributions for p in c.parameters]:
        add_parameter(t, value)
