"""Teach moto's CloudFormation the settings it drops, so a deploy can be checked by describe calls.

moto 5.2 creates an `AWS::S3::Bucket` with its encryption and tags only; versioning, lifecycle,
public access block and ownership controls are silently dropped, and `AWS::S3::BucketPolicy` is
not created at all. It also fails on a KMS key with Tags (it expects the API's TagKey/TagValue).
This module maps those template properties onto moto's own S3 backend calls (the same ones its
REST API uses), so the deploy test can read them back with ordinary boto3 describe calls. What
it proves: the template carries these settings in the shape CloudFormation documents, and they
reference the right bucket. What it cannot prove: that AWS accepts them."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.kms.models import Key as KmsKey
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

_original_create = FakeBucket.create_from_cloudformation_json.__func__
_original_create_key = KmsKey.create_from_cloudformation_json.__func__


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


def install() -> None:
    """Apply the extensions (idempotent); moto's model list is cached, so refresh it."""
    FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket)
    KmsKey.create_from_cloudformation_json = classmethod(_create_key)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
