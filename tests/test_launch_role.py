"""Each tier's launch role holds what CloudFormation's resource handlers call, on its own tier's
resources, and no other tier's.

Sufficiency: for every resource of every product template (built from the code, rendered for a
tier), the CloudFormation registry schema's `handlers.{create,read,update,delete}.permissions`
(cfn-lint ships the schemas) become requests of the tier's launch role (its inline and managed
policies as the built platform templates define them), on the resource's ARN built from the
tier's names and the resource's properties, with the context keys the service sends (tags,
iam:PassedToService, kms:ViaService...); an action with no resource type names `*`. The IAM
evaluator (tests/support/iam_evaluator.py, one process for all of a test's requests) must allow
each one, and every SSM parameter the templates resolve must be readable. The permissions a
handler lists but never calls on our path are in EXCEPTIONS, each with its reason; a new resource
type fails until tests/support/launch_check.py knows how to name it (SUBJECTS).

Scoping: the same requests, made by tier A's launch role on tier B's resources, are refused for
every action scoped by tier (SCOPED_ACTIONS: listener rules, load balancing, security groups, DNS
records, EFS, task definitions), and for Service Catalog's stacks.

What this does not prove: that a handler calls nothing beyond its schema's list (the registry is
the source), nor which of the listed permissions a handler calls on a given path (hence the
exceptions, reviewed by hand), nor AWS-side behaviour.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import pytest

from generator.cfn import names
from generator.engine.registry import load_portfolio
from generator.model.config import ExistingListener
from tests.support import launch_check
from tests.support.cfn_values import ACCOUNT, REGION, STACK_NAME, fake_id
from tests.support.hub_services import EXAMPLE
from tests.support.iam_evaluator import Request, decide
from tests.support.launch_check import Platform, Rendered, arn

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
# (resource type, action) -> why the launch role need not hold it. ("*" for the action: the whole
# type.) Reviewed by hand: each reason says which property we leave unset or who else acts.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("AWS::ECS::Cluster", "iam:CreateServiceLinkedRole"): (
        "the launch role never changes IAM (NeverChangeIam); ECS's service-linked role exists "
        "once ECS has been used in the account"
    ),
    ("AWS::ECS::Cluster", "kms:DescribeKey"): (
        "only for a managed-storage or execute-command key; the cluster sets neither"
    ),
    ("AWS::ECS::Cluster", "ecs:PutAccountSetting"): (
        "account settings are not cluster properties: the cluster's settings go through "
        "UpdateClusterSettings"
    ),
    ("AWS::ECS::Cluster", "ecs:PutAccountSettingDefault"): (
        "account settings are not cluster properties: the cluster's settings go through "
        "UpdateClusterSettings"
    ),
    ("AWS::ECS::Service", "iam:PassRole"): (
        "only for the service's `Role` (classic load balancers); the service leaves it unset and "
        "ECS uses its service-linked role"
    ),
    ("AWS::EFS::FileSystem", "iam:CreateServiceLinkedRole"): (
        "the launch role never changes IAM (NeverChangeIam); EFS's service-linked role exists "
        "once EFS has been used in the account (the platform's homes file systems)"
    ),
    ("AWS::EFS::FileSystem", "iam:PassRole"): (
        "for replication to another file system; the file system sets no ReplicationConfiguration"
    ),
    ("AWS::EFS::FileSystem", "elasticfilesystem:CreateReplicationConfiguration"): (
        "the file system sets no ReplicationConfiguration"
    ),
    ("AWS::EFS::FileSystem", "elasticfilesystem:DeleteReplicationConfiguration"): (
        "the file system sets no ReplicationConfiguration"
    ),
    ("AWS::EC2::Instance", "ssm:CreateAssociation"): (
        "only for the instance's SsmAssociations; the instance sets none"
    ),
    ("AWS::EC2::Instance", "ssm:DeleteAssociation"): (
        "only for the instance's SsmAssociations; the instance sets none"
    ),
    ("AWS::EC2::Instance", "ec2:AssociateIamInstanceProfile"): (
        "only when the instance profile changes on a running instance; the profile is the "
        "tier's, fixed at launch (RunInstances names it, ec2:InstanceProfile)"
    ),
    ("AWS::EC2::Instance", "ec2:DisassociateIamInstanceProfile"): (
        "only when the instance profile changes on a running instance; it never does"
    ),
    ("AWS::EC2::Instance", "ec2:ReplaceIamInstanceProfileAssociation"): (
        "only when the instance profile changes on a running instance; it never does"
    ),
    ("AWS::EC2::Instance", "ec2:AttachVolume"): (
        "only for the instance's `Volumes`; the data volume attaches through its "
        "VolumeAttachment, checked there"
    ),
    ("AWS::EC2::Instance", "ec2:DetachVolume"): (
        "only for the instance's `Volumes`; the data volume detaches through its "
        "VolumeAttachment, checked there"
    ),
    ("AWS::EC2::Instance", "ec2:ModifyInstancePlacement"): (
        "only for Tenancy, Affinity or HostId, which the instance does not set"
    ),
    ("AWS::EC2::Instance", "ec2:ModifyInstanceCreditSpecification"): (
        "only for CreditSpecification (burstable types), which the instance does not set"
    ),
    ("AWS::EC2::Instance", "ec2:ModifyPrivateDnsNameOptions"): (
        "only for PrivateDnsNameOptions, which the instance does not set"
    ),
    ("AWS::EC2::Instance", "ec2:ModifyInstanceMaintenanceOptions"): (
        "only for MaintenanceOptions, which the instance does not set"
    ),
    ("AWS::EC2::Instance", "ec2:ModifyInstanceMetadataOptions"): (
        "only when MetadataOptions change; they are the same in every version (IMDSv2 required)"
    ),
    ("AWS::EC2::Volume", "ec2:ModifyVolumeAttribute"): (
        "only for AutoEnableIO, which the volume does not set"
    ),
    ("AWS::ServiceDiscovery::PrivateDnsNamespace", "route53:ChangeResourceRecordSets"): (
        "only for the namespace's SOA record (Properties.DNSProperties), which is not set; "
        "Cloud Map writes the service's records itself"
    ),
    ("AWS::EC2::Volume", "ec2:CopyVolumes"): ("only for a copy of a volume; the volume is new"),
    ("AWS::EC2::Volume", "kms:CreateGrant"): (
        "the volume is encrypted with EBS's AWS managed key, whose key policy lets EC2 use it "
        "for the account's principals (no KmsKeyId)"
    ),
    ("AWS::EC2::Volume", "kms:GenerateDataKeyWithoutPlaintext"): (
        "the volume is encrypted with EBS's AWS managed key (no KmsKeyId)"
    ),
    ("AWS::EC2::Volume", "kms:ReEncryptFrom"): (
        "the volume is encrypted with EBS's AWS managed key (no KmsKeyId)"
    ),
    ("AWS::EC2::Volume", "kms:ReEncryptTo"): (
        "the volume is encrypted with EBS's AWS managed key (no KmsKeyId)"
    ),
    ("AWS::ElasticLoadBalancingV2::Listener", "cognito-idp:DescribeUserPoolClient"): (
        "only for an authenticate-cognito action; the listeners redirect or answer 404"
    ),
    ("AWS::ElasticLoadBalancingV2::ListenerRule", "cognito-idp:DescribeUserPoolClient"): (
        "only for an authenticate-cognito action; the rule forwards"
    ),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "ec2:DescribeIpamPools"): (
        "only for IPAM pools (Ipv4IpamPoolId); the load balancer sets none"
    ),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "elasticloadbalancing:ModifyIpPools"): (
        "only for IPAM pools; the load balancer sets none"
    ),
    (LOAD_BALANCER, "elasticloadbalancing:ModifyCapacityReservation"): (
        "only for MinimumLoadBalancerCapacity, which the load balancer does not set"
    ),
    (LOAD_BALANCER, "elasticloadbalancing:DescribeCapacityReservation"): (
        "only for MinimumLoadBalancerCapacity, which the load balancer does not set"
    ),
    ("AWS::Logs::LogGroup", "firehose:TagDeliveryStream"): (
        "only for a log group delivering to Firehose; ours deliver nowhere"
    ),
    ("AWS::Logs::LogGroup", "logs:CreateLogDelivery"): (
        "only for vended-log deliveries; the log groups set none"
    ),
    ("AWS::Logs::LogGroup", "s3:REST.PUT.OBJECT"): (
        "not an IAM action (an S3 access-log operation name in the schema)"
    ),
    ("AWS::Logs::LogGroup", "logs:PutDataProtectionPolicy"): (
        "only for DataProtectionPolicy, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:DeleteDataProtectionPolicy"): (
        "only for DataProtectionPolicy, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:GetDataProtectionPolicy"): (
        "only for DataProtectionPolicy, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:PutIndexPolicy"): (
        "only for FieldIndexPolicies, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:DeleteIndexPolicy"): (
        "only for FieldIndexPolicies, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:DescribeIndexPolicies"): (
        "only for FieldIndexPolicies, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:PutResourcePolicy"): (
        "only for ResourcePolicyDocument, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:DeleteResourcePolicy"): (
        "only for ResourcePolicyDocument, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:DescribeResourcePolicies"): (
        "only for ResourcePolicyDocument, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:PutBearerTokenAuthentication"): (
        "only for BearerTokenAuthenticationEnabled, which the log groups do not set"
    ),
    ("AWS::Logs::LogGroup", "logs:PutLogGroupDeletionProtection"): (
        "only for DeletionProtectionEnabled, which the log groups do not set"
    ),
    ("AWS::SecretsManager::Secret", "secretsmanager:ReplicateSecretToRegions"): (
        "only for ReplicaRegions, which the secret does not set"
    ),
    ("AWS::SecretsManager::Secret", "secretsmanager:RemoveRegionsFromReplication"): (
        "only for ReplicaRegions, which the secret does not set"
    ),
    ("AWS::SecretsManager::Secret", "secretsmanager:GetSecretValue"): (
        "the launch role never reads a secret's value: CloudFormation reads back only metadata "
        "(DescribeSecret), and the generated value is set once, at creation"
    ),
}

# Actions whose resource types the evaluator's data lacks (it knows Elastic Load Balancing's
# tagging actions only on classic load balancers): judged without its resource-type check.
EVALUATOR_DATA_GAPS = frozenset({"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"})

# The parameter values each template is rendered with, besides its defaults: every variant
# whose parameters a template has is checked (a resource under a false condition is skipped).
VARIANTS: tuple[dict[str, str], ...] = (
    {},
    {"AuthMode": "ldap", "LdapBindPasswordSecretArn": "x"},
    {"DataVolumeSnapshotId": "snap-0123456789abcdef0"},
    {"FargateSpot": "true"},
)


def _skip(kind: str, action: str) -> bool:
    return (kind, action) in EXCEPTIONS


@functools.cache
def platform() -> Platform:
    return Platform(load_portfolio(EXAMPLE))


@functools.cache
def products() -> dict[str, dict]:
    """Each product template of the example (hubs on the account's load balancer), and each
    tier's shared hub again with the tier's hubs on an existing listener of its own (its settings
    name it: a rule on that listener) and with a load balancer per hub."""
    example = load_portfolio(EXAMPLE)
    found = launch_check.product_templates(example)
    variants = {
        "existing listener": with_existing_listeners(example),
        "a load balancer per hub": with_load_balancers_per_hub(example),
    }
    for variant, portfolio in variants.items():
        for path, body in launch_check.product_templates(portfolio).items():
            if path.startswith("shared-hub/"):
                found[f"{path} ({variant})"] = body
    return found


def with_load_balancers_per_hub(portfolio):
    """`portfolio` whose hubs each make a load balancer of their own."""
    network = portfolio.platform.network
    settings = network.load_balancer.model_copy(update={"per_hub": True})
    own = network.model_copy(update={"load_balancer": settings})
    platform = portfolio.platform.model_copy(update={"network": own})
    return portfolio.model_copy(update={"platform": platform})


def with_existing_listeners(portfolio):
    """`portfolio` whose every tier's network names an existing listener of that tier's."""
    tiers = []
    for tier in portfolio.tiers:
        network = portfolio.network(tier)
        listener = ExistingListener(
            arn=own_listener(tier.name),
            security_group=fake_id("sg-", tier.name),
            dns_name=f"{tier.name}-hubs.{REGION}.elb.amazonaws.com",
            hosted_zone_id="Z35SXDOTRQ7X7K",
        )
        settings = network.load_balancer.model_copy(update={"existing_listener": listener})
        own = network.model_copy(update={"load_balancer": settings})
        tiers.append(tier.model_copy(update={"network": own}))
    return portfolio.model_copy(update={"tiers": tiers})


TIERS = tuple(t.name for t in load_portfolio(EXAMPLE).tiers)


def own_listener(tier: str) -> str:
    """A listener of another stack of `tier`'s (the `existing` load balancer), tagged as the
    tier's resources are."""
    return arn(
        "elasticloadbalancing",
        f"listener/app/{tier}-hubs/{fake_id('', tier, 16)}/{fake_id('', tier + 'l', 16)}",
    )


def typed_value(name: str, declared: dict, tier: str):
    """A value for a parameter without a default, as the person launching would type it."""
    kind = declared.get("Type", "String")
    if kind == "AWS::EC2::VPC::Id":
        return fake_id("vpc-", name)
    if kind == "AWS::EC2::Subnet::Id":
        return fake_id("subnet-", name)
    if kind == "List<AWS::EC2::Subnet::Id>":
        return [fake_id("subnet-", name + "a"), fake_id("subnet-", name + "b")]
    if kind == "AWS::Route53::HostedZone::Id":
        return fake_id("Z", name, 12).upper()
    if name.endswith("DomainName"):
        return f"hub.{tier}.example.com"
    return name.lower()


def bound_to_another_tier(path: str, tier: str) -> bool:
    """A template built for one tier only (`<product>/<tier>.template.json`) of another tier."""
    bound = path.rsplit("/", 1)[-1].split(".", 1)[0]
    return bound in TIERS and bound != tier


@functools.cache
def renderings(tier: str) -> tuple[tuple[str, Rendered], ...]:
    found = []
    for path, template in sorted(products().items()):
        if bound_to_another_tier(path, tier):
            continue
        declared = template.get("Parameters", {})
        for variant in VARIANTS:
            if not set(variant) <= set(declared):
                continue
            parameters = {
                name: typed_value(name, spec, tier)
                for name, spec in declared.items()
                if "Default" not in spec and name != "Tier"
            }
            parameters.update(variant)
            rendered = Rendered(platform(), tier, template, parameters)
            rendered.external_tags[own_listener(tier)] = {names.TIER_TAG: tier}
            found.append((f"{path} {variant or 'defaults'}", rendered))
    return tuple(found)


@functools.cache
def tier_calls(principal_tier: str, resource_tier: str) -> list[launch_check.Call]:
    """Every handler permission of every template rendered for `resource_tier`, as requests of
    `principal_tier`'s launch role."""
    principal, context = platform().launch_principal(principal_tier)
    policies = platform().launch_policies(principal_tier)
    found = []
    for _, rendered in renderings(resource_tier):
        found += launch_check.calls(
            rendered, principal, context, policies, _skip, EVALUATOR_DATA_GAPS
        )
    return found


def key(request: Request) -> str:
    return json.dumps(
        [
            request.principal,
            request.action,
            request.resource,
            request.context,
            request.resource_policy,
        ],
        sort_keys=True,
    )


def decided(requests: list[Request]) -> dict[str, str]:
    """The evaluator's decision for each distinct request (one evaluator process for all)."""
    distinct = {key(r): r for r in requests}
    return dict(zip(distinct, decide(list(distinct.values())), strict=True))


@pytest.mark.parametrize("tier", TIERS)
def test_the_launch_role_allows_every_handler_permission_on_its_tier(tier):
    found = tier_calls(tier, tier)
    unresolved = sorted(
        {f"{c.resource_type} {c.action}: {c.unresolved}" for c in found if c.unresolved}
    )
    assert not unresolved, "\n".join(unresolved)
    decisions = decided([r for c in found for r in c.requests])
    refused = sorted(
        {
            f"{c.resource_type} ({c.logical}) {c.handler}: {r.action} on {r.resource} "
            f"-> {decisions[key(r)]}"
            for c in found
            for r in c.requests
            if decisions[key(r)] != "Allowed"
        }
    )
    assert not refused, "\n".join(refused)
    requests = [r for c in found for r in c.requests]
    # Both kinds of request were made: on ARNs and on `*`.
    assert {r.resource == "*" for r in requests} == {True, False}


def test_every_exception_names_a_permission_of_a_template_resource():
    listed = set()
    for template in products().values():
        for resource in template["Resources"].values():
            permissions = launch_check.handler_permissions(resource["Type"]) or {}
            listed |= {(resource["Type"], a) for actions in permissions.values() for a in actions}
    stale = sorted(set(EXCEPTIONS) - listed)
    assert not stale, f"exceptions for no permission any template's handler lists: {stale}"


def test_the_launch_role_reads_every_parameter_the_templates_resolve():
    """CloudFormation resolves `{{resolve:ssm:...}}` with the launch role's rights."""
    for tier in TIERS:
        principal, context = platform().launch_principal(tier)
        policies = platform().launch_policies(tier)
        read = set()
        for _, rendered in renderings(tier):
            for logical in rendered.resources:
                if rendered.values.active(logical):
                    rendered.props(logical)
            read |= rendered.ssm_read
        public = {n for n in read if n.startswith("/aws/service/")}
        assert public and read - public  # both kinds are resolved
        requests = [
            Request(
                principal,
                "ssm:GetParameters",
                arn("ssm", f"parameter{name}", account="" if name in public else ACCOUNT),
                context,
                policies,
                # AWS's own parameters' ARNs name no account, which the evaluator's data
                # requires: judged without its resource-type check.
                unsafe=name in public,
            )
            for name in sorted(read)
        ]
        decisions = decide(requests)
        refused = [r.resource for r, d in zip(requests, decisions, strict=True) if d != "Allowed"]
        assert not refused, refused


@pytest.mark.parametrize(
    "tier,statement",
    [
        ("pii", "SharedHubClusters"),  # the tier's inline policy
        ("pii", "ManageTheTiersLoadBalancing"),  # an account-wide managed policy
        ("nonpii", "PersonalHubLaunchInstances"),  # a product's per-tier managed policy
        ("nonpii", "ReadThisTiersPassableRoles"),
    ],
)
def test_the_check_fails_when_a_needed_statement_is_removed(tier, statement):
    policies = platform().launch_policies(tier)
    removed = [s for d in policies for s in d["Statement"] if s.get("Sid") == statement]
    assert removed
    without = tuple(
        {**d, "Statement": [s for s in d["Statement"] if s.get("Sid") != statement]}
        for d in policies
    )
    # Only requests for the removed statement's actions can change.
    actions = {a for s in removed for a in s["Action"]}
    found = [
        replace(r, identity_policies=without)
        for c in tier_calls(tier, tier)
        for r in c.requests
        if r.action in actions
    ]
    decisions = decided(found)
    assert set(decisions.values()) - {"Allowed"}, f"nothing needs {statement}"


# --- scoping: one tier's launch role on another tier's resources ---

# What is scoped per tier, by the action CloudFormation's handlers call.
SCOPED_ACTIONS = {
    "listener rules": {"elasticloadbalancing:CreateRule"},
    "load balancing": {
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:DeleteLoadBalancer",
    },
    "security groups": {
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
    },
    "DNS records": {"route53:ChangeResourceRecordSets"},
    "EFS": {
        "elasticfilesystem:CreateFileSystem",
        "elasticfilesystem:DeleteFileSystem",
        "elasticfilesystem:UpdateFileSystem",
        "elasticfilesystem:PutFileSystemPolicy",
        "elasticfilesystem:CreateMountTarget",
        "elasticfilesystem:CreateAccessPoint",
        "elasticfilesystem:DeleteAccessPoint",
    },
    "task definitions": {"ecs:RegisterTaskDefinition"},
    "route functions": {"lambda:InvokeFunction"},
}


def other_tier_pairs() -> list[tuple[str, str]]:
    return [(a, b) for a in TIERS for b in TIERS if a != b]


@pytest.mark.parametrize("tier,other", other_tier_pairs())
def test_a_tiers_launch_role_is_refused_on_another_tiers_resources(tier, other):
    found = [
        c
        for c in tier_calls(tier, other)
        if any(c.action in actions for actions in SCOPED_ACTIONS.values())
    ]
    decisions = decided([r for c in found for r in c.requests])
    # A call goes through only if every resource it names is allowed.
    let_through = sorted(
        {
            f"{c.resource_type} ({c.logical}) {c.handler}: {c.action}"
            for c in found
            if all(decisions[key(r)] == "Allowed" for r in c.requests)
        }
    )
    assert not let_through, "\n".join(let_through)
    checked = {c.action for c in found}
    missing = {what: a - checked for what, a in SCOPED_ACTIONS.items() if a - checked}
    assert not missing, f"no handler of the templates calls these: {missing}"


def stack_arn(tier: str) -> str:
    return arn("cloudformation", f"stack/{STACK_NAME}-{tier}/{fake_id('', tier, 8)}")


@pytest.mark.parametrize("tier,other", other_tier_pairs())
def test_a_tiers_launch_role_runs_only_its_tiers_stacks(tier, other):
    """Service Catalog's stacks (`SC-*`) carry the tier's TagOption: create, update and delete
    only with the launch role's own tier."""
    principal, context = platform().launch_principal(tier)
    policies = platform().launch_policies(tier)
    requests = {}
    for owner in (tier, other):
        for action in (
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:ExecuteChangeSet",
        ):
            requests[(owner, action)] = Request(
                principal,
                action,
                stack_arn(owner),
                {**context, f"aws:ResourceTag/{names.TIER_TAG}": owner},
                policies,
            )
        requests[(owner, "cloudformation:CreateStack")] = Request(
            principal,
            "cloudformation:CreateStack",
            stack_arn(owner),
            {
                **context,
                f"aws:RequestTag/{names.TIER_TAG}": owner,
                "aws:TagKeys": [names.TIER_TAG],
            },
            policies,
        )
    decisions = dict(zip(requests, decide(list(requests.values())), strict=True))
    assert decisions == {
        (owner, action): "Allowed" if owner == tier else "ImplicitlyDenied"
        for owner, action in requests
    }
