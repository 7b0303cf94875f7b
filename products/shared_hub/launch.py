"""What a tier's Service Catalog launch role needs to create, update and delete a shared hub.

The statements that name a tier's own resources (clusters, services, task definitions, log
groups, secrets) join that tier's launch role policy. The rest are the same for every tier and
live once in the platform as managed policies attached to every tier's launch role: inline, they
would repeat per tier, which pushes the platform template past its 1 MB limit at a few dozen
tiers, and IAM caps a role's inline policies at 10,240 characters.

Every statement is limited to this account and region; where a service names resources we
choose, to this tier's names (`generator.cfn.names`); where it names them itself (load balancers,
listeners, target groups, file systems, security groups), to resources tagged with this tier
(`labcatalog:tier`, which the product tags them with, and which a create call must carry). The
shared policies read the tier from the launch role's own tag (`${aws:PrincipalTag/...}`), so one
policy serves every tier and still scopes each to its own. DNS records only under the tier's host
names (`names.TIER_HOST_NAMES`). `*` is used only for control-plane actions that AWS documents
without a resource type (listings, Describe calls, tagging in Cloud Map); none of them reads or
writes data. tests/test_launch_role.py proves the sufficiency and the scoping.
"""

from __future__ import annotations

import awacs.application_autoscaling as autoscaling
import awacs.awslambda as awslambda
import awacs.ec2 as ec2
import awacs.ecs as ecs
import awacs.elasticfilesystem as efs
import awacs.elasticloadbalancing as elb
import awacs.kms as kms
import awacs.logs as logs
import awacs.route53 as route53
import awacs.secretsmanager as secretsmanager
import awacs.servicediscovery as servicediscovery
from awacs.aws import (
    Allow,
    Bool,
    Condition,
    ForAllValuesStringLike,
    Null,
    Statement,
    StringEquals,
)
from troposphere import AWSHelperFn, Sub

from generator.cfn import names
from generator.cfn.policies import regional_arn, tier_secrets_arn
from products.shared_hub.stack import STACK

# The tier of the launch role using a shared policy: its own `labcatalog:tier` tag.
PRINCIPAL_TIER = "${aws:PrincipalTag/" + names.TIER_TAG + "}"
RESOURCE_TIER = f"aws:ResourceTag/{names.TIER_TAG}"
REQUEST_TIER = f"aws:RequestTag/{names.TIER_TAG}"


def _tiers_own() -> Condition:
    """The resource carries the launch role's tier."""
    return Condition(StringEquals(RESOURCE_TIER, PRINCIPAL_TIER))


def _created_for_the_tier(**extra: str) -> Condition:
    """The create call tags the new resource with the launch role's tier."""
    return Condition(StringEquals({REQUEST_TIER: PRINCIPAL_TIER, **extra}))


def _ecs(tier: str, kind: str, suffix: str = "") -> Sub:
    pattern = names.CLUSTER.format(tier=tier, stack=names.WILDCARD)
    return regional_arn("ecs", f"{kind}/{pattern}{suffix}")


def tier_launch_statements(tier: str) -> list[Statement]:
    """The statements that name `tier`'s own resources, for that tier's launch role policy."""
    task_families = _ecs(tier, "task-definition", ":*")
    log_groups = regional_arn("logs", "log-group:" + names.TIER_LOG_GROUPS.format(tier=tier) + "*")
    return [
        Statement(
            Sid="RouteThroughTheTiersFunction",
            Effect=Allow,
            # A hub on the account's load balancer gets its host rule from its tier's route
            # function (products/shared_hub/account_balancer.py), never another tier's.
            Action=[awslambda.InvokeFunction],
            Resource=[
                regional_arn("lambda", "function:" + names.HUB_ROUTE_FUNCTION.format(tier=tier))
            ],
        ),
        Statement(
            Sid="SharedHubClusters",
            Effect=Allow,
            Action=[
                ecs.CreateCluster,
                ecs.DeleteCluster,
                ecs.DescribeClusters,
                ecs.PutClusterCapacityProviders,
                ecs.UpdateCluster,
                ecs.UpdateClusterSettings,
                ecs.TagResource,
                ecs.UntagResource,
                ecs.ListTagsForResource,
            ],
            Resource=[_ecs(tier, "cluster")],
        ),
        Statement(
            Sid="SharedHubServices",
            Effect=Allow,
            Action=[
                ecs.CreateService,
                ecs.DeleteService,
                ecs.DescribeServices,
                ecs.UpdateService,
                ecs.ListServiceDeployments,
                ecs.DescribeServiceDeployments,
                ecs.StopServiceDeployment,
                ecs.TagResource,
                ecs.UntagResource,
                ecs.ListTagsForResource,
            ],
            Resource=[_ecs(tier, "service", "/*")],
        ),
        Statement(
            Sid="SharedHubServiceDeployments",
            Effect=Allow,
            Action=[ecs.DescribeServiceDeployments, ecs.StopServiceDeployment],
            Resource=[_ecs(tier, "service-deployment", "/*")],
        ),
        Statement(
            Sid="SharedHubTaskDefinitions",
            Effect=Allow,
            # Only families named for this tier (the hub's and its users' servers').
            Action=[
                ecs.RegisterTaskDefinition,
                ecs.TagResource,
                ecs.UntagResource,
                ecs.ListTagsForResource,
            ],
            Resource=[task_families],
        ),
        Statement(
            Sid="ThisTiersLogGroups",
            Effect=Allow,
            Action=[
                logs.CreateLogGroup,
                logs.DeleteLogGroup,
                logs.PutRetentionPolicy,
                logs.DeleteRetentionPolicy,
                logs.AssociateKmsKey,
                logs.DisassociateKmsKey,
                logs.TagResource,
                logs.UntagResource,
                logs.ListTagsForResource,
            ],
            Resource=[log_groups],
        ),
        Statement(
            Sid="ThisTiersHubSecrets",
            Effect=Allow,
            Action=[
                secretsmanager.CreateSecret,
                secretsmanager.DeleteSecret,
                secretsmanager.DescribeSecret,
                secretsmanager.UpdateSecret,
                secretsmanager.TagResource,
                secretsmanager.UntagResource,
            ],
            Resource=[tier_secrets_arn(tier)],
        ),
    ]


def shared_launch_policies(hub_key_arn: AWSHelperFn) -> dict[str, list[Statement]]:
    """What every tier's launch role needs alike, as managed policies shared by all tiers.

    Split so each stays under IAM's 6,144 characters for one managed policy.
    """
    return {
        "shared-hub-load-balancing": _load_balancing_statements(),
        "shared-hub-network": _network_statements(),
        "shared-hub-runtime": _runtime_statements(hub_key_arn),
        "shared-hub-discovery": _discovery_statements(),
    }


def _load_balancing_statements() -> list[Statement]:
    load_balancing = [
        regional_arn("elasticloadbalancing", "loadbalancer/app/*"),
        regional_arn("elasticloadbalancing", "listener/app/*"),
        regional_arn("elasticloadbalancing", "listener-rule/app/*"),
        regional_arn("elasticloadbalancing", "targetgroup/*"),
    ]
    return [
        Statement(
            Sid="CreateLoadBalancingForTheTier",
            Effect=Allow,
            # Load balancer and target group names are at most 32 characters, so CloudFormation
            # generates them and they cannot carry the tier: the tier's tag does.
            Action=[elb.CreateLoadBalancer, elb.CreateTargetGroup, elb.CreateListener],
            Resource=load_balancing,
            Condition=_created_for_the_tier(),
        ),
        Statement(
            Sid="AddRulesToTheTiersListenersOnly",
            Effect=Allow,
            # A rule goes on a listener of the tier's (its own, or an existing one tagged with
            # the tier): one tier cannot route its host name on another tier's listener.
            Action=[elb.CreateRule],
            Resource=[regional_arn("elasticloadbalancing", "listener/app/*")],
            Condition=Condition(
                StringEquals({RESOURCE_TIER: PRINCIPAL_TIER, REQUEST_TIER: PRINCIPAL_TIER})
            ),
        ),
        Statement(
            Sid="TagLoadBalancingAsItIsCreated",
            Effect=Allow,
            Action=[elb.AddTags],
            Resource=load_balancing,
            Condition=Condition(
                StringEquals(
                    {
                        REQUEST_TIER: PRINCIPAL_TIER,
                        "elasticloadbalancing:CreateAction": [
                            "CreateLoadBalancer",
                            "CreateTargetGroup",
                            "CreateListener",
                            "CreateRule",
                        ],
                    }
                )
            ),
        ),
        Statement(
            Sid="ManageTheTiersLoadBalancing",
            Effect=Allow,
            Action=[
                elb.AddTags,
                elb.RemoveTags,
                elb.DeleteLoadBalancer,
                elb.ModifyLoadBalancerAttributes,
                elb.SetSecurityGroups,
                elb.SetSubnets,
                elb.SetIpAddressType,
                elb.DeleteListener,
                elb.ModifyListener,
                elb.ModifyListenerAttributes,
                elb.DeleteRule,
                elb.ModifyRule,
                elb.SetRulePriorities,
                elb.DeleteTargetGroup,
                elb.ModifyTargetGroup,
                elb.ModifyTargetGroupAttributes,
                elb.RegisterTargets,
                elb.DeregisterTargets,
            ],
            Resource=load_balancing,
            Condition=_tiers_own(),
        ),
        Statement(
            Sid="DescribeLoadBalancing",
            Effect=Allow,
            # Elastic Load Balancing's Describe calls accept no resource-level permissions.
            Action=[
                elb.DescribeLoadBalancers,
                elb.DescribeLoadBalancerAttributes,
                elb.DescribeListeners,
                elb.DescribeListenerAttributes,
                elb.DescribeRules,
                elb.DescribeTargetGroups,
                elb.DescribeTargetGroupAttributes,
                elb.DescribeTargetHealth,
                elb.DescribeTags,
            ],
            Resource=["*"],
        ),
    ]


def _network_statements() -> list[Statement]:
    return [
        Statement(
            Sid="CreateSecurityGroupsForTheTier",
            Effect=Allow,
            Action=[ec2.CreateSecurityGroup],
            Resource=[regional_arn("ec2", "security-group/*")],
            Condition=_created_for_the_tier(),
        ),
        Statement(
            Sid="SecurityGroupsInTheChosenVpc",
            Effect=Allow,
            Action=[ec2.CreateSecurityGroup],
            Resource=[regional_arn("ec2", "vpc/*")],
        ),
        Statement(
            Sid="TagSecurityGroupsAsTheyAreCreated",
            Effect=Allow,
            Action=[ec2.CreateTags],
            Resource=[regional_arn("ec2", "security-group/*")],
            Condition=_created_for_the_tier(**{"ec2:CreateAction": "CreateSecurityGroup"}),
        ),
        Statement(
            Sid="ChangeTheTiersSecurityGroupsOnly",
            Effect=Allow,
            # The tier's own groups and the platform's groups of the tier (its homes' mount
            # targets, which the hub's servers are let into).
            Action=[
                ec2.DeleteSecurityGroup,
                ec2.AuthorizeSecurityGroupIngress,
                ec2.AuthorizeSecurityGroupEgress,
                ec2.RevokeSecurityGroupIngress,
                ec2.RevokeSecurityGroupEgress,
                ec2.UpdateSecurityGroupRuleDescriptionsIngress,
                ec2.UpdateSecurityGroupRuleDescriptionsEgress,
                ec2.CreateTags,
                ec2.DeleteTags,
            ],
            Resource=[regional_arn("ec2", "security-group/*")],
            Condition=_tiers_own(),
        ),
        Statement(
            Sid="RulesOfTheTiersSecurityGroups",
            Effect=Allow,
            # A rule is authorised with its group, which the statement above scopes.
            Action=[
                ec2.AuthorizeSecurityGroupIngress,
                ec2.AuthorizeSecurityGroupEgress,
                ec2.RevokeSecurityGroupIngress,
                ec2.RevokeSecurityGroupEgress,
                ec2.UpdateSecurityGroupRuleDescriptionsIngress,
                ec2.UpdateSecurityGroupRuleDescriptionsEgress,
            ],
            Resource=[regional_arn("ec2", "security-group-rule/*")],
        ),
        Statement(
            Sid="MountTargetNetworkInterfaces",
            Effect=Allow,
            # EFS creates a mount target's network interface with the caller's permissions.
            Action=[
                ec2.CreateNetworkInterface,
                ec2.DeleteNetworkInterface,
                ec2.ModifyNetworkInterfaceAttribute,
            ],
            Resource=[
                regional_arn("ec2", "network-interface/*"),
                regional_arn("ec2", "subnet/*"),
                regional_arn("ec2", "security-group/*"),
            ],
        ),
        Statement(
            Sid="DescribeNetwork",
            Effect=Allow,
            # EC2 Describe calls accept no resource-level permissions.
            Action=[
                ec2.DescribeSecurityGroups,
                ec2.DescribeSecurityGroupRules,
                ec2.DescribeVpcs,
                ec2.DescribeSubnets,
                ec2.DescribeNetworkInterfaces,
                ec2.DescribeAccountAttributes,
                ec2.DescribeInternetGateways,
                ec2.DescribeAvailabilityZones,
            ],
            Resource=["*"],
        ),
        Statement(
            Sid="HubDnsRecordsUnderTheTiersHostNames",
            Effect=Allow,
            Action=[route53.ChangeResourceRecordSets],
            # Hosted zones take no tags in IAM: the records' names carry the tier instead.
            Resource=[Sub("arn:${AWS::Partition}:route53:::hostedzone/*")],
            Condition=Condition(
                [
                    ForAllValuesStringLike(
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                        [name.format(tier=PRINCIPAL_TIER) for name in names.TIER_HOST_NAMES],
                    ),
                    Null("route53:ChangeResourceRecordSetsNormalizedRecordNames", "false"),
                ]
            ),
        ),
        Statement(
            Sid="ReadHostedZones",
            Effect=Allow,
            Action=[route53.GetHostedZone, route53.ListResourceRecordSets],
            Resource=[Sub("arn:${AWS::Partition}:route53:::hostedzone/*")],
        ),
        Statement(
            Sid="WatchDnsChanges",
            Effect=Allow,
            Action=[route53.GetChange],
            Resource=[Sub("arn:${AWS::Partition}:route53:::change/*")],
        ),
        Statement(
            Sid="ListHostedZones",
            Effect=Allow,
            Action=[route53.ListHostedZones],
            Resource=["*"],
        ),
    ]


def _runtime_statements(hub_key_arn: AWSHelperFn) -> list[Statement]:
    return [
        Statement(
            Sid="HubHoursSchedule",
            Effect=Allow,
            # The optional hub hours: a scalable target on the hub service with two scheduled
            # actions. Application Auto Scaling names a scalable target by an id of its own, so
            # it cannot be limited to a tier; the service it scales is (SharedHubServices).
            Action=[
                autoscaling.RegisterScalableTarget,
                autoscaling.DeregisterScalableTarget,
                autoscaling.PutScheduledAction,
                autoscaling.DeleteScheduledAction,
                autoscaling.TagResource,
                autoscaling.UntagResource,
                autoscaling.ListTagsForResource,
            ],
            Resource=[regional_arn("application-autoscaling", "scalable-target/*")],
        ),
        Statement(
            Sid="HubHoursScheduleReads",
            Effect=Allow,
            Action=[autoscaling.DescribeScalableTargets, autoscaling.DescribeScheduledActions],
            Resource=["*"],
        ),
        Statement(
            Sid="EcsCallsWithoutResourceTypes",
            Effect=Allow,
            # ECS documents no resource type for these (registering one is the tier's own
            # families only, in the tier's policy); listings span the account.
            Action=[
                ecs.DeregisterTaskDefinition,
                ecs.DescribeTaskDefinition,
                ecs.ListClusters,
                ecs.ListServices,
                ecs.ListTaskDefinitions,
            ],
            Resource=["*"],
        ),
        Statement(
            Sid="CreateHubStateFileSystemsForTheTier",
            Effect=Allow,
            # CreateFileSystem has no resource type: the new file system's tags are the scope.
            Action=[efs.CreateFileSystem],
            Resource=["*"],
            Condition=_created_for_the_tier(**{f"aws:RequestTag/{names.STACK_TAG}": STACK}),
        ),
        Statement(
            Sid="TagHubStateAsItIsCreated",
            Effect=Allow,
            Action=[efs.TagResource],
            Resource=[
                regional_arn("elasticfilesystem", "file-system/*"),
                regional_arn("elasticfilesystem", "access-point/*"),
            ],
            Condition=_created_for_the_tier(
                **{"elasticfilesystem:CreateAction": ["CreateFileSystem", "CreateAccessPoint"]}
            ),
        ),
        Statement(
            Sid="ManageTheTiersHubStateFileSystems",
            Effect=Allow,
            # Only the shared hubs' state of this tier: not another tier's, and not the
            # platform's homes (tagged `labcatalog:stack` platform).
            Action=[
                efs.DeleteFileSystem,
                efs.UpdateFileSystem,
                efs.UpdateFileSystemProtection,
                efs.DescribeReplicationConfigurations,
                efs.PutFileSystemPolicy,
                efs.DeleteFileSystemPolicy,
                efs.DescribeFileSystemPolicy,
                efs.PutBackupPolicy,
                efs.DescribeBackupPolicy,
                efs.PutLifecycleConfiguration,
                efs.DescribeLifecycleConfiguration,
                efs.CreateMountTarget,
                efs.DeleteMountTarget,
                efs.DescribeMountTargetSecurityGroups,
                efs.ModifyMountTargetSecurityGroups,
                efs.CreateAccessPoint,
                efs.DeleteAccessPoint,
                efs.TagResource,
                efs.UntagResource,
                efs.DeleteTags,
                efs.ListTagsForResource,
            ],
            Resource=[
                regional_arn("elasticfilesystem", "file-system/*"),
                regional_arn("elasticfilesystem", "access-point/*"),
            ],
            Condition=Condition(
                StringEquals(
                    {
                        RESOURCE_TIER: PRINCIPAL_TIER,
                        f"aws:ResourceTag/{names.STACK_TAG}": STACK,
                    }
                )
            ),
        ),
        Statement(
            Sid="DescribeFileSystems",
            Effect=Allow,
            # Listing calls made without an id need "*".
            Action=[efs.DescribeFileSystems, efs.DescribeMountTargets, efs.DescribeAccessPoints],
            Resource=["*"],
        ),
        Statement(
            Sid="EncryptHubStateAndSecretsWithTheHubKey",
            Effect=Allow,
            # EFS and Secrets Manager use the platform's hub key on the caller's behalf.
            Action=[
                kms.DescribeKey,
                kms.Decrypt,
                kms.GenerateDataKey,
                kms.GenerateDataKeyWithoutPlaintext,
            ],
            Resource=[hub_key_arn],
            Condition=Condition(
                StringEquals(
                    "kms:ViaService",
                    [
                        Sub("elasticfilesystem.${AWS::Region}.amazonaws.com"),
                        Sub("secretsmanager.${AWS::Region}.amazonaws.com"),
                    ],
                )
            ),
        ),
        Statement(
            Sid="GrantTheHubKeyToEfs",
            Effect=Allow,
            Action=[kms.CreateGrant],
            Resource=[hub_key_arn],
            Condition=Condition(Bool("kms:GrantIsForAWSResource", "true")),
        ),
        Statement(
            Sid="DescribeLogGroups",
            Effect=Allow,
            # DescribeLogGroups lists across the account; it has no resource-level permission.
            Action=[logs.DescribeLogGroups],
            Resource=["*"],
        ),
        Statement(
            Sid="GenerateSecretValues",
            Effect=Allow,
            # GetRandomPassword creates a value from nothing; AWS defines no resource for it.
            Action=[secretsmanager.GetRandomPassword],
            Resource=["*"],
        ),
    ]


def _discovery_statements() -> list[Statement]:
    """The hub's stable name: a Cloud Map private DNS namespace (a Route 53 private hosted zone
    in the hub's VPC) and its service; the permissions AWS's Cloud Map API permissions reference
    lists for creating, reading and deleting them."""
    return [
        Statement(
            Sid="CreateHubNamespaces",
            Effect=Allow,
            # Creating a namespace or reading the operation that creates it names no resource
            # (the namespace's id is AWS's, returned by the call); listings span the account.
            Action=[
                servicediscovery.CreatePrivateDnsNamespace,
                servicediscovery.GetOperation,
                servicediscovery.ListNamespaces,
                servicediscovery.ListServices,
                servicediscovery.ListOperations,
                # Cloud Map documents its tagging actions without a resource type.
                servicediscovery.TagResource,
                servicediscovery.UntagResource,
                servicediscovery.ListTagsForResource,
            ],
            Resource=["*"],
        ),
        Statement(
            Sid="HubNamespacesAndServicesOfThisAccount",
            Effect=Allow,
            Action=[
                servicediscovery.GetNamespace,
                servicediscovery.DeleteNamespace,
                servicediscovery.UpdatePrivateDnsNamespace,
                servicediscovery.CreateService,
                servicediscovery.GetService,
                servicediscovery.UpdateService,
                servicediscovery.DeleteService,
                servicediscovery.GetServiceAttributes,
                servicediscovery.UpdateServiceAttributes,
                servicediscovery.DeleteServiceAttributes,
            ],
            Resource=[
                regional_arn("servicediscovery", "namespace/*"),
                regional_arn("servicediscovery", "service/*"),
            ],
        ),
        Statement(
            Sid="PrivateHostedZonesOfNamespaces",
            Effect=Allow,
            # Cloud Map creates the namespace's private hosted zone with the caller's rights.
            Action=[route53.CreateHostedZone, route53.ListHostedZonesByName, ec2.DescribeRegions],
            Resource=["*"],
        ),
        Statement(
            Sid="ReadNamespaceHostedZones",
            Effect=Allow,
            Action=[route53.GetHostedZone],
            Resource=[Sub("arn:${AWS::Partition}:route53:::hostedzone/*")],
        ),
    ]
