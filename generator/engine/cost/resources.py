"""What the built templates create, read from the build (never from a hand-kept list).

A small evaluator resolves the parts of a template that decide cost: parameter defaults (or
the values a usage profile sets), conditions (Spot, hub hours), `Fn::If`,
`Fn::Select`/`Fn::Split` (Fargate "cpu:memory" sizes) and `Fn::FindInMap` (an instance type's
root volume). Anything else, such as `Fn::Sub` or `Fn::GetAtt`, resolves to None: no cost
depends on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from generator.cfn.names import BACKUP_TAG, BACKUP_TAG_HOMES
from generator.engine.build_folder import Build
from generator.model.problems import UserError


@dataclass(frozen=True, order=True)
class FargateSize:
    """A Fargate task size in its own units: cpu 1024 = 1 vCPU, memory in MiB."""

    cpu: int
    memory: int

    @classmethod
    def parse(cls, text: str) -> FargateSize:
        cpu, memory = text.split(":")
        return cls(int(cpu), int(memory))

    @property
    def vcpu(self) -> float:
        return self.cpu / 1024

    @property
    def gb(self) -> float:
        return self.memory / 1024

    def __str__(self) -> str:
        return f"{self.cpu}:{self.memory}"

    def fits(self, cpu: int, memory: int) -> bool:
        return self.cpu >= cpu and self.memory >= memory


class Stack:
    """One template, evaluated with its parameter defaults overridden by `values`."""

    def __init__(self, body: dict[str, Any], values: dict[str, Any] | None = None):
        self.body = body
        self.params = {
            name: spec.get("Default") for name, spec in body.get("Parameters", {}).items()
        }
        self.params.update(values or {})

    def allowed(self, parameter: str) -> list[str]:
        return [str(v) for v in self.body["Parameters"][parameter].get("AllowedValues", [])]

    def default(self, parameter: str) -> Any:
        return self.body["Parameters"][parameter].get("Default")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.body["Conditions"][name]))

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """The resources of type `kind` this stack creates, by logical id, with their properties."""
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in sorted(self.body.get("Resources", {}).items())
            if resource["Type"] == kind
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        }

    def resolve(self, value: Any) -> Any:
        """The value of a template expression, or None when it depends on the deployment."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.params.get(argument)
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(argument[0])
        if function == "Fn::And":
            return all(self.resolve(a) for a in argument)
        if function == "Fn::Or":
            return any(self.resolve(a) for a in argument)
        if function == "Fn::Select":
            index, items = self.resolve(argument[0]), self.resolve(argument[1])
            return None if items is None else items[int(index)]
        if function == "Fn::Split":
            separator, text = argument[0], self.resolve(argument[1])
            return None if text is None else str(text).split(separator)
        if function == "Fn::FindInMap":
            name, top, second = (self.resolve(a) for a in argument)
            return self.body["Mappings"][name].get(str(top), {}).get(second)
        return None


LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"


@dataclass(frozen=True)
class SharedHub:
    """What one shared-hub stack (one tier's hub) creates."""

    always_on_tasks: tuple[FargateSize, ...]  # ECS services x desired count, running all month
    server_task: FargateSize | None  # the per-user task (its default size)
    load_balancers: int  # the hub's own (its tier's setting, bound in the built template)
    file_systems: int
    log_groups: tuple[int, ...]  # retention in days of each log group
    secrets: int
    kms_keys: int
    alarms: int


@dataclass(frozen=True)
class PersonalHub:
    """What one personal-hub stack (one user) creates for an instance type."""

    instance_type: str
    root_volume_gb: int
    data_volume_gb: int
    volumes_gp3: bool
    alarms: int
    secrets: int
    kms_keys: int
    backed_up: bool  # the data volume carries the platform's backup tag


@dataclass(frozen=True)
class Platform:
    """The platform stack's resources that cost something whatever the usage."""

    kms_keys: int
    buckets: int
    repositories: int
    home_file_systems: int  # one per tier (products/platform/homes.py)
    backup_retention_days: int  # the longest rule of the homes' backup plan (0: none)
    # Tier -> days after which the homes' lifecycle moves a file unread that long to EFS
    # Infrequent Access (TransitionToIA); a tier whose homes have no such policy is absent.
    homes_to_infrequent_access: dict[str, int]
    load_balancers: int  # the root's own: one shared by every tier's shared hubs


class Templates:
    """The templates of a build (generated just now, or read by `build_folder.read`), by stack."""

    def __init__(self, build: Build):
        self.paths = {template.stack: template.path for template in build.templates}
        self.bodies = {template.stack: json.loads(template.text) for template in build.templates}
        # A product has one template per tier (its tier bound): what one hub costs is read from
        # its first tier's, found under the product's key too.
        self.product_tiers: dict[str, list[str]] = {}
        for body in list(self.bodies.values()):
            bound = body.get("Metadata", {}).get("labcatalog", {})
            if "tier" in bound:
                self.product_tiers.setdefault(bound["product"], []).append(bound["tier"])
                self.bodies.setdefault(bound["product"], body)

    def has(self, product: str) -> bool:
        return product in self.bodies

    def stack(self, product: str, **values: Any) -> Stack:
        if product not in self.bodies:
            raise UserError(
                f"the build has no {product} template; add the product to portfolio.yaml and "
                "run: labcatalog build"
            )
        return Stack(self.bodies[product], values)

    # shared-hub ---------------------------------------------------------------------------
    def tiers(self) -> list[str]:
        """The tiers the build has a shared-hub (or personal-hub) template for."""
        product = "shared-hub" if self.has("shared-hub") else "personal-hub"
        self.stack(product)  # refused with a clear message when the build has neither
        return self.product_tiers[product]

    def shared_hub(self, tier: str | None = None, **values: Any) -> SharedHub:
        """Resources of one shared hub of `tier` (its template; default: the first tier's);
        `values` override parameter defaults.

        The load balancers are what the tier's template creates: its own when the tier's
        settings give each hub one; none when its hubs use the account's load balancer (in the
        platform's root template) or an existing listener."""
        key = f"shared-hub/{tier}"
        stack = self.stack(key if tier and key in self.bodies else "shared-hub", **values)
        definitions = stack.resources("AWS::ECS::TaskDefinition")
        always_on, used = [], set()
        for service in stack.resources("AWS::ECS::Service").values():
            name = service["TaskDefinition"]["Ref"]
            used.add(name)
            count = int(stack.resolve(service.get("DesiredCount", 1)))
            always_on += [_task_size(stack, definitions[name])] * count
        others = [_task_size(stack, d) for n, d in definitions.items() if n not in used]
        retention = [
            int(stack.resolve(g.get("RetentionInDays")) or 0)
            for g in stack.resources("AWS::Logs::LogGroup").values()
        ]
        return SharedHub(
            always_on_tasks=tuple(always_on),
            server_task=others[0] if others else None,
            load_balancers=len(stack.resources(LOAD_BALANCER)),
            file_systems=len(stack.resources("AWS::EFS::FileSystem")),
            log_groups=tuple(retention),
            secrets=len(stack.resources("AWS::SecretsManager::Secret")),
            kms_keys=len(stack.resources("AWS::KMS::Key")),
            alarms=len(stack.resources("AWS::CloudWatch::Alarm")),
        )

    def fargate_sizes(self) -> list[FargateSize]:
        """Every task size the hub may be given (HubSize's allowed values), smallest first."""
        return sorted(FargateSize.parse(s) for s in self.stack("shared-hub").allowed("HubSize"))

    def fargate_arch(self, **values: Any) -> str:
        """The CPU architecture of the shared hub's tasks (x86_64 or arm64)."""
        stack = self.stack("shared-hub", **values)
        for definition in stack.resources("AWS::ECS::TaskDefinition").values():
            arch = definition.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
            return "arm64" if stack.resolve(arch) == "ARM64" else "x86_64"
        return "x86_64"

    # personal-hub -------------------------------------------------------------------------
    def personal_hub(self, **values: Any) -> PersonalHub:
        stack = self.stack("personal-hub", **values)
        instances = stack.resources("AWS::EC2::Instance")
        if len(instances) != 1:
            raise UserError("the personal-hub template should create exactly one EC2 instance")
        (instance,) = instances.values()
        root = sum(
            int(stack.resolve(m["Ebs"]["VolumeSize"]) or 0)
            for m in instance.get("BlockDeviceMappings", [])
            if "Ebs" in m
        )
        volumes = stack.resources("AWS::EC2::Volume").values()
        return PersonalHub(
            instance_type=str(stack.resolve(instance["InstanceType"])),
            root_volume_gb=root,
            data_volume_gb=sum(int(stack.resolve(v["Size"])) for v in volumes),
            volumes_gp3=all(v.get("VolumeType") == "gp3" for v in volumes),
            alarms=len(stack.resources("AWS::CloudWatch::Alarm")),
            secrets=len(stack.resources("AWS::SecretsManager::Secret")),
            kms_keys=len(stack.resources("AWS::KMS::Key")),
            backed_up=any(
                {"Key": BACKUP_TAG, "Value": BACKUP_TAG_HOMES} in v.get("Tags", []) for v in volumes
            ),
        )

    # platform -----------------------------------------------------------------------------
    def platform(self) -> Platform:
        stack = self.stack("platform")
        # Each tier's homes are in its nested template, platform/TIER.
        homes = {
            key.removeprefix("platform/"): self.stack(key).resources("AWS::EFS::FileSystem")
            for key in self.bodies
            if key.startswith("platform/")
        }
        return Platform(
            kms_keys=len(stack.resources("AWS::KMS::Key")),
            buckets=len(stack.resources("AWS::S3::Bucket")),
            repositories=len(stack.resources("AWS::ECR::Repository")),
            # One per tier, in the tier's template (nested in the platform's).
            home_file_systems=len(stack.resources("AWS::EFS::FileSystem"))
            + sum(len(systems) for systems in homes.values()),
            backup_retention_days=max(
                (
                    int(rule.get("Lifecycle", {}).get("DeleteAfterDays", 0))
                    for plan in stack.resources("AWS::Backup::BackupPlan").values()
                    for rule in plan["BackupPlan"]["BackupPlanRule"]
                ),
                default=0,
            ),
            homes_to_infrequent_access={
                tier: days
                for tier, systems in sorted(homes.items())
                if systems
                and (days := min(_days_to_infrequent_access(s) for s in systems.values()))
            },
            load_balancers=len(stack.resources(LOAD_BALANCER)),
        )


def _days_to_infrequent_access(file_system: dict[str, Any]) -> int:
    """The days of its TransitionToIA lifecycle policy ("AFTER_30_DAYS": 30); 0 without one."""
    for policy in file_system.get("LifecyclePolicies", []):
        found = re.fullmatch(r"AFTER_(\d+)_DAYS?", str(policy.get("TransitionToIA", "")))
        if found:
            return int(found.group(1))
    return 0


def _task_size(stack: Stack, definition: dict[str, Any]) -> FargateSize:
    return FargateSize(
        int(stack.resolve(definition["Cpu"])), int(stack.resolve(definition["Memory"]))
    )
