"""The `shared-hub` product: JupyterHub for a tier on ECS Fargate behind an HTTPS load balancer.

A team lead launches it from the Service Catalog console and gets `https://<HubDomainName>`.
The hub runs as exactly one Fargate task (its state on EFS); each user's notebook server is a
Fargate task of its own with the tier's notebook role (or, in `in-hub` mode, a process inside
the hub task). Every IAM role comes from the platform stack, found through SSM parameters under
`/labcatalog/tiers/<Tier>/`: the launch role may not create IAM roles.
"""

from __future__ import annotations

from troposphere import (
    GetAtt,
    If,
    Join,
    NoValue,
    Output,
    Ref,
    Select,
    Split,
    Sub,
    Tags,
    Template,
)
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
from troposphere.efs import (
    AccessPoint,
    BackupPolicy,
    CreationInfo,
    FileSystem,
    MountTarget,
    PosixUser,
    RootDirectory,
)
from troposphere.logs import LogGroup
from troposphere.route53 import AliasTarget, RecordSetType
from troposphere.secretsmanager import GenerateSecretString
from troposphere.secretsmanager import Secret as SecretsManagerSecret
from troposphere.servicediscovery import (
    DnsConfig,
    DnsRecord,
    HealthCheckCustomConfig,
    PrivateDnsNamespace,
)
from troposphere.servicediscovery import Service as DiscoveryService

from generator.cfn import names
from generator.cfn.tags import stack_tags
from generator.model.config import Portfolio
from products.shared_hub import network
from products.shared_hub import parameters as p

DESCRIPTION = (
    "labcatalog shared-hub {version}: JupyterHub for one data tier on ECS Fargate behind an "
    "HTTPS load balancer; a Fargate task per user. Generated from portfolio.yaml; do not edit."
)
STATE_DIR = "/srv/jupyterhub/state"  # LABCATALOG_STATE_DIR in the hub image contract
HUB_CONTAINER = "hub"
SERVER_CONTAINER = "notebook"
STATE_UID = 1000  # every file of the hub state belongs to this user, whatever the image runs as
HEALTH_CHECK_GRACE_SECONDS = 300
# Servers reach the hub's API at hub.<stack>.labcatalog.internal: a Cloud Map name that ECS
# points at whichever hub task runs, so the servers outlive a hub restart.
DISCOVERY_DOMAIN = "labcatalog.internal"
HUB_DISCOVERY_NAME = "hub"
DISCOVERY_TTL_SECONDS = 10  # how long a server may keep calling a hub task that has gone
HUB_CONNECT_URL = Sub(
    f"http://{HUB_DISCOVERY_NAME}.${{AWS::StackName}}.{DISCOVERY_DOMAIN}:{network.HUB_API_PORT}"
)


def _tier_value(name: str) -> Sub:
    """A per-tier value the platform publishes, resolved for the chosen Tier at deploy time."""
    return Sub(names.resolved(names.tier_parameter("${Tier}", name)))


def _platform_value(name: str) -> str:
    return names.resolved(names.platform_parameter(name))


def _named(pattern: str, **extra: str) -> Sub:
    """A name from `generator.cfn.names`, for this stack's tier."""
    return Sub(pattern.format(tier="${Tier}", stack="${AWS::StackName}", **extra))


def _tags(**extra) -> Tags:
    return stack_tags(network.STACK, **{names.TIER_TAG: Ref("Tier")}, **extra)


def _cpu(size_parameter: str) -> Select:
    return Select(0, Split(":", Ref(size_parameter)))


def _memory(size_parameter: str) -> Select:
    return Select(1, Split(":", Ref(size_parameter)))


def _first_two_task_subnets() -> list[Select]:
    # EFS needs a mount target in the zone of each subnet the hub can run in; CloudFormation
    # cannot loop over a list parameter, so the hub and its state use the first two subnets.
    return [Select(0, Ref("TaskSubnets")), Select(1, Ref("TaskSubnets"))]


def add_logs(t: Template) -> dict[str, LogGroup]:
    """Encrypted log groups with retention; kept when the stack is deleted, for audits."""
    groups = {}
    for part, condition in (("hub", None), ("servers", p.FARGATE_SERVERS)):
        extra = {"Condition": condition} if condition else {}
        group = LogGroup(
            f"{part.capitalize()}LogGroup",
            LogGroupName=_named(names.TIER_LOG_GROUPS + "{stack}/" + part),
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=_platform_value("hub-key-arn"),
            Tags=_tags(),
            **extra,
        )
        group.DeletionPolicy = "Retain"
        group.UpdateReplacePolicy = "Retain"
        groups[part] = t.add_resource(group)
    return groups


def add_state(t: Template, groups: dict) -> tuple[FileSystem, AccessPoint]:
    """The hub's database and cookie secret on encrypted EFS, reachable only by the hub."""
    hub_role = If(
        p.IN_HUB_SERVERS, _tier_value("notebook-role-arn"), _tier_value("hub-task-role-arn")
    )
    file_system = t.add_resource(
        FileSystem(
            "HubStateFileSystem",
            Encrypted=True,
            KmsKeyId=_platform_value("hub-key-arn"),
            BackupPolicy=BackupPolicy(Status="ENABLED"),
            PerformanceMode="generalPurpose",
            ThroughputMode="elastic",
            FileSystemPolicy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "OnlyTheHubMountsOverTls",
                        "Effect": "Allow",
                        "Principal": {"AWS": hub_role},
                        "Action": [
                            "elasticfilesystem:ClientMount",
                            "elasticfilesystem:ClientWrite",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "Bool": {
                                "aws:SecureTransport": "true",
                                "elasticfilesystem:AccessedViaMountTarget": "true",
                            }
                        },
                    }
                ],
            },
            FileSystemTags=_tags(Name=Sub("${AWS::StackName}-hub-state")),
        )
    )
    for n, subnet in enumerate(_first_two_task_subnets()):
        t.add_resource(
            MountTarget(
                f"HubStateMountTarget{n + 1}",
                FileSystemId=Ref(file_system),
                SubnetId=subnet,
                SecurityGroups=[GetAtt(groups["state"], "GroupId")],
            )
        )
    access_point = t.add_resource(
        AccessPoint(
            "HubStateAccessPoint",
            FileSystemId=Ref(file_system),
            PosixUser=PosixUser(Uid=str(STATE_UID), Gid=str(STATE_UID)),
            RootDirectory=RootDirectory(
                Path="/jupyterhub",
                CreationInfo=CreationInfo(
                    OwnerUid=str(STATE_UID), OwnerGid=str(STATE_UID), Permissions="0700"
                ),
            ),
            AccessPointTags=_tags(),
        )
    )
    return file_system, access_point


def add_crypt_key(t: Template) -> SecretsManagerSecret:
    """JUPYTERHUB_CRYPT_KEY: 32 random bytes, hex-encoded, under this tier's secret path."""
    return t.add_resource(
        SecretsManagerSecret(
            "HubCryptKeySecret",
            Name=_named(names.TIER_SECRETS + "{stack}/crypt-key"),
            Description="Encrypts authentication state in the JupyterHub database",
            KmsKeyId=_platform_value("hub-key-arn"),
            GenerateSecretString=GenerateSecretString(
                PasswordLength=64,
                ExcludePunctuation=True,
                # Only 0-9 and a-f remain: 64 hex digits are the 32-byte key JupyterHub wants.
                ExcludeCharacters="ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ",
                IncludeSpace=False,
            ),
            Tags=_tags(),
        )
    )


def _environment(cluster: Cluster, servers, server_group) -> list:
    """The hub container's variables, named exactly as products/hub_image/environment.md says."""
    always = {
        "LABCATALOG_TIER": Ref("Tier"),
        "LABCATALOG_PUBLIC_URL": Sub("https://${HubDomainName}"),
        "LABCATALOG_STATE_DIR": STATE_DIR,
        "LABCATALOG_AUTH": Ref("AuthMode"),
        "LABCATALOG_TIER_GROUP": Ref("TierGroup"),
        "LABCATALOG_ADMIN_GROUP": Ref("AdminGroup"),
        "LABCATALOG_SERVER_MODE": Ref("ServerMode"),
        "LABCATALOG_SERVER_SIZES": Join(",", Ref("ServerSizes")),
        "LABCATALOG_DEFAULT_SERVER_SIZE": Ref("DefaultServerSize"),
        "LABCATALOG_IDLE_TIMEOUT_MINUTES": Ref("IdleTimeoutMinutes"),
        "LABCATALOG_NOTEBOOK_BUCKET": _platform_value("notebook-bucket"),
        "LABCATALOG_HUB_CONNECT_URL": HUB_CONNECT_URL,
    }
    when = {
        p.OIDC: {
            "LABCATALOG_OIDC_ISSUER": Ref("OidcIssuerUrl"),
            "LABCATALOG_OIDC_CLIENT_ID": Ref("OidcClientId"),
            "LABCATALOG_OIDC_GROUPS_CLAIM": Ref("OidcGroupsClaim"),
            "LABCATALOG_OIDC_USERNAME_CLAIM": Ref("OidcUsernameClaim"),
        },
        p.LDAP: {
            "LABCATALOG_LDAP_URL": Ref("LdapUrl"),
            "LABCATALOG_LDAP_BIND_DN_TEMPLATE": Ref("LdapBindDnTemplate"),
            "LABCATALOG_LDAP_GROUP_SEARCH_BASE": Ref("LdapGroupSearchBase"),
            "LABCATALOG_LDAP_BIND_USER_DN": Ref("LdapBindUserDn"),
        },
        p.FARGATE_SERVERS: {
            "LABCATALOG_ECS_CLUSTER": GetAtt(cluster, "Arn"),
            "LABCATALOG_ECS_TASK_DEFINITION": Ref(servers),
            "LABCATALOG_ECS_SUBNETS": Join(",", Ref("TaskSubnets")),
            "LABCATALOG_ECS_SECURITY_GROUPS": GetAtt(server_group, "GroupId"),
            "LABCATALOG_ECS_CAPACITY_PROVIDER": If(p.FARGATE_SPOT, "FARGATE_SPOT", "FARGATE"),
        },
    }
    variables = [Environment(Name=k, Value=v) for k, v in sorted(always.items())]
    for condition, values in when.items():
        variables += [
            If(condition, Environment(Name=k, Value=v), NoValue) for k, v in sorted(values.items())
        ]
    return variables


def _secrets(crypt_key: SecretsManagerSecret) -> list:
    """Secrets reach the container from Secrets Manager, never as plain text in the template."""
    return [
        Secret(Name="JUPYTERHUB_CRYPT_KEY", ValueFrom=Ref(crypt_key)),
        If(
            p.OIDC,
            Secret(Name="LABCATALOG_OIDC_CLIENT_SECRET", ValueFrom=Ref("OidcClientSecretArn")),
            NoValue,
        ),
        If(
            p.LDAP_PASSWORD,
            Secret(
                Name="LABCATALOG_LDAP_BIND_PASSWORD", ValueFrom=Ref("LdapBindPasswordSecretArn")
            ),
            NoValue,
        ),
    ]


def _image() -> Join:
    repository = If(
        p.PLATFORM_IMAGE, _platform_value("hub-repository-uri"), Ref("HubImageRepository")
    )
    tag = If(
        p.PUBLISHED_TAG,
        names.resolved(names.HUB_IMAGE_TAG_PARAMETER),
        Ref("HubImageTag"),
    )
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


def add_compute(t: Template, groups: dict, logs: dict, state: tuple, rule) -> dict:
    """The cluster, the users' and the hub's task definitions, and the one-task hub service."""
    cluster = t.add_resource(
        Cluster(
            "HubCluster",
            ClusterName=_named(names.CLUSTER),
            ClusterSettings=[ClusterSetting(Name="containerInsights", Value="enabled")],
            CapacityProviders=["FARGATE", "FARGATE_SPOT"],
            DefaultCapacityProviderStrategy=[
                CapacityProviderStrategyItem(CapacityProvider="FARGATE", Weight=1)
            ],
            Tags=_tags(),
        )
    )
    servers = t.add_resource(
        TaskDefinition(
            "ServerTaskDefinition",
            Condition=p.FARGATE_SERVERS,
            Family=_named(names.USER_TASK_FAMILY),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            RuntimePlatform=RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"
            ),
            # The size users pick at spawn time overrides these (RunTask overrides).
            Cpu=_cpu("DefaultServerSize"),
            Memory=_memory("DefaultServerSize"),
            TaskRoleArn=_tier_value("notebook-role-arn"),
            ExecutionRoleArn=_tier_value("task-execution-role-arn"),
            ContainerDefinitions=[
                ContainerDefinition(
                    Name=SERVER_CONTAINER,
                    Image=_image(),
                    Essential=True,
                    Privileged=False,
                    PortMappings=[PortMapping(ContainerPort=network.SERVER_PORT, Protocol="tcp")],
                    LogConfiguration=_awslogs(logs["servers"], "server"),
                )
            ],
            Tags=_tags(),
        )
    )
    hub_task = t.add_resource(
        TaskDefinition(
            "HubTaskDefinition",
            Family=_named(names.HUB_TASK_FAMILY),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            RuntimePlatform=RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"
            ),
            Cpu=_cpu("HubSize"),
            Memory=_memory("HubSize"),
            # In in-hub mode the users' servers are processes of this task, so it runs with
            # the tier's notebook role; in fargate mode with the hub role, which may only
            # start, watch and stop this tier's user tasks.
            TaskRoleArn=If(
                p.IN_HUB_SERVERS,
                _tier_value("notebook-role-arn"),
                _tier_value("hub-task-role-arn"),
            ),
            ExecutionRoleArn=_tier_value("task-execution-role-arn"),
            Volumes=[
                Volume(
                    Name="hub-state",
                    EFSVolumeConfiguration=EFSVolumeConfiguration(
                        FilesystemId=Ref(state[0]),
                        TransitEncryption="ENABLED",
                        AuthorizationConfig=AuthorizationConfig(
                            AccessPointId=Ref(state[1]), IAM="ENABLED"
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
                    Environment=_environment(cluster, servers, groups["servers"]),
                    Secrets=_secrets(add_crypt_key(t)),
                    MountPoints=[
                        MountPoint(
                            SourceVolume="hub-state", ContainerPath=STATE_DIR, ReadOnly=False
                        )
                    ],
                    LogConfiguration=_awslogs(logs["hub"], "hub"),
                )
            ],
            Tags=_tags(),
        )
    )
    # The hub service never scales: JupyterHub keeps its proxy routes and users' server
    # records in one process, so a second hub task would have its own, diverging state.
    # Capacity comes from the users' own Fargate tasks instead. Hence DesiredCount 1 and no
    # Application Auto Scaling target, and a deployment that stops the old hub before it
    # starts the new one (MaximumPercent 100, MinimumHealthyPercent 0).
    service = t.add_resource(
        Service(
            "HubService",
            DependsOn=[rule.title, "HubStateMountTarget1", "HubStateMountTarget2"],
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
                    Subnets=_first_two_task_subnets(),
                    SecurityGroups=[GetAtt(groups["hub"], "GroupId")],
                    AssignPublicIp="DISABLED",
                )
            ),
            LoadBalancers=[
                LoadBalancer(
                    ContainerName=HUB_CONTAINER,
                    ContainerPort=network.HUB_PORT,
                    TargetGroupArn=Ref("HubTargetGroup"),
                )
            ],
            HealthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_SECONDS,
            ServiceRegistries=[ServiceRegistry(RegistryArn=GetAtt(add_hub_name(t), "Arn"))],
            EnableECSManagedTags=True,
            PropagateTags="SERVICE",
            Tags=_tags(),
        )
    )
    return {"cluster": cluster, "service": service}


def add_hub_name(t: Template) -> DiscoveryService:
    """The hub's stable name for its servers: a Cloud Map private DNS namespace in the VPC and
    a service whose A record ECS keeps pointed at the running hub task (registered when it runs,
    removed when it stops)."""
    namespace = t.add_resource(
        PrivateDnsNamespace(
            "HubNamespace",
            Name=Sub(f"${{AWS::StackName}}.{DISCOVERY_DOMAIN}"),
            Vpc=Ref("VpcId"),
            Description="Names of this shared hub inside its VPC",
            Tags=_tags(),
        )
    )
    return t.add_resource(
        DiscoveryService(
            "HubDiscoveryService",
            Name=HUB_DISCOVERY_NAME,
            Description="The running hub task, for users' servers (hub API)",
            NamespaceId=GetAtt(namespace, "Id"),
            DnsConfig=DnsConfig(
                DnsRecords=[DnsRecord(Type="A", TTL=DISCOVERY_TTL_SECONDS)],
                RoutingPolicy="MULTIVALUE",
            ),
            # ECS reports the task's health; no Route 53 health check (and its cost) is needed.
            HealthCheckCustomConfig=HealthCheckCustomConfig(FailureThreshold=1),
            Tags=_tags(),
        )
    )


def add_dns(t: Template, load_balancing: dict) -> RecordSetType:
    balancer = load_balancing["balancer"]
    return t.add_resource(
        RecordSetType(
            "HubDnsRecord",
            HostedZoneId=Ref("HostedZoneId"),
            Name=Ref("HubDomainName"),
            Type="A",
            AliasTarget=AliasTarget(
                DNSName=If(
                    p.NEW_LOAD_BALANCER,
                    GetAtt(balancer, "DNSName"),
                    Ref("ExistingLoadBalancerDnsName"),
                ),
                HostedZoneId=If(
                    p.NEW_LOAD_BALANCER,
                    GetAtt(balancer, "CanonicalHostedZoneID"),
                    Ref("ExistingLoadBalancerZoneId"),
                ),
                EvaluateTargetHealth=False,
            ),
        )
    )


def build(portfolio: Portfolio) -> Template:
    """The shared-hub template for a validated portfolio; pure, no I/O."""
    product = portfolio.products.shared_hub
    t = Template(Description=DESCRIPTION.format(version=product.version if product else ""))
    t.set_version("2010-09-09")
    p.add_parameters(t, portfolio)
    groups = network.add_security_groups(t)
    load_balancing = network.add_load_balancing(t, groups["balancer"])
    logs = add_logs(t)
    state = add_state(t, groups)
    compute = add_compute(t, groups, logs, state, load_balancing["rule"])
    add_dns(t, load_balancing)
    t.add_output(Output("HubUrl", Description="Open this", Value=Sub("https://${HubDomainName}")))
    t.add_output(Output("ClusterName", Value=Ref(compute["cluster"])))
    t.add_output(Output("HubServiceName", Value=GetAtt(compute["service"], "Name")))
    t.add_output(Output("HubLogGroup", Value=Ref(logs["hub"])))
    t.add_output(Output("ServerLogGroup", Condition=p.FARGATE_SERVERS, Value=Ref(logs["servers"])))
    t.add_output(
        Output(
            "LoadBalancerDnsName",
            Condition=p.NEW_LOAD_BALANCER,
            Value=GetAtt(load_balancing["balancer"], "DNSName"),
        )
    )
    return t
