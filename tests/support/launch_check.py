"""The calls CloudFormation makes with a tier's launch role, as requests for the IAM evaluator.

The platform side: the tier's launch role as the built platform templates define it (inline,
attached managed policies), rendered for account ACCOUNT, region REGION and the tier.

The product side: each resource of a product template, rendered for the tier, becomes
`Subject`s: the resource itself (its ARN, its tags) and the resources CloudFormation's handler
acts on for it (the cluster of a service, the roles a task definition passes, the security group
of a rule, the key of a file system...). `requests` pairs a handler's permission with the
subjects whose ARNs are of the action's resource types (the evaluator's own data,
tests/support/iam_data.py), with the context keys the service sends: request tags when the
resource is created or tagged, resource tags otherwise, and what the subject adds (the service a
role is passed to, the service a key is used through, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from generator.cfn import names
from generator.engine import build as builder
from generator.model.config import Portfolio
from tests.support import iam_data
from tests.support.cfn_values import ACCOUNT, REGION, STACK_NAME, Values, fake_id, tags_of
from tests.support.iam_evaluator import Request

HANDLERS = ("create", "read", "update", "delete")
TAG_ACTIONS = {
    "TagResource",
    "UntagResource",
    "CreateTags",
    "DeleteTags",
    "AddTags",
    "RemoveTags",
    "AddTagsToResource",
}
CREATE_ACTION_KEY = {
    "ec2": "ec2:CreateAction",
    "ecs": "ecs:CreateAction",
    "elasticfilesystem": "elasticfilesystem:CreateAction",
    "elasticloadbalancing": "elasticloadbalancing:CreateAction",
}


def arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


# --- the platform: a tier's launch role ---


class Platform:
    """The platform's templates (root and tiers as one body) rendered for one account."""

    def __init__(self, portfolio: Portfolio):
        from tests.conftest import platform_body

        self.portfolio = portfolio
        self.body = platform_body(portfolio)
        self.resources = self.body["Resources"]

    def values(self, tier: str) -> Values:
        stack = self.resources[f"{self.portfolio.tier(tier).logical_id}TierStack"]
        handed = stack["Properties"]["Parameters"]
        # A tier template's parameter is what the root hands the tier's nested stack, evaluated
        # in the root (where the same name is the root's resource).
        root_parameters = {
            k: v for k, v in self.body["Parameters"].items() if k not in self.resources
        }
        root = Values(
            {**self.body, "Parameters": root_parameters}, {}, self.ref, self.getatt, self.ssm
        )
        return Values(
            self.body,
            _Lazy(lambda name: root.value(handed[name]), handed),
            self.ref,
            self.getatt,
            self.ssm,
        )

    def ref(self, logical: str):
        resource = self.resources[logical]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            return props["RoleName"]
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{props['ManagedPolicyName']}"
        if kind == "AWS::IAM::InstanceProfile":
            return props["InstanceProfileName"]
        if kind == "AWS::SSM::Parameter":
            return props["Name"]
        prefixes = {
            "AWS::EC2::SecurityGroup": "sg-",
            "AWS::EFS::FileSystem": "fs-",
            "AWS::EFS::AccessPoint": "fsap-",
            "AWS::KMS::Key": "",
        }
        if kind in prefixes:
            return fake_id(prefixes[kind], logical)
        return props.get("BucketName", logical.lower())

    def getatt(self, logical: str, attribute: str):
        kind = self.resources[logical]["Type"]
        if attribute == "Arn":
            if kind == "AWS::IAM::Role":
                return f"arn:aws:iam::{ACCOUNT}:role/{self.ref(logical)}"
            if kind == "AWS::IAM::InstanceProfile":
                return f"arn:aws:iam::{ACCOUNT}:instance-profile/{self.ref(logical)}"
            if kind == "AWS::KMS::Key":
                return arn("kms", f"key/{self.ref(logical)}")
            return arn("placeholder", logical)
        return self.ref(logical)

    def ssm(self, name: str) -> str:
        raise AssertionError(f"the platform reads no SSM parameter ({name})")

    def launch_role(self, tier: str) -> tuple[str, str, dict]:
        """(logical id, role name, properties) of the tier's launch role."""
        name = names.LAUNCH_ROLE.format(tier=tier)
        (logical,) = [
            k
            for k, r in self.resources.items()
            if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == name
        ]
        return logical, name, self.resources[logical]["Properties"]

    def launch_policies(self, tier: str) -> tuple[dict, ...]:
        """Every identity policy of the tier's launch role, rendered: inline, managed, attached."""
        logical, _, role = self.launch_role(tier)
        values = self.values(tier)
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        by_arn = {
            self.ref(k): r["Properties"]["PolicyDocument"]
            for k, r in self.resources.items()
            if r["Type"] == "AWS::IAM::ManagedPolicy"
        }
        documents += [by_arn[values.value(m)] for m in role.get("ManagedPolicyArns", [])]
        documents += [
            r["Properties"]["PolicyDocument"]
            for r in self.resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": logical} in r["Properties"]["Roles"]
        ]
        return tuple(values.value(d) for d in documents)

    def launch_principal(self, tier: str) -> tuple[str, dict[str, str]]:
        """The launch role's ARN and the context keys IAM sets for its sessions (its tags)."""
        _, name, role = self.launch_role(tier)
        principal = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        tags = tags_of(self.values(tier).value({"Tags": role.get("Tags", [])}))
        return principal, {
            "aws:PrincipalArn": principal,
            "aws:PrincipalAccount": ACCOUNT,
            **{f"aws:PrincipalTag/{k}": v for k, v in tags.items()},
        }

    def parameter(self, tier: str, name: str) -> tuple[str, dict[str, str]]:
        """An SSM parameter the platform publishes for `tier`: its value, and the tags of the
        platform resource it names (if it names one)."""
        values = self.values(tier)
        for resource in self.resources.values():
            if resource["Type"] != "AWS::SSM::Parameter":
                continue
            props = resource["Properties"]
            if values.value(props["Name"]) != name:
                continue
            node = props["Value"]
            tags: dict[str, str] = {}
            target = None
            if isinstance(node, dict):
                target = node.get("Ref") or (node.get("Fn::GetAtt") or [None])[0]
            if target in self.resources:
                tags = tags_of(values.value(self.resources[target].get("Properties", {})))
            return str(values.value(node)), tags
        raise KeyError(f"the platform publishes no parameter {name} for tier {tier}")

    def key_policy(self, tier: str, key_arn: str) -> dict | None:
        """The key policy of the platform's KMS key with this ARN (KMS judges both)."""
        values = self.values(tier)
        for logical, resource in self.resources.items():
            if resource["Type"] == "AWS::KMS::Key" and self.getatt(logical, "Arn") == key_arn:
                return values.value(resource["Properties"]["KeyPolicy"])
        return None

    def instance_profile_roles(self, tier: str, profile: str) -> list[str]:
        values = self.values(tier)
        for resource in self.resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::InstanceProfile" and (
                props["InstanceProfileName"] == profile
            ):
                return [f"arn:aws:iam::{ACCOUNT}:role/{values.value(r)}" for r in props["Roles"]]
        raise KeyError(profile)


class _Lazy(dict):
    def __init__(self, make: Callable[[str], object], keys):
        super().__init__()
        self._make, self._keys = make, set(keys)

    def __contains__(self, name) -> bool:
        return name in self._keys

    def __getitem__(self, name):
        return self._make(name)


def product_templates(portfolio: Portfolio) -> dict[str, dict]:
    """Each product template the build makes, by its path in build/ (built from the code, its
    tier and the tier's settings bound)."""
    return {
        stack.path: json.loads(builder.render(builder.template_body(stack.build(portfolio), stack)))
        for stack in builder.stacks(portfolio)
        if stack.version is not None
    }


# --- the product: subjects of each resource ---


@dataclass(frozen=True)
class Subject:
    """A resource a handler acts on: the handled resource itself (`own`) or one it names."""

    arn: str
    tags: dict[str, str] = field(default_factory=dict)
    context: dict[str, object] = field(default_factory=dict)
    own: bool = False
    # Keys only the call that creates the resource carries (`ec2:InstanceProfile`, ...).
    creation: dict[str, object] = field(default_factory=dict)
    # The resource's own policy, where the service judges it with the caller's (a key policy).
    policy: dict | None = None


@dataclass
class Rendered:
    """One product template rendered for one tier with one set of parameter values."""

    platform: Platform
    tier: str
    template: dict
    parameters: dict[str, object]
    # Tags of resources the product names but does not make (a listener of the tier's...).
    external_tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self):
        params = dict(self.parameters)
        if "Tier" in self.template.get("Parameters", {}):
            params.setdefault("Tier", self.tier)
        self.values = Values(self.template, params, self.ref, self.getatt, self.ssm)
        self.resources = self.template["Resources"]
        self._props: dict[str, dict] = {}
        # The SSM parameters CloudFormation reads for the stack (dynamic references).
        self.ssm_read: set[str] = set()

    def ssm(self, name: str) -> str:
        self.ssm_read.add(name)
        if name.startswith("/aws/service/"):
            return fake_id("ami-", name)  # a public AMI parameter
        value, tags = self.platform.parameter(self.tier, name)
        if tags:
            self.external_tags[value] = tags
        return value

    def props(self, logical: str) -> dict:
        if logical not in self._props:
            self._props[logical] = self.values.value(self.resources[logical].get("Properties", {}))
        return self._props[logical]

    def tags(self, logical: str) -> dict[str, str]:
        return tags_of(self.props(logical))

    def ref(self, logical: str):
        kind = self.resources[logical]["Type"]
        make = PHYSICAL_IDS.get(kind)
        if make is None:
            return fake_id(f"{logical.lower()}-", logical)
        return make(self, logical)

    def getatt(self, logical: str, attribute: str):
        kind = self.resources[logical]["Type"]
        if (kind, attribute) == ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName"):
            return f"{logical.lower()}.{REGION}.elb.amazonaws.com"
        if attribute in ("CanonicalHostedZoneID",):
            return "Z35SXDOTRQ7X7K"
        if attribute == "AvailabilityZone":
            return f"{REGION}a"
        return self.ref(logical)

    def tags_of_arn(self, arn_or_id: str) -> dict[str, str]:
        """Tags of a resource the template names by ARN or id: its own, or the platform's."""
        for logical in self.resources:
            if self.values.active(logical) and self.ref(logical) == arn_or_id:
                return self.tags(logical)
        return self.external_tags.get(arn_or_id, {})

    def subjects(self, logical: str) -> list[Subject]:
        kind = self.resources[logical]["Type"]
        return SUBJECTS[kind](self, logical)


def _name(r: Rendered, logical: str, limit: int = 32) -> str:
    """A name CloudFormation generates (`<stack>-<logical>-<random>`), within `limit`."""
    return f"{STACK_NAME[:12]}-{logical[:5]}-{fake_id('', logical, 12).upper()}"[:limit]


def _load_balancer_arn(r: Rendered, logical: str) -> str:
    return arn(
        "elasticloadbalancing", f"loadbalancer/app/{_name(r, logical)}/{fake_id('', logical, 16)}"
    )


def _listener_arn(r: Rendered, logical: str) -> str:
    balancer = r.props(logical)["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    return arn("elasticloadbalancing", f"listener/{balancer}/{fake_id('', logical, 16)}")


def _rule_arn(r: Rendered, logical: str) -> str:
    listener = r.props(logical)["ListenerArn"].split(":listener/", 1)[1]
    return arn("elasticloadbalancing", f"listener-rule/{listener}/{fake_id('', logical, 16)}")


def _secret_arn(r: Rendered, logical: str) -> str:
    return arn("secretsmanager", f"secret:{r.props(logical)['Name']}-AbCdEf")


def _service_arn(r: Rendered, logical: str) -> str:
    props = r.props(logical)
    name = props.get("ServiceName") or _name(r, logical, 255)
    return arn("ecs", f"service/{props['Cluster']}/{name}")


PHYSICAL_IDS: dict[str, Callable[[Rendered, str], object]] = {
    "AWS::EC2::SecurityGroup": lambda r, k: fake_id("sg-", k),
    "AWS::EC2::SecurityGroupIngress": lambda r, k: fake_id("sgr-", k),
    "AWS::EC2::SecurityGroupEgress": lambda r, k: fake_id("sgr-", k),
    "AWS::EC2::Instance": lambda r, k: fake_id("i-", k),
    "AWS::EC2::Volume": lambda r, k: fake_id("vol-", k),
    "AWS::EFS::FileSystem": lambda r, k: fake_id("fs-", k),
    "AWS::EFS::AccessPoint": lambda r, k: fake_id("fsap-", k),
    "AWS::EFS::MountTarget": lambda r, k: fake_id("fsmt-", k),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": lambda r, k: fake_id("ns-", k, 16),
    "AWS::ServiceDiscovery::Service": lambda r, k: fake_id("srv-", k, 16),
    "AWS::ECS::Cluster": lambda r, k: r.props(k)["ClusterName"],
    "AWS::ECS::Service": _service_arn,
    "AWS::ECS::TaskDefinition": lambda r, k: arn(
        "ecs", f"task-definition/{r.props(k)['Family']}:1"
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer_arn,
    "AWS::ElasticLoadBalancingV2::Listener": _listener_arn,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _rule_arn,
    "AWS::ElasticLoadBalancingV2::TargetGroup": lambda r, k: arn(
        "elasticloadbalancing", f"targetgroup/{_name(r, k)}/{fake_id('', k, 16)}"
    ),
    "AWS::Logs::LogGroup": lambda r, k: r.props(k)["LogGroupName"],
    "AWS::SecretsManager::Secret": _secret_arn,
    "AWS::CloudWatch::Alarm": lambda r, k: r.props(k)["AlarmName"],
    "AWS::Route53::RecordSet": lambda r, k: r.props(k)["Name"],
}


def _own(r: Rendered, logical: str, resource_arn: str, **creation) -> Subject:
    return Subject(resource_arn, r.tags(logical), own=True, creation=creation)


def _related(r: Rendered, resource_arn: str, id_: str | None = None, **context) -> Subject:
    return Subject(resource_arn, r.tags_of_arn(id_ or resource_arn), context)


def _custom_resource(r, k):
    """The function CloudFormation invokes: the resource's ServiceToken."""
    return [_related(r, r.props(k)["ServiceToken"])]


def _ec2(kind: str, id_: str) -> str:
    return arn("ec2", f"{kind}/{id_}")


def _key(r: Rendered, key: str, service: str) -> Subject:
    return Subject(
        key,
        policy=r.platform.key_policy(r.tier, key),
        context={
            "kms:ViaService": f"{service}.{REGION}.amazonaws.com",
            "kms:GrantIsForAWSResource": "true",
            "kms:CallerAccount": ACCOUNT,
        },
    )


def _passed(role_arn: str, service: str) -> Subject:
    return Subject(role_arn, context={"iam:PassedToService": service})


def _security_group(r, k):
    props = r.props(k)
    return [
        _own(r, k, _ec2("security-group", r.ref(k))),
        _related(r, _ec2("vpc", props["VpcId"]), props["VpcId"]),
        # Inline rules become security group rules of the group.
        Subject(_ec2("security-group-rule", fake_id("sgr-", k + "inline"))),
    ]


def _security_group_rule(r, k):
    group = r.props(k)["GroupId"]
    return [
        _own(r, k, _ec2("security-group-rule", r.ref(k))),
        _related(r, _ec2("security-group", group), group),
    ]


def _instance(r, k):
    props = r.props(k)
    (interface,) = props["NetworkInterfaces"]
    profile = props["IamInstanceProfile"]
    tags = r.tags(k)
    request_tags = {f"aws:RequestTag/{t}": v for t, v in tags.items()}
    subjects = [
        _own(
            r,
            k,
            _ec2("instance", r.ref(k)),
            **{
                "ec2:InstanceProfile": f"arn:aws:iam::{ACCOUNT}:instance-profile/{profile}",
                "ec2:MetadataHttpTokens": props.get("MetadataOptions", {}).get("HttpTokens"),
                "ec2:InstanceType": props["InstanceType"],
            },
        ),
        Subject(
            arn("ec2", f"image/{props['ImageId']}", account=""),
            context={"ec2:Owner": "amazon", "ec2:Public": "true"},
        ),
        _related(r, _ec2("subnet", interface["SubnetId"]), interface["SubnetId"]),
        *(_related(r, _ec2("security-group", g), g) for g in interface["GroupSet"]),
        # Made by the launch itself: the interface and, with the instance's tags
        # (PropagateTagsToVolumeOnCreation), its root volume.
        Subject(
            _ec2("network-interface", fake_id("eni-", k)),
            context={
                "ec2:AssociatePublicIpAddress": str(interface["AssociatePublicIpAddress"]).lower()
            },
        ),
        *(
            Subject(
                _ec2("volume", fake_id("vol-", k + mapping["DeviceName"])),
                context={
                    **(request_tags if props.get("PropagateTagsToVolumeOnCreation") else {}),
                    "ec2:Encrypted": str(mapping["Ebs"].get("Encrypted", False)).lower(),
                },
            )
            for mapping in props.get("BlockDeviceMappings", [])
        ),
    ]
    subjects += [
        _passed(role, "ec2.amazonaws.com")
        for role in r.platform.instance_profile_roles(r.tier, profile)
    ]
    return subjects


def _volume(r, k):
    props = r.props(k)
    subjects = [
        _own(
            r,
            k,
            _ec2("volume", r.ref(k)),
            **{"ec2:Encrypted": "true" if props.get("Encrypted") else "false"},
        )
    ]
    if props.get("SnapshotId"):
        subjects.append(
            Subject(
                arn("ec2", f"snapshot/{props['SnapshotId']}", account=""),
                context={"ec2:Owner": ACCOUNT},
            )
        )
    return subjects


def _volume_attachment(r, k):
    props = r.props(k)
    return [
        _related(r, _ec2("instance", props["InstanceId"]), props["InstanceId"]),
        _related(r, _ec2("volume", props["VolumeId"]), props["VolumeId"]),
    ]


def _alarm(r, k):
    return [_own(r, k, arn("cloudwatch", f"alarm:{r.ref(k)}"))]


def _cluster(r, k):
    return [_own(r, k, arn("ecs", f"cluster/{r.ref(k)}"))]


def _service(r, k):
    props = r.props(k)
    service = r.ref(k)
    cluster, name = service.split(":service/", 1)[1].split("/")
    return [
        _own(r, k, service),
        _related(r, arn("ecs", f"cluster/{props['Cluster']}"), props["Cluster"]),
        Subject(arn("ecs", f"service-deployment/{cluster}/{name}/{fake_id('', k, 20)}")),
    ]


def _task_definition(r, k):
    props = r.props(k)
    roles = [props[p] for p in ("TaskRoleArn", "ExecutionRoleArn") if props.get(p)]
    return [
        _own(r, k, r.ref(k)),
        *(_passed(role, "ecs-tasks.amazonaws.com") for role in roles),
    ]


def _file_system(r, k):
    props = r.props(k)
    subjects = [_own(r, k, arn("elasticfilesystem", f"file-system/{r.ref(k)}"))]
    if props.get("KmsKeyId"):
        subjects.append(_key(r, props["KmsKeyId"], "elasticfilesystem"))
    return subjects


def _file_system_of(r, k):
    fs = r.props(k)["FileSystemId"]
    return _related(r, arn("elasticfilesystem", f"file-system/{fs}"), fs)


def _access_point(r, k):
    return [_own(r, k, arn("elasticfilesystem", f"access-point/{r.ref(k)}")), _file_system_of(r, k)]


def _mount_target(r, k):
    return [_file_system_of(r, k)]


def _load_balancer(r, k):
    return [_own(r, k, r.ref(k))]


def _listener(r, k):
    props = r.props(k)
    return [
        _own(r, k, r.ref(k)),
        _related(r, props["LoadBalancerArn"]),
    ]


def _listener_rule(r, k):
    return [_own(r, k, r.ref(k)), _related(r, r.props(k)["ListenerArn"])]


def _target_group(r, k):
    return [_own(r, k, r.ref(k))]


def _log_group(r, k):
    return [_own(r, k, arn("logs", f"log-group:{r.ref(k)}"))]


def _secret(r, k):
    return [_own(r, k, r.ref(k))]


def _namespace(r, k):
    return [
        _own(r, k, arn("servicediscovery", f"namespace/{r.ref(k)}")),
        Subject(arn("route53", f"hostedzone/{fake_id('Z', k, 13).upper()}", region="", account="")),
    ]


def _discovery_service(r, k):
    namespace = r.props(k)["NamespaceId"]
    return [
        _own(r, k, arn("servicediscovery", f"service/{r.ref(k)}")),
        _related(r, arn("servicediscovery", f"namespace/{namespace}"), namespace),
    ]


def _record_set(r, k):
    props = r.props(k)
    zone = props["HostedZoneId"]
    return [
        Subject(
            arn("route53", f"hostedzone/{zone}", region="", account=""),
            r.external_tags.get(zone, {}),
            context={
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    props["Name"].rstrip(".").lower()
                ],
                "route53:ChangeResourceRecordSetsRecordTypes": [props["Type"]],
                "route53:ChangeResourceRecordSetsActions": ["CREATE", "UPSERT", "DELETE"],
            },
            own=True,
        ),
        Subject(arn("route53", "change/C0123456789ABCDEFGHIJ", region="", account="")),
    ]


SUBJECTS: dict[str, Callable[[Rendered, str], list[Subject]]] = {
    "AWS::EC2::SecurityGroup": _security_group,
    "AWS::EC2::SecurityGroupIngress": _security_group_rule,
    "AWS::EC2::SecurityGroupEgress": _security_group_rule,
    "AWS::EC2::Instance": _instance,
    "AWS::EC2::Volume": _volume,
    "AWS::EC2::VolumeAttachment": _volume_attachment,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::ECS::Cluster": _cluster,
    "AWS::ECS::Service": _service,
    "AWS::ECS::TaskDefinition": _task_definition,
    "AWS::EFS::FileSystem": _file_system,
    "AWS::EFS::AccessPoint": _access_point,
    "AWS::EFS::MountTarget": _mount_target,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::ElasticLoadBalancingV2::Listener": _listener,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _listener_rule,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace,
    "AWS::ServiceDiscovery::Service": _discovery_service,
    "AWS::Route53::RecordSet": _record_set,
    "Custom::HubRoute": _custom_resource,
}


# --- handler permissions as requests ---


def handler_permissions(resource_type: str) -> dict[str, list[str]] | None:
    """The CloudFormation registry schema's `handlers.<op>.permissions` (as cfn-lint ships
    them) for create, read, update and delete; None for a type without handlers. A custom
    resource has no schema: CloudFormation invokes its function (its ServiceToken) with the
    stack's role to create, update and delete it."""
    if resource_type.startswith("Custom::"):
        return {op: ["lambda:InvokeFunction"] for op in ("create", "update", "delete")}
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    handlers = schema.get("handlers")
    if not handlers:
        return None
    return {op: sorted(set(handlers.get(op, {}).get("permissions", []))) for op in HANDLERS}


@dataclass(frozen=True)
class Call:
    """One permission a handler needs for one resource, and the requests that prove it."""

    resource_type: str
    logical: str
    handler: str
    action: str
    requests: tuple[Request, ...]
    unresolved: str = ""


def _creating_action(action: str, handler: str) -> bool:
    name = action.split(":", 1)[1]
    return (
        handler == "create"
        and name not in TAG_ACTIONS
        and name.startswith(("Create", "Run", "Register", "Put"))
        and "aws:RequestTag/${TagKey}" in iam_data.condition_keys(action)
    )


def _context(
    subject: Subject, action: str, handler: str, creating: str | None, own: Subject | None
) -> dict:
    if not subject.own:
        tags = {f"aws:ResourceTag/{k}": v for k, v in subject.tags.items()}
        if own is not None and _creating_action(action, handler):
            # Made on a parent (a rule on its listener): the call carries the new one's tags.
            tags.update(_context(own, action, handler, creating, own))
        return {**tags, **subject.context}
    request_tags = {f"aws:RequestTag/{k}": v for k, v in subject.tags.items()}
    resource_tags = {f"aws:ResourceTag/{k}": v for k, v in subject.tags.items()}
    keys = {"aws:TagKeys": sorted(subject.tags)} if subject.tags else {}
    service, name = action.split(":", 1)
    if _creating_action(action, handler):
        return {**request_tags, **keys, **subject.creation, **subject.context}
    if name in TAG_ACTIONS:
        context = {**resource_tags, **request_tags, **keys, **subject.context}
        if handler == "create" and creating and service in CREATE_ACTION_KEY:
            context[CREATE_ACTION_KEY[service]] = creating
        return context
    return {**resource_tags, **subject.context}


def calls(
    rendered: Rendered,
    principal: str,
    principal_context: dict,
    policies: tuple[dict, ...],
    skip: Callable[[str, str], bool],
    unsafe: frozenset[str] = frozenset(),
) -> Iterator[Call]:
    """Every handler permission of every active resource, as evaluator requests."""
    for logical, resource in sorted(rendered.resources.items()):
        if not rendered.values.active(logical):
            continue
        kind = resource["Type"]
        permissions = handler_permissions(kind)
        if permissions is None or skip(kind, "*"):
            continue
        if kind not in SUBJECTS:
            yield Call(
                kind, logical, "-", "-", (), f"no ARN is known for {kind}: add it to SUBJECTS"
            )
            continue
        subjects = rendered.subjects(logical)
        own_subject = next((s for s in subjects if s.own), None)
        for handler, actions in permissions.items():
            creating = next(
                (
                    a.split(":", 1)[1]
                    for a in actions
                    if iam_data.known(a) and _creating_action(a, handler)
                ),
                None,
            )
            for action in actions:
                if skip(kind, action):
                    continue
                if not iam_data.known(action):
                    yield Call(
                        kind, logical, handler, action, (), "the evaluator knows no such action"
                    )
                    continue

                def request(subject: Subject | None, context: dict, action=action) -> Request:
                    return Request(
                        principal,
                        action,
                        subject.arn if subject else "*",
                        {**principal_context, **context},
                        policies,
                        subject.policy if subject else None,
                        unsafe=action in unsafe,
                    )

                types = iam_data.resource_types(action)
                if not types:
                    # No resource type: the request names `*`, and carries what the call
                    # sends about the resource (the tags it is created with...).
                    context = (
                        _context(own_subject, action, handler, creating, own_subject)
                        if own_subject
                        else {}
                    )
                    yield Call(kind, logical, handler, action, (request(None, context),))
                    continue
                own = [
                    s
                    for s in subjects
                    if s.own and (action in unsafe or iam_data.matching(action, s.arn))
                ]
                related = [s for s in subjects if not s.own and iam_data.matching(action, s.arn)]
                if own:
                    chosen = own + [
                        s
                        for s in related
                        if any(t.required for t in iam_data.matching(action, s.arn))
                    ]
                else:
                    chosen = related
                if not chosen:
                    yield Call(
                        kind,
                        logical,
                        handler,
                        action,
                        (),
                        f"none of {logical}'s subjects is of {action}'s resource types "
                        f"({', '.join(t.name for t in types)})",
                    )
                    continue
                yield Call(
                    kind,
                    logical,
                    handler,
                    action,
                    tuple(
                        request(s, _context(s, action, handler, creating, own_subject))
                        for s in chosen
                    ),
                )
