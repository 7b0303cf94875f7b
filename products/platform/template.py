"""The account-wide `platform` stack: notebook storage, tier roles, launch roles, hub images.

Launched once per account by the platform team (it is not a catalog product). Products find
what it creates through SSM parameters under `/labcatalog/` (`generator.cfn.names`).

The parts: `storage.py` (buckets), `audit.py` (the audited tiers' trail), `keys.py` (KMS keys),
`images.py` (the hub image's repository and build), `tier_roles.py` (each tier's data, notebook
and launch roles), `homes.py` (each tier's file system of users' homes, and their backups),
`tier_stack.py` (each tier's template, nested in this one, so 200 tiers fit CloudFormation's
limits); each product adds its own part
through its `PRODUCT` (`add_to_platform`, `add_to_tier`), which this builder is handed: it never
names a product.
"""

from __future__ import annotations

from collections.abc import Sequence

from troposphere import Output, Template

from generator.cfn import names
from generator.cfn.product import (
    PlatformContext,
    PlatformTemplates,
    Product,
    SsmValue,
    TierTemplateUrl,
)
from generator.model.config import Portfolio
from products.platform import audit, homes, images, keys, storage, tier_roles, tier_stack

DESCRIPTION = (
    "labcatalog platform: notebook bucket, data tier roles, Service Catalog launch roles, "
    "users' home file systems and their backups, and the hub image repository. Generated from "
    "portfolio.yaml; do not edit."
)


def _published(output: str, name: str, value) -> SsmValue:
    """An account-wide value, as an SSM parameter and an output of the same logical name."""
    return SsmValue(
        f"{output}Parameter",
        name,
        value,
        f"labcatalog platform: {name.rsplit('/', 1)[1].replace('-', ' ')}",
    )


def build(
    portfolio: Portfolio, products: Sequence[Product], tier_template_url: TierTemplateUrl
) -> PlatformTemplates:
    """The platform's templates for a validated portfolio and the registered products: the root
    and each tier's, which the root runs from `tier_template_url(tier name)`; pure."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    notebook_key_arn = keys.add_notebook_key(t)
    audit_logs = audit.add_audit_trail(t, portfolio.data_lake, portfolio.tiers)
    buckets = storage.add_storage(
        t, portfolio.notebooks.noncurrent_version_days, notebook_key_arn, audit_logs
    )
    hub_key_arn = keys.add_hub_key(t)
    hub_images = images.add_hub_images(t, hub_key_arn, source_bucket=buckets.template_bucket)
    published = {
        "NotebookBucketName": (names.NOTEBOOK_BUCKET_PARAMETER, buckets.notebook_bucket),
        "NotebookKeyArn": (names.NOTEBOOK_KEY_ARN_PARAMETER, notebook_key_arn),
        "HubRepositoryUri": (names.HUB_REPOSITORY_URI_PARAMETER, hub_images.repository_uri),
        "HubKeyArn": (names.HUB_KEY_ARN_PARAMETER, hub_key_arn),
        "LoadBalancerLogBucketName": (
            names.LOAD_BALANCER_LOG_BUCKET_PARAMETER,
            buckets.load_balancer_logs,
        ),
    }
    for output, (name, value) in published.items():
        tier_roles.add_parameter(t, _published(output, name, value))
        t.add_output(Output(output, Value=value))
    platform = PlatformContext(
        notebook_bucket=buckets.notebook_bucket,
        notebook_key_arn=notebook_key_arn,
        hub_key_arn=hub_key_arn,
        repository_arn=hub_images.repository_arn,
        load_balancer_logs=buckets.load_balancer_logs,
        portfolio=portfolio,
    )
    configured = [product for product in products if product.configured(portfolio)]
    contributions = [product.add_to_platform(t, platform) for product in configured]
    launch_policies = sorted(
        (p for c in contributions for p in c.launch_policies), key=lambda p: p.name
    )
    for policy in launch_policies:
        tier_roles.add_launch_policy(t, policy)
    launch_policy_ids = [policy.logical_id for policy in launch_policies]
    for value in (p for c in contributions for p in c.parameters):
        tier_roles.add_parameter(t, value)
    homes.add_backups(t, notebook_key_arn)
    homes.add_root_network_parameters(t)
    tier_refs = [ref for c in contributions for ref in c.tier_refs]
    # The root's nested stacks first: a portfolio too large for the root fails before any
    # tier's template is made.
    for tier in portfolio.tiers:
        tier_stack.add_tier_stack(
            t, tier, tier_template_url(tier.name), platform, launch_policy_ids, tier_refs
        )
    tiers = tuple(
        (
            tier.name,
            tier_stack.tier_template(
                portfolio.data_lake,
                tier,
                configured,
                launch_policy_ids,
                tier_refs,
                portfolio=portfolio,
            ),
        )
        for tier in portfolio.tiers
    )
    return PlatformTemplates(t, tiers)
