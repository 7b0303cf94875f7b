"""Teach moto's CloudFormation the settings it drops, so a deploy can be checked by describe calls.

moto 5.2 creates an `AWS::S3::Bucket` with its encryption and tags only; versioning, lifecycle,
public access block and ownership controls are silently dropped, and `AWS::S3::BucketPolicy` is
not created at all. It also fails on a KMS key with Tags (it expects the API's TagKey/TagValue).
For the shared hub: it leaves `{{resolve:ssm:...}}` dynamic references as literal text, registers
an `AWS::ECS::TaskDefinition` without its roles, CPU or network mode, creates an
`AWS::ECS::Service` without its network configuration, load balancers or launch type, and has no
`AWS::EC2::SecurityGroupEgress` at all. Two resolver bugs are fixed too: an `AWS::NoValue` inside
a list stays as a null element (CloudFormation removes it), a list parameter's *default* is
not split into a list (only passed values are), and a Ref to an EFS access point gives the
object instead of its id.
This module maps those template properties onto moto's own backend calls (the same ones its
REST API uses), so the deploy tests can read them back with ordinary boto3 describe calls. What
it proves: the template carries these settings in the shape CloudFormation documents, and they
reference the right resources. What it cannot prove: that AWS accepts them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
import zipfile
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ec2.models import ec2_backends
from moto.ecs.models import Service as EcsService
from moto.ecs.models import TaskDefinition as EcsTaskDefinition
from moto.ecs.models import ecs_backends
from moto.efs.models import AccessPoint as EfsAccessPoint
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup, elbv2_backends
from moto.kms.models import Key as KmsKey
from moto.s3.models import FakeBucket, s3_backends
from moto.servicediscovery.models import Namespace as DiscoveryNamespace
from moto.servicediscovery.models import servicediscovery_backends
from moto.ssm.models import ssm_backends
from moto.utilities.utils import get_partition

from tests.support.custom_resource import Responses

_original_create = FakeBucket.create_from_cloudformation_json.__func__
_original_create_key = KmsKey.create_from_cloudformation_json.__func__
_original_clean_json = parsing.clean_json
_SSM_REFERENCE = re.compile(r"\{\{resolve:ssm:([^}:]+)\}\}")


def _lifecycle_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation lifecycle rules -> the parsed-XML shape moto's backend stores."""
    rules = []
    for rule in config.get("Rules", []):
        api: dict[str, Any] = {
            "ID": rule.get("Id"),
            "Status": rule["Status"],
            "Filter": {"Prefix": ""},
        }
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "NoncurrentVersionExpiration" in rule:
            api["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            }
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api)
    return rules


def _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    bucket = _original_create(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    backend = s3_backends[account_id][get_partition(region_name)]
    properties = cloudformation_json.get("Properties", {})
    if "VersioningConfiguration" in properties:
        backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in properties:
        rule = properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        backend.put_bucket_ownership_controls(bucket.name, ownership=rule)
    if "LifecycleConfiguration" in properties:
        backend.put_bucket_lifecycle_configuration(
            bucket.name, _lifecycle_rules(properties["LifecycleConfiguration"])
        )
    return bucket


def _create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """moto reads KMS key Tags from CloudFormation as TagKey/TagValue; templates say Key/Value."""
    properties = dict(cloudformation_json.get("Properties", {}))
    properties["Tags"] = [
        {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])
    ]
    return _original_create_key(
        cls,
        resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
        **kwargs,
    )


class BucketPolicyResource(CloudFormationModel):
    """`AWS::S3::BucketPolicy`, stored with moto's PutBucketPolicy backend call."""

    def __init__(self, bucket_name: str):
        self.bucket_name = bucket_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @property
    def physical_resource_id(self) -> str:
        return self.bucket_name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        backend = s3_backends[account_id][get_partition(region_name)]
        document = json.dumps(properties["PolicyDocument"]).encode()
        backend.put_bucket_policy(properties["Bucket"], document)
        return cls(properties["Bucket"])


_original_load_parameters = parsing.ResourceMap.load_parameters


def _load_parameters(self) -> None:
    """moto's parameter loading, then split list defaults as CloudFormation does."""
    _original_load_parameters(self)
    for name, slot in self._template.get("Parameters", {}).items():
        value = self.resolved_parameters.get(name)
        is_list = slot.get("Type") == "CommaDelimitedList" or slot.get("Type", "").startswith(
            "List"
        )
        if is_list and isinstance(value, str):
            self.resolved_parameters[name] = value.split(",")
            self._parsed_resources[name] = self.resolved_parameters[name]


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    """moto's intrinsic-function resolver, then `{{resolve:ssm:NAME}}` from moto's SSM."""
    value = _original_clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(value, list):
        return [item for item in value if item is not None]  # AWS::NoValue leaves no element
    if isinstance(value, str) and "{{resolve:ssm:" in value:
        ssm = ssm_backends[resources_map._account_id][resources_map._region_name]

        def lookup(match: re.Match) -> str:
            parameter = ssm.get_parameter(match.group(1))
            if parameter is None:  # CloudFormation fails the stack; so does this
                raise ValueError(f"SSM parameter {match.group(1)} does not exist")
            return parameter.value

        value = _SSM_REFERENCE.sub(lookup, value)
    return value


def _create_task_definition(
    cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
):
    """A task definition with the settings moto's CloudFormation drops (roles, size, network)."""
    properties = cloudformation_json["Properties"]
    return ecs_backends[account_id][region_name].register_task_definition(
        family=properties["Family"],
        container_definitions=remap_nested_keys(
            properties.get("ContainerDefinitions", []), pascal_to_camelcase
        ),
        volumes=remap_nested_keys(properties.get("Volumes", []), pascal_to_camelcase),
        network_mode=properties.get("NetworkMode"),
        requires_compatibilities=properties.get("RequiresCompatibilities"),
        cpu=properties.get("Cpu"),
        memory=properties.get("Memory"),
        task_role_arn=properties.get("TaskRoleArn"),
        execution_role_arn=properties.get("ExecutionRoleArn"),
        runtime_platform=remap_nested_keys(
            properties.get("RuntimePlatform", {}), pascal_to_camelcase
        ),
    )


def _create_service(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """A service with its launch type, network configuration and load balancers."""
    properties = cloudformation_json["Properties"]
    cluster = properties["Cluster"]
    task_definition = properties["TaskDefinition"]
    return ecs_backends[account_id][region_name].create_service(
        getattr(cluster, "name", cluster),
        resource_name,
        properties.get("DesiredCount"),
        task_definition_str=getattr(task_definition, "arn", task_definition),
        load_balancers=remap_nested_keys(properties.get("LoadBalancers", []), pascal_to_camelcase),
        launch_type=properties.get("LaunchType"),
        network_configuration=remap_nested_keys(
            properties.get("NetworkConfiguration", {}), pascal_to_camelcase
        ),
        service_registries=remap_nested_keys(
            properties.get("ServiceRegistries", []), pascal_to_camelcase
        ),
    )


class SecurityGroupEgressResource(CloudFormationModel):
    """`AWS::EC2::SecurityGroupEgress`, stored with moto's AuthorizeSecurityGroupEgress."""

    def __init__(self, group_id: str):
        self.group_id = group_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SecurityGroupEgress"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @property
    def physical_resource_id(self) -> str:
        return self.group_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        destination = properties.get("DestinationSecurityGroupId")
        ranges = []
        if "CidrIp" in properties:
            ranges = [
                {"CidrIp": properties["CidrIp"], "Description": properties.get("Description")}
            ]
        ec2_backends[account_id][region_name].authorize_security_group_egress(
            group_name_or_id=properties["GroupId"],
            ip_protocol=properties["IpProtocol"],
            from_port=properties.get("FromPort"),
            to_port=properties.get("ToPort"),
            ip_ranges=ranges,
            source_groups=[{"GroupId": destination}] if destination else [],
        )
        return cls(properties["GroupId"])


class PrivateDnsNamespaceResource(CloudFormationModel):
    """`AWS::ServiceDiscovery::PrivateDnsNamespace` in moto's Cloud Map backend.

    moto's API refuses a second private namespace in a VPC; AWS allows it (each namespace is a
    private hosted zone of its own name), and several hubs share a VPC, so it is stored directly.
    """

    def __init__(self, namespace: DiscoveryNamespace):
        self.namespace = namespace

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::PrivateDnsNamespace"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Arn")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"Id": self.namespace.id, "Arn": self.namespace.arn}[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.namespace.id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        backend = servicediscovery_backends[account_id][region_name]
        namespace = DiscoveryNamespace(
            account_id=account_id,
            region=region_name,
            name=properties["Name"],
            ns_type="DNS_PRIVATE",
            creator_request_id=resource_name,
            description=properties.get("Description", ""),
            dns_properties={},
            http_properties={},
            vpc=properties["Vpc"],
        )
        backend.namespaces[namespace.id] = namespace
        if properties.get("Tags"):
            backend.tagger.tag_resource(namespace.arn, properties["Tags"])
        return cls(namespace)


class DiscoveryServiceResource(CloudFormationModel):
    """`AWS::ServiceDiscovery::Service`, stored with moto's CreateService backend call."""

    def __init__(self, service: Any):
        self.service = service

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::Service"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Arn", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        service = self.service
        return {"Id": service.id, "Arn": service.arn, "Name": service.name}[attribute_name]

    @property
    def physical_resource_id(self) -> str:
        return self.service.id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        service = servicediscovery_backends[account_id][region_name].create_service(
            name=properties["Name"],
            namespace_id=properties["NamespaceId"],
            creator_request_id=resource_name,
            description=properties.get("Description", ""),
            dns_config=properties.get("DnsConfig"),
            health_check_config=properties.get("HealthCheckConfig"),
            health_check_custom_config=properties.get("HealthCheckCustomConfig"),
            tags=properties.get("Tags", []),
            service_type=properties.get("Type"),
        )
        return cls(service)


# The moto server's own address, for functions run in-process that call it (set by conftest).
ENDPOINT: dict[str, str] = {}


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke_custom_resource(
    service_token: str, event: dict, account_id: str, region_name: str
) -> dict:
    """Run the Lambda function `service_token` names, as moto stored it (its inline code and
    environment), on `event` as CloudFormation sends it, in this process against this moto
    server; return the answer it PUT to the event's ResponseURL (a local HTTP server here)."""
    with _ONE_AT_A_TIME:  # each run sets the process's environment (Lambda isolates them)
        return _invoke(service_token, event, account_id, region_name)


_ONE_AT_A_TIME = threading.Lock()


def _invoke(service_token: str, event: dict, account_id: str, region_name: str) -> dict:
    function = lambda_backends[account_id][region_name].get_function(service_token)
    with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
        code = archive.read("index.py").decode()
    responses = Responses()
    event = {**event, "ResponseURL": f"{responses.url}/response"}
    environment = {
        **function.environment_vars,
        "AWS_ENDPOINT_URL": ENDPOINT["url"],
        "AWS_DEFAULT_REGION": region_name,
        # Lambda hands a function its role's credentials in these; moto takes any.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    try:
        with _environment(environment):
            module: dict[str, Any] = {"__name__": "index"}
            exec(compile(code, "index.py", "exec"), module)
            module[function.handler.split(".", 1)[1]](event, None)
    finally:
        responses.stop()
    (answer,) = responses.received
    return answer["body"]


class HubRouteResource(CloudFormationModel):
    """`Custom::HubRoute`: moto would run its function in Docker (none here); this runs the
    platform's route function as moto stored it, in this process (`invoke_custom_resource`),
    with CloudFormation's Create and Delete requests, and fails the stack as CloudFormation
    does when the function answers FAILED."""

    def __init__(self, physical_id: str, properties: dict, stack_id: str, logical_id: str):
        self.physical_id = physical_id
        self.properties = properties
        self.stack_id = stack_id
        self.logical_id = logical_id
        self.data: dict[str, Any] = {}

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "Custom::HubRoute"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.data.get(attribute_name)

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def _call(properties: dict, event: dict, account_id: str, region_name: str) -> dict:
        answer = invoke_custom_resource(
            properties["ServiceToken"],
            {**event, "ServiceToken": properties["ServiceToken"]},
            account_id,
            region_name,
        )
        if answer["Status"] != "SUCCESS":
            raise ValueError(f"Custom::HubRoute {event['RequestType']}: {answer.get('Reason')}")
        return answer

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json["Properties"]
        event = {
            "RequestType": "Create",
            "StackId": kwargs["StackId"],
            "RequestId": resource_name,
            "LogicalResourceId": kwargs["LogicalId"],
            "ResourceType": "Custom::HubRoute",
            "ResourceProperties": properties,
        }
        answer = cls._call(properties, event, account_id, region_name)
        route = cls(
            answer["PhysicalResourceId"], properties, kwargs["StackId"], kwargs["LogicalId"]
        )
        route.data = answer.get("Data", {})
        return route

    def delete(self, account_id: str, region_name: str) -> None:
        event = {
            "RequestType": "Delete",
            "StackId": self.stack_id,
            "RequestId": f"delete-{self.physical_id}",
            "LogicalResourceId": self.logical_id,
            "ResourceType": "Custom::HubRoute",
            "PhysicalResourceId": self.physical_id,
            "ResourceProperties": self.properties,
        }
        self._call(self.properties, event, account_id, region_name)


_original_resource_class = parsing.resource_class_from_type
_original_balancer_attribute = FakeLoadBalancer.get_cfn_attribute
# Application load balancers' Route 53 zone in us-east-1 (AWS's "Elastic Load Balancing
# endpoints and quotas"); moto's CloudFormation does not give it.
ALB_ZONE_US_EAST_1 = "Z35SXDOTRQ7X7K"


_original_create_target_group = FakeTargetGroup.create_from_cloudformation_json.__func__


def _create_target_group(
    cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
):
    """A target group with its Tags (moto's CloudFormation drops them; the route function
    reads the tier tag)."""
    group = _original_create_target_group(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    tags = cloudformation_json.get("Properties", {}).get("Tags", [])
    if tags:
        elbv2_backends[account_id][region_name].add_tags([group.arn], tags)
    return group


def _balancer_attribute(self, attribute_name: str) -> Any:
    if attribute_name == "CanonicalHostedZoneID":
        return ALB_ZONE_US_EAST_1
    return _original_balancer_attribute(self, attribute_name)


def _resource_class(resource_type: str):
    if resource_type == HubRouteResource.cloudformation_type():
        return HubRouteResource
    return _original_resource_class(resource_type)


def install() -> None:
    """Apply the extensions (idempotent); moto's model list is cached, so refresh it."""
    FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket)
    KmsKey.create_from_cloudformation_json = classmethod(_create_key)
    EcsTaskDefinition.create_from_cloudformation_json = classmethod(_create_task_definition)
    EcsService.create_from_cloudformation_json = classmethod(_create_service)
    parsing.clean_json = _clean_json
    parsing.resource_class_from_type = _resource_class
    FakeLoadBalancer.get_cfn_attribute = _balancer_attribute
    FakeTargetGroup.create_from_cloudformation_json = classmethod(_create_target_group)
    parsing.ResourceMap.load_parameters = _load_parameters
    # A Ref to an EFS access point is its id (moto returns the object).
    EfsAccessPoint.physical_resource_id = property(lambda point: point.access_point_id)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
