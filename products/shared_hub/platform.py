"""The shared hub's part of the platform stack: each tier's task roles and launch rights.

Product stacks may not create IAM roles (the launch role denies it), so the roles a hub runs
with are made by the platform, one pair per tier: a hub of one tier can neither read another
tier's secrets nor start tasks with another tier's role. The product finds them through the
tier's SSM parameters (`generator.cfn.names`).
"""

from __future__ import annotations

import awacs.ecs as ecs
import awacs.elasticfilesystem as efs
import awacs.iam as iam
import awacs.logs as logs
import awacs.secretsmanager as secretsmanager
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Statement, StringEquals
from troposphere import AWSHelperFn, GetAtt, Output, Ref, Sub, Template
from troposphere.iam import ManagedPolicy, Role

from generator.cfn import names, policies
from generator.cfn.product import (
    AccountContribution,
    LaunchPolicy,
    PassableRole,
    PlatformContext,
    SsmValue,
    TierContext,
    TierContribution,
)
from generator.cfn.tags import stack_tags
from products.shared_hub import account_balancer, launch


def task_execution_policy(
    tier: str, repository_arn: AWSHelperFn, hub_key_arn: AWSHelperFn
) -> PolicyDocument:
    """What ECS needs to start a tier's hub or user task: image, logs, and the tier's secrets."""
    log_groups = names.TIER_LOG_GROUPS.format(tier=tier)
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            policies.ecr_login_statement(),
            policies.pull_image_statement(repository_arn),
            Statement(
                Sid="WriteTaskLogs",
                Effect=Allow,
                Action=[logs.CreateLogStream, logs.PutLogEvents],
                Resource=[policies.regional_arn("logs", f"log-group:{log_groups}*:log-stream:*")],
            ),
            Statement(
                Sid="ReadThisTiersHubSecrets",
                Effect=Allow,
                # A hub's task definition names its secrets; this role can only resolve the ones
                # under its own tier's path, whatever ARN a launch parameter carries.
                Action=[secretsmanager.GetSecretValue],
                Resource=[policies.tier_secrets_arn(tier)],
            ),
            policies.decrypt_through_secrets_manager(
                "DecryptHubSecretsThroughSecretsManager", hub_key_arn
            ),
        ],
    )


# The hub role's own tier, as IAM sees it: the role's tier tag (add_task_roles tags it). In a
# Sub string `${!...}` stays a policy variable instead of a CloudFormation one.
HUB_TIER = "${!aws:PrincipalTag/" + names.TIER_TAG + "}"
HOMES_POLICY = "HubUsersHomesPolicy"
# What each tier's route function needs from the root (account_balancer.py).
ROUTE_REFS = (account_balancer.LISTENER, account_balancer.ROUTE_ROLE)


def _user_task_definitions(tier: str) -> Sub:
    """Every revision of the user servers' task definitions of a tier's hubs (`tier` may be a
    policy variable)."""
    return policies.regional_arn(
        "ecs",
        "task-definition/" + names.USER_TASK_FAMILY.format(tier=tier, stack=names.WILDCARD) + ":*",
    )


def users_homes_policy() -> PolicyDocument:
    """What every tier's hub needs to give each user a home, on its own tier's only: an access
    point on the tier's home file system (products/platform/homes.py) and a task definition in
    the tier's user families that mounts it.

    One account-wide policy for every tier's hub role: a file system or access point counts as
    the hub's when its tier tag equals the hub role's tier tag, and a task definition when its
    family is the hub's tier's. (The file systems are made in the same stack as the roles, so
    no ARN could name them here.)
    """
    file_systems = policies.regional_arn("elasticfilesystem", "file-system/*")
    access_points = policies.regional_arn("elasticfilesystem", "access-point/*")
    user_task_definitions = _user_task_definitions(HUB_TIER)
    hub_tier = HUB_TIER.replace("${!", "${")  # in a plain (not Sub) condition value
    of_this_tier = f"aws:ResourceTag/{names.TIER_TAG}"
    tagged_this_tier = f"aws:RequestTag/{names.TIER_TAG}"
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="FindUsersHomesOnThisTiersFileSystem",
                Effect=Allow,
                Action=[efs.DescribeAccessPoints],
                Resource=[file_systems, access_points],
                Condition=Condition(StringEquals(of_this_tier, hub_tier)),
            ),
            Statement(
                Sid="MakeUsersHomesOnThisTiersFileSystem",
                Effect=Allow,
                Action=[efs.CreateAccessPoint],
                Resource=[file_systems],
                Condition=Condition(
                    StringEquals({of_this_tier: hub_tier, tagged_this_tier: hub_tier})
                ),
            ),
            Statement(
                Sid="TagUsersHomesAtCreation",
                Effect=Allow,
                Action=[efs.TagResource],
                Resource=[access_points],
                Condition=Condition(
                    StringEquals(
                        {
                            "elasticfilesystem:CreateAction": "CreateAccessPoint",
                            tagged_this_tier: hub_tier,
                        }
                    )
                ),
            ),
            Statement(
                Sid="ReadTaskDefinitions",
                Effect=Allow,
                # DescribeTaskDefinition takes no resource: the hub reads its product's user task
                # definition and each user's, to see whether the user's is current.
                Action=[ecs.DescribeTaskDefinition],
                Resource=["*"],
            ),
            Statement(
                Sid="RegisterUsersTaskDefinitionsInThisTiersFamilies",
                Effect=Allow,
                Action=[ecs.RegisterTaskDefinition],
                Resource=[user_task_definitions],
            ),
            Statement(
                Sid="TagUsersTaskDefinitionsAtRegistration",
                Effect=Allow,
                Action=[ecs.TagResource],
                Resource=[user_task_definitions],
                Condition=Condition(StringEquals("ecs:CreateAction", "RegisterTaskDefinition")),
            ),
        ],
    )


def server_token_secrets(tier: str) -> Sub:
    """The secrets of a tier's users' server tokens (any hub of the tier)."""
    return policies.regional_arn(
        "secretsmanager", f"secret:{names.SERVER_TOKEN_SECRETS.format(tier=tier)}*"
    )


def hub_task_policy(
    tier: str, notebook_role_arn: AWSHelperFn, execution_role_arn: AWSHelperFn
) -> PolicyDocument:
    """What a tier's hub may do: start, watch and stop its users' Fargate tasks, keep each
    server's token in the user's secret, and get its users' credentials (the tier's data role,
    one person at a time); nothing else: no data of its own.

        The platform stack exists before any hub, so it cannot name a hub's cluster or task
        definition by ARN. The shared-hub product therefore names them with the fixed patterns in
        `generator.cfn.names` (`labcatalog-<tier>_...`), and this policy allows exactly those names.
    """
    clusters = policies.regional_arn(
        "ecs", "cluster/" + names.CLUSTER.format(tier=tier, stack=names.WILDCARD)
    )
    in_tier_clusters = Condition(ArnLike("ecs:cluster", clusters))
    user_task_definitions = _user_task_definitions(tier)
    tasks = policies.regional_arn(
        "ecs", "task/" + names.CLUSTER.format(tier=tier, stack=names.WILDCARD) + "/*"
    )
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Sid="RunUserServersInThisTiersClusters",
                Effect=Allow,
                Action=[ecs.RunTask],
                Resource=[user_task_definitions],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="WatchAndStopTasksInThisTiersClusters",
                Effect=Allow,
                Action=[ecs.DescribeTasks, ecs.StopTask],
                Resource=[tasks],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="TagUserServersAtLaunch",
                Effect=Allow,
                Action=[ecs.TagResource],
                Resource=[tasks],
                Condition=Condition(StringEquals("ecs:CreateAction", "RunTask")),
            ),
            Statement(
                Sid="FindOrphanedServersInThisTiersClusters",
                Effect=Allow,
                # At start-up the hub lists its running tasks and reads their tags, to stop the
                # ones its database does not know (labcatalog_hub/reaper.py). ListTasks names
                # no resource of its own: the cluster condition limits it.
                Action=[ecs.ListTasks],
                Resource=["*"],
                Condition=in_tier_clusters,
            ),
            Statement(
                Sid="ReadServerTaskTags",
                Effect=Allow,
                Action=[ecs.ListTagsForResource],
                Resource=[tasks],
            ),
            Statement(
                Sid="KeepUsersServerTokens",
                Effect=Allow,
                # Each user's secret, which their task definition names (labcatalog_hub/
                # ecs_spawner.py); the execution role resolves it, under the tier's secrets.
                Action=[secretsmanager.CreateSecret, secretsmanager.PutSecretValue],
                Resource=[server_token_secrets(tier)],
            ),
            Statement(
                Sid="TagUsersServerTokensAtCreation",
                Effect=Allow,
                Action=[secretsmanager.TagResource],
                Resource=[server_token_secrets(tier)],
                Condition=Condition(StringEquals({f"aws:RequestTag/{names.TIER_TAG}": tier})),
            ),
            policies.assume_data_role_statement(tier),
            Statement(
                Sid="PassOnlyThisTiersTaskRoles",
                Effect=Allow,
                Action=[iam.PassRole],
                Resource=[notebook_role_arn, execution_role_arn],
                Condition=Condition(StringEquals("iam:PassedToService", policies.ECS_TASKS)),
            ),
        ],
    )


def add_task_roles(t: Template, tier: TierContext) -> tuple[GetAtt, GetAtt]:
    """A tier's ECS task execution role and its hub task role; returns their ARNs."""
    tid = tier.logical_id
    tags = stack_tags("platform", **{names.TIER_TAG: tier.name})
    execution = t.add_resource(
        Role(
            f"{tid}TaskExecutionRole",
            RoleName=names.TASK_EXECUTION_ROLE.format(tier=tier.name),
            Description=(
                f"Lets ECS start tasks of tier {tier.name}: pull the hub image, write logs, "
                "read this tier's hub secrets"
            ),
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.ECS_TASKS),
            Policies=[
                policies.inline(
                    "start-tasks",
                    task_execution_policy(
                        tier.name, tier.platform.repository_arn, tier.platform.hub_key_arn
                    ),
                )
            ],
            Tags=tags,
        )
    )
    hub = t.add_resource(
        Role(
            f"{tid}HubTaskRole",
            RoleName=names.HUB_TASK_ROLE.format(tier=tier.name),
            Description=(
                f"JupyterHub of tier {tier.name}: starts and stops its users' Fargate tasks"
            ),
            AssumeRolePolicyDocument=policies.service_trust_policy(policies.ECS_TASKS),
            ManagedPolicyArns=[Ref(HOMES_POLICY)],  # made in the root, handed over
            Policies=[
                policies.inline(
                    "spawn-user-servers",
                    hub_task_policy(tier.name, tier.notebook_role_arn, GetAtt(execution, "Arn")),
                )
            ],
            Tags=tags,
        )
    )
    t.add_output(Output(f"{tid}HubTaskRoleArn", Value=GetAtt(hub, "Arn")))
    t.add_output(Output(f"{tid}TaskExecutionRoleArn", Value=GetAtt(execution, "Arn")))
    return GetAtt(execution, "Arn"), GetAtt(hub, "Arn")


def add_to_platform(t: Template, platform: PlatformContext) -> AccountContribution:
    """The launch rights every tier needs alike, as managed policies shared by all tiers, and
    the hubs' rights on their users' homes (one policy, each hub limited to its own tier)."""
    t.add_resource(
        ManagedPolicy(
            HOMES_POLICY,
            ManagedPolicyName=names.HUB_HOMES_POLICY,
            Description="A shared hub gives its users homes on its own tier's file system",
            PolicyDocument=users_homes_policy(),
        )
    )
    portfolio = platform.portfolio
    shared = portfolio is not None and portfolio.account_load_balancer
    return AccountContribution(
        parameters=tuple(account_balancer.add_account_load_balancer(t, platform) if shared else ()),
        launch_policies=tuple(
            LaunchPolicy(
                logical_id=f"Launch{''.join(w.capitalize() for w in name.split('-'))}Policy",
                name=names.LAUNCH_POLICY.format(name=name),
                description=f"Service Catalog may manage {name} resources (account-wide part)",
                statements=tuple(statements),
            )
            for name, statements in launch.shared_launch_policies(platform.hub_key_arn).items()
        ),
        tier_refs=(HOMES_POLICY, *(ROUTE_REFS if shared else ())),
    )


def add_to_tier(t: Template, tier: TierContext) -> TierContribution:
    """A tier's task roles, published in SSM, and the launch role's rights on its shared hubs.

    The launch role passes the notebook role (the user servers' task role) and both task roles
    to ECS when it creates a hub's task definitions.
    """
    execution, hub = add_task_roles(t, tier)
    tid = tier.logical_id
    portfolio = tier.platform.portfolio
    if portfolio is not None and portfolio.account_load_balancer:
        account_balancer.add_route_function(t, tier)
    return TierContribution(
        passable_roles=tuple(
            PassableRole(arn, policies.ECS_TASKS)
            for arn in (tier.notebook_role_arn, hub, execution)
        ),
        launch_statements=tuple(launch.tier_launch_statements(tier.name)),
        credential_brokers=(hub,),
        parameters=(
            SsmValue(
                f"{tid}HubTaskRoleArnParameter",
                names.HUB_TASK_ROLE_ARN_PARAMETER.format(tier=tier.name),
                hub,
                f"labcatalog tier {tier.name}: hub task role arn",
            ),
            SsmValue(
                f"{tid}TaskExecutionRoleArnParameter",
                names.TASK_EXECUTION_ROLE_ARN_PARAMETER.format(tier=tier.name),
                execution,
                f"labcatalog tier {tier.name}: task execution role arn",
            ),
        ),
    )
