"""Where the shared hub runs: the ECS cluster, the hub's and the users' task definitions, and
the hub service (exactly one task).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, If, Join, NoValue, Ref, Select, Split, Template
from troposphere.applicationautoscaling import (
    ScalableTarget,
    ScalableTargetAction,
    ScheduledAction,
)
from troposphere.ec2 import SecurityGroup
from troposphere.ecs import (
    AuthorizationConfig,
    AwsvpcConfiguration,
    CapacityProviderStrategyItem,
    Cluster,
    ClusterSetting,
    ContainerDefinition,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    EFSVolumeConfiguration,
    Environment,
    LoadBalancer,
    LogConfiguration,
    MountPoint,
    NetworkConfiguration,
    PortMapping,
    RuntimePlatform,
    Secret,
    Service,
    ServiceRegistry,
    TaskDefinition,
    Volume,
)
from troposphere.logs import LogGroup
from troposphere.secretsmanager import Secret as SecretsManagerSecret

from generator.cfn import names
from generator.cfn.checks import skip_checks
from generator.model.config import Identity
from products.hub_image.content import image_tag
from products.shared_hub import conditions, discovery, network, sign_in, stack
from products.shared_hub.network import LoadBalancing, SecurityGroups
from products.shared_hub.storage import HubState, Logs

STATE_DIR = "/srv/jupyterhub/state"  # LABCATALOG_STATE_DIR in the hub image contract
HUB_CONTAINER = "hub"
SERVER_CONTAINER = "notebook"
SHARED_VOLUME = "shared"  # the tier team's folder on the home file system
SHARED_DIR = "/home/jovyan/shared"  # inside each user's home (the image user's)
HEALTH_CHECK_GRACE_SECONDS = 300


@dataclass(frozen=True)
class Compute:
    cluster: Cluster
    service: Service


def _cpu(size_parameter: str) -> Select:
    return Select(0, Split(":", Ref(size_parameter)))


def _memory(size_parameter: str) -> Select:
    return Select(1, Split(":", Ref(size_parameter)))


def _environment(
    cluster: Cluster, servers: TaskDefinition, server_group: SecurityGroup, identity: Identity
) -> list:
    """The hub container's variables, named exactly as products/hub_image/environment.md says."""
    always = {
        "LABCATALOG_TIER": Ref("Tier"),
        "LABCATALOG_PUBLIC_URL": Join("", ["https://", stack.hub_host_name()]),
        "LABCATALOG_STATE_DIR": STATE_DIR,
        "LABCATALOG_AUTH": identity.mode,
        "LABCATALOG_TIER_GROUP": stack.tier_value(names.IDENTITY_GROUP_SETTING),
        "LABCATALOG_ADMIN_GROUP": stack.tier_value(names.ADMIN_GROUP_SETTING),
        "LABCATALOG_SERVER_MODE": "fargate",
        "LABCATALOG_SERVER_SIZES": Join(",", Ref("ServerSizes")),
        "LABCATALOG_DEFAULT_SERVER_SIZE": Ref("DefaultServerSize"),
        "LABCATALOG_IDLE_TIMEOUT_MINUTES": Ref("IdleTimeoutMinutes"),
        "LABCATALOG_NOTEBOOK_BUCKET": stack.platform_value(names.NOTEBOOK_BUCKET_PARAMETER),
        "LABCATALOG_HUB_CONNECT_URL": discovery.HUB_CONNECT_URL,
        "LABCATALOG_ECS_CLUSTER": GetAtt(cluster, "Arn"),
        "LABCATALOG_ECS_TASK_DEFINITION": Ref(servers),
        # Comma-separated as the platform publishes it, as the spawner reads it.
        "LABCATALOG_ECS_SUBNETS": stack.tier_value(names.SERVER_SUBNETS_SETTING),
        "LABCATALOG_ECS_SECURITY_GROUPS": GetAtt(server_group, "GroupId"),
        "LABCATALOG_ECS_CAPACITY_PROVIDER": If(conditions.FARGATE_SPOT, "FARGATE_SPOT", "FARGATE"),
        "LABCATALOG_HUB_HOURS": Ref("HubHours"),
        "LABCATALOG_HUB_TIME_ZONE": Ref("HubTimeZone"),
        "LABCATALOG_ECS_HOMES_FILE_SYSTEM": stack.tier_value(names.HOMES_FILE_SYSTEM_ID_PARAMETER),
    }
    always |= sign_in.environment(identity)
    return [Environment(Name=k, Value=v) for k, v in sorted(always.items())]


def _secrets(crypt_key: SecretsManagerSecret, identity: Identity) -> list:
    """Secrets reach the container from Secrets Manager, never as plain text in the template."""
    return [
        Secret(Name="JUPYTERHUB_CRYPT_KEY", ValueFrom=Ref(crypt_key)),
        *sign_in.secrets(identity),
    ]


def _image() -> Join:
    """The hub image: the platform's repository, and the image this product version was built
    with (its content tag), unless the launch names others."""
    repository = If(
        conditions.PLATFORM_IMAGE,
        stack.platform_value(names.HUB_REPOSITORY_URI_PARAMETER),
        Ref("HubImageRepository"),
    )
    tag = If(conditions.PUBLISHED_TAG, image_tag(), Ref("HubImageTag"))
    return Join(":", [repository, tag])


def _awslogs(group: LogGroup, prefix: str) -> LogConfiguration:
    return LogConfiguration(
        LogDriver="awslogs",
        Options={
            "awslogs-group": Ref(group),
            "awslogs-region": Ref("AWS::Region"),
            "awslogs-stream-prefix": prefix,
        },
    )


def add_compute(
    t: Template,
    groups: SecurityGroups,
    load_balancing: LoadBalancing,
    logs: Logs,
    state: HubState,
    crypt_key: SecretsManagerSecret,
    identity: Identity,
) -> Compute:
    """The cluster, the users' and the hub's task definitions, and the one-task hub service."""
    cluster = t.add_resource(
        skip_checks(
            Cluster(
                "HubCluster",
                ClusterName=stack.named(names.CLUSTER),
                # Off by default: its metrics are billed per task (README, Container Insights).
                ClusterSettings=[
                    ClusterSetting(Name="containerInsights", Value=Ref("ContainerInsights"))
                ],
                CapacityProviders=["FARGATE", "FARGATE_SPOT"],
                DefaultCapacityProviderStrategy=[
                    CapacityProviderStrategyItem(CapacityProvider="FARGATE", Weight=1)
                ],
                Tags=stack.tags(),
            ),
            "CKV_AWS_65",
        )
    )
    servers = t.add_resource(
        TaskDefinition(
            "ServerTaskDefinition",
            Family=stack.named(names.USER_TASK_FAMILY),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            RuntimePlatform=RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture=Ref("CpuArchitecture")
            ),
            # The size users pick at spawn time overrides these (RunTask overrides).
            Cpu=_cpu("DefaultServerSize"),
            Memory=_memory("DefaultServerSize"),
            TaskRoleArn=stack.tier_value(names.NOTEBOOK_ROLE_ARN_PARAMETER),
            ExecutionRoleArn=stack.tier_value(names.TASK_EXECUTION_ROLE_ARN_PARAMETER),
            ContainerDefinitions=[
                ContainerDefinition(
                    Name=SERVER_CONTAINER,
                    Image=_image(),
                    Essential=True,
                    Privileged=False,
                    PortMappings=[PortMapping(ContainerPort=network.SERVER_PORT, Protocol="tcp")],
                    # The hub's spawner adds the user's home at /home/jovyan (their own access
                    # point); the team's folder appears inside it.
                    MountPoints=[
                        MountPoint(
                            SourceVolume=SHARED_VOLUME, ContainerPath=SHARED_DIR, ReadOnly=False
                        )
                    ],
                    LogConfiguration=_awslogs(logs.servers, "server"),
                )
            ],
            Volumes=[
                Volume(
                    Name=SHARED_VOLUME,
                    EFSVolumeConfiguration=EFSVolumeConfiguration(
                        FilesystemId=stack.tier_value(names.HOMES_FILE_SYSTEM_ID_PARAMETER),
                        TransitEncryption="ENABLED",
                        AuthorizationConfig=AuthorizationConfig(
                            AccessPointId=stack.tier_value(
                                names.HOMES_SHARED_ACCESS_POINT_ID_PARAMETER
                            ),
                            IAM="ENABLED",
                        ),
                    ),
                )
            ],
            Tags=stack.tags(),
        )
    )
    hub_task = t.add_resource(
        TaskDefinition(
            "HubTaskDefinition",
            Family=stack.named(names.HUB_TASK_FAMILY),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            RuntimePlatform=RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture=Ref("CpuArchitecture")
            ),
            Cpu=_cpu("HubSize"),
            Memory=_memory("HubSize"),
            TaskRoleArn=stack.hub_role(),
            ExecutionRoleArn=stack.tier_value(names.TASK_EXECUTION_ROLE_ARN_PARAMETER),
            Volumes=[
                Volume(
                    Name="hub-state",
                    EFSVolumeConfiguration=EFSVolumeConfiguration(
                        FilesystemId=Ref(state.file_system),
                        TransitEncryption="ENABLED",
                        AuthorizationConfig=AuthorizationConfig(
                            AccessPointId=Ref(state.access_point), IAM="ENABLED"
                        ),
                    ),
                )
            ],
            ContainerDefinitions=[
                ContainerDefinition(
                    Name=HUB_CONTAINER,
                    Image=_image(),
                    Essential=True,
                    Privileged=False,
                    PortMappings=[
                        PortMapping(ContainerPort=network.HUB_PORT, Protocol="tcp"),
                        PortMapping(ContainerPort=network.HUB_API_PORT, Protocol="tcp"),
                    ],
                    Environment=_environment(cluster, servers, groups.servers, identity),
                    Secrets=_secrets(crypt_key, identity),
                    MountPoints=[
                        MountPoint(
                            SourceVolume="hub-state", ContainerPath=STATE_DIR, ReadOnly=False
                        )
                    ],
                    LogConfiguration=_awslogs(logs.hub, "hub"),
                )
            ],
            Tags=stack.tags(),
        )
    )
    # The hub service never scales out: JupyterHub keeps its proxy routes and users' server
    # records in one process, so a second hub task would have its own, diverging state.
    # Capacity comes from the users' own Fargate tasks instead. Hence DesiredCount 1 (0 outside
    # the optional hub hours, add_hub_schedule), and a deployment that stops the old hub before
    # it starts the new one (MaximumPercent 100, MinimumHealthyPercent 0). The hub stays on
    # regular Fargate: a Spot interruption would cut every user off at once, and a service
    # cannot fall back to regular Fargate as the spawner does for servers.
    service = t.add_resource(
        Service(
            "HubService",
            # The target group must be on a listener before a service may use it.
            DependsOn=[load_balancing.rule, load_balancing.route.title, *state.mount_targets],
            Cluster=Ref(cluster),
            TaskDefinition=Ref(hub_task),
            LaunchType="FARGATE",
            DesiredCount=1,
            DeploymentConfiguration=DeploymentConfiguration(
                MaximumPercent=100,
                MinimumHealthyPercent=0,
                DeploymentCircuitBreaker=DeploymentCircuitBreaker(Enable=True, Rollback=True),
            ),
            NetworkConfiguration=NetworkConfiguration(
                AwsvpcConfiguration=AwsvpcConfiguration(
                    Subnets=stack.hub_subnets(),
                    SecurityGroups=[
                        GetAtt(groups.hub, "GroupId"),
                        # Reachable from the account's load balancer (and from nothing else).
                        If(
                            conditions.ACCOUNT_LOAD_BALANCER,
                            stack.platform_value(names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER),
                            NoValue,
                        ),
                    ],
                    AssignPublicIp="DISABLED",
                )
            ),
            LoadBalancers=[
                LoadBalancer(
                    ContainerName=HUB_CONTAINER,
                    ContainerPort=network.HUB_PORT,
                    TargetGroupArn=Ref(load_balancing.target),
                )
            ],
            HealthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_SECONDS,
            ServiceRegistries=[
                ServiceRegistry(RegistryArn=GetAtt(discovery.add_hub_name(t), "Arn"))
            ],
            EnableECSManagedTags=True,
            PropagateTags="SERVICE",
            Tags=stack.tags(),
        )
    )
    add_hub_schedule(t, cluster, service)
    return Compute(cluster, service)


def _cron(hour: Select) -> Join:
    return Join("", ["cron(0 ", hour, " ? * MON-FRI *)"])


def add_hub_schedule(t: Template, cluster: Cluster, service: Service) -> None:
    """With HubHours START-STOP, the hub runs on working days from START to STOP (HubTimeZone)
    and is scaled to zero otherwise: scheduled actions of Application Auto Scaling on the
    service's desired count, between 0 and 1 (never more: see the service). Users' servers stop
    themselves when idle while the hub is away (server_config)."""
    t.add_resource(
        ScalableTarget(
            "HubScheduleTarget",
            Condition=conditions.HUB_SCHEDULE,
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", Ref(cluster), GetAtt(service, "Name")]),
            MinCapacity=0,
            MaxCapacity=1,
            ScheduledActions=[
                ScheduledAction(
                    ScheduledActionName=name,
                    Schedule=_cron(Select(index, Split("-", Ref("HubHours")))),
                    Timezone=Ref("HubTimeZone"),
                    ScalableTargetAction=ScalableTargetAction(MinCapacity=count, MaxCapacity=count),
                )
                for index, name, count in ((0, "hub-starts", 1), (1, "hub-stops", 0))
            ],
        )
    )
