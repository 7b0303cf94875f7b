"""Each tier's end-user policy: what the people of its portfolio may do, and nothing more.

One managed policy per tier (`labcatalog-<tier>-end-user`), attached to the tier's principals
from portfolio.yaml that name a role, user or group of this account by name (`role/NAME`,
`user/NAME`, `group/NAME`). A principal given as a full ARN is left alone: it may be in another
account, or managed by IAM Identity Center, whose permission sets take a customer-managed policy
by name (README, "Launching from the console").

It grants Service Catalog's end-user actions as AWS's `AWSServiceCatalogEndUserFullAccess` does,
but scoped: browsing and launching the tier's products (a product labcatalog tags with another
tier is refused; which products a user sees at all is Service Catalog's portfolio access), and
the provisioned-product actions on the user's own provisioned products only
(`servicecatalog:userLevel`). No CloudFormation writes: the tier's launch role runs the stacks.
Each product adds what its users need besides (`TierContribution.end_user_statements`), e.g. the
personal hub's port forwarding and self-service actions.
"""

from __future__ import annotations

from collections.abc import Sequence

import awacs.cloudformation as cloudformation
import awacs.servicecatalog as servicecatalog
from awacs.aws import (
    Allow,
    Condition,
    PolicyDocument,
    Statement,
    StringEquals,
    StringEqualsIfExists,
)
from troposphere import Template
from troposphere.iam import ManagedPolicy

from generator.cfn import names, policies
from generator.cfn.product import TierContribution
from generator.model.config import Tier

STACK_PREFIX = "SC-"  # Service Catalog names provisioned products' stacks SC-<account>-pp-<id>
# Principals as portfolio.yaml writes them -> the ManagedPolicy property that attaches by name.
ATTACH_BY_KIND = {"role": "Roles", "user": "Users", "group": "Groups"}


def attachments(principals: Sequence[str]) -> dict[str, list[str]]:
    """The ManagedPolicy properties attaching to `principals` named in this account
    (`role/NAME`, `role/path/NAME`); full ARNs are not attached."""
    found: dict[str, list[str]] = {}
    for principal in principals:
        if principal.startswith("arn:"):
            continue
        kind, _, rest = principal.partition("/")
        found.setdefault(ATTACH_BY_KIND[kind], []).append(rest.rsplit("/", 1)[-1])
    return {key: sorted(value) for key, value in sorted(found.items())}


def catalog_statements(tier: str) -> list[Statement]:
    """Service Catalog's end-user actions on the tier's products and one's own launches."""
    return [
        Statement(
            Sid="BrowseTheCatalog",
            Effect=Allow,
            # No resource-level permissions: Service Catalog shows only the products of the
            # portfolios the caller is a principal of.
            Action=[servicecatalog.SearchProducts, servicecatalog.DescribeProductView],
            Resource=["*"],
        ),
        Statement(
            Sid="LaunchTheTiersProducts",
            Effect=Allow,
            Action=[
                servicecatalog.DescribeProduct,
                servicecatalog.DescribeProvisioningParameters,
                servicecatalog.ListLaunchPaths,
                servicecatalog.ProvisionProduct,
            ],
            Resource=[policies.regional_arn("catalog", "product/*")],
            # A product tagged with another tier is refused here too, not only by the portfolio.
            Condition=Condition(StringEqualsIfExists(f"aws:ResourceTag/{names.TIER_TAG}", tier)),
        ),
        Statement(
            Sid="ManageOwnProvisionedProducts",
            Effect=Allow,
            # Provisioned products have no ARN in IAM; userLevel keeps these to one's own.
            Action=[
                servicecatalog.DescribeProvisionedProduct,
                servicecatalog.DescribeRecord,
                servicecatalog.ListRecordHistory,
                servicecatalog.ScanProvisionedProducts,
                servicecatalog.SearchProvisionedProducts,
                servicecatalog.UpdateProvisionedProduct,
                servicecatalog.TerminateProvisionedProduct,
                servicecatalog.CreateProvisionedProductPlan,
                servicecatalog.DescribeProvisionedProductPlan,
                servicecatalog.ExecuteProvisionedProductPlan,
                servicecatalog.DeleteProvisionedProductPlan,
                servicecatalog.ListProvisionedProductPlans,
            ],
            Resource=["*"],
            Condition=Condition(StringEquals("servicecatalog:userLevel", "self")),
        ),
        Statement(
            Sid="ReadCatalogStacks",
            Effect=Allow,
            # What the console shows of a launch's progress and failures; read only.
            Action=[cloudformation.DescribeStacks, cloudformation.DescribeStackEvents],
            Resource=[policies.regional_arn("cloudformation", f"stack/{STACK_PREFIX}*/*")],
        ),
    ]


def end_user_policy(tier: str, contributions: Sequence[TierContribution]) -> PolicyDocument:
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            *catalog_statements(tier),
            *(s for c in contributions for s in c.end_user_statements),
        ],
    )


def add_end_user_policy(
    t: Template, tier: Tier, contributions: Sequence[TierContribution]
) -> ManagedPolicy:
    """The tier's end-user managed policy, attached to its principals of this account."""
    return t.add_resource(
        ManagedPolicy(
            f"{tier.logical_id}EndUserPolicy",
            ManagedPolicyName=names.END_USER_POLICY.format(tier=tier.name),
            Description=f"labcatalog: what the users of tier {tier.name}'s portfolio may do",
            PolicyDocument=end_user_policy(tier.name, contributions),
            **attachments(tier.principals),
        )
    )
