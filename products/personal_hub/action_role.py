"""Each tier's action role: what the personal hub's self-service actions run as.

Service Catalog hands it to the action's SSM Automation document as `AutomationAssumeRole`, and
Systems Manager assumes it for every step (`automation.py`). Only Systems Manager may assume it,
and only for an automation of this account (`aws:SourceAccount`, `aws:SourceArn`).

What it may do, besides reading instance metadata (EC2's Describe calls take no resource):
- start and stop the instances tagged as this tier's personal hubs, nothing else of EC2;
- update provisioned products (the resize), with Service Catalog's account-level access because
  a hub's provisioned product was launched by its user, not by this role. Service Catalog's
  provisioned-product actions take no resource ARN, so IAM cannot scope them to a tier: what
  keeps the resize to the tier is its first step, stopping the instance it was given, which this
  role may do only on its own tier's hubs, and that it reads the product from that instance's
  tags (`resize.py`). The update itself runs with the product's launch role (its launch
  constraint), which stays in the tier.
These are the rights AWS's service-action tutorial gives for starting and stopping instances,
plus the Service Catalog calls of the resize; AWS's CloudFormation rights for service actions
(listing a provisioned product's stack resources to find the TARGET) are the end user's, as
Service Catalog resolves the target with the caller's rights (`end_users.py`).
"""

from __future__ import annotations

import awacs.ec2 as ec2
import awacs.servicecatalog as servicecatalog
import awacs.sts as sts
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Output, Sub, Template
from troposphere.iam import Role

from generator.cfn import policies
from generator.cfn.product import TierContext
from generator.cfn.tags import stack_tags
from products.personal_hub import names

SSM = "ssm.amazonaws.com"


def action_trust_policy() -> PolicyDocument:
    """Systems Manager, running an automation of this account, and nobody else."""
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", [SSM]),
                Action=[sts.AssumeRole],
                Condition=Condition(
                    [
                        StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
                        ArnLike(
                            "aws:SourceArn",
                            Sub(
                                "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:"
                                "automation-execution/*"
                            ),
                        ),
                    ]
                ),
            )
        ],
    )


def action_policy(tier: str) -> PolicyDocument:
    """What the tier's self-service actions may do (see the module's docstring)."""
    this_tiers_hubs = Condition(
        StringEquals(
            {
                f"aws:ResourceTag/{names.TIER_TAG}": tier,
                f"aws:ResourceTag/{names.PRODUCT_TAG}": names.PRODUCT,
            }
        )
    )
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="StartAndStopThisTiersHubs",
                Effect=Allow,
                Action=[ec2.StartInstances, ec2.StopInstances],
                Resource=[policies.regional_arn("ec2", "instance/*")],
                Condition=this_tiers_hubs,
            ),
            Statement(
                Sid="ReadInstances",
                Effect=Allow,
                # EC2's Describe actions support no resource-level permissions.
                Action=[ec2.DescribeInstances, ec2.DescribeInstanceStatus, ec2.DescribeTags],
                Resource=["*"],
            ),
            Statement(
                Sid="UpdateProvisionedProducts",
                Effect=Allow,
                # No resource ARNs for these: the tier's scope comes from the resize's first
                # step (stopping the instance), see the module's docstring.
                Action=[
                    servicecatalog.DescribeProvisionedProduct,
                    servicecatalog.DescribeRecord,
                    servicecatalog.UpdateProvisionedProduct,
                ],
                Resource=["*"],
                Condition=Condition(StringEquals("servicecatalog:accountLevel", "self")),
            ),
            Statement(
                Sid="ReadProductVersions",
                Effect=Allow,
                Action=[servicecatalog.DescribeProvisioningArtifact],
                Resource=[policies.regional_arn("catalog", "product/*")],
            ),
        ],
    )


def add_action_role(t: Template, tier: TierContext) -> GetAtt:
    """The tier's action role; returns its ARN."""
    role = t.add_resource(
        Role(
            f"{tier.logical_id}PersonalHubActionRole",
            # The publisher names it in the tier's service actions.
            RoleName=names.ACTION_ROLE.format(tier=tier.name),
            Description=f"Self-service actions on tier {tier.name}'s personal hubs (SSM runs them)",
            AssumeRolePolicyDocument=action_trust_policy(),
            Policies=[policies.inline("personal-hub-actions", action_policy(tier.name))],
            Tags=stack_tags(
                "platform", **{names.PRODUCT_TAG: names.PRODUCT, names.TIER_TAG: tier.name}
            ),
        )
    )
    t.add_output(Output(f"{tier.logical_id}PersonalHubActionRoleArn", Value=GetAtt(role, "Arn")))
    return GetAtt(role, "Arn")
