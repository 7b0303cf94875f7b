"""The hub image: its ECR repository, and the CodeBuild project that builds it in the account."""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import AWSHelperFn, GetAtt, Template
from troposphere.ecr import (
    EncryptionConfiguration,
    ImageScanningConfiguration,
    LifecyclePolicy,
    Repository,
)

from generator.cfn import names
from products.hub_image.codebuild import add_hub_image_build
from products.platform.common import tags

UNTAGGED_IMAGE_DAYS = 7


@dataclass(frozen=True)
class Images:
    """Where hub images are: the repository's URI (to run them) and ARN (to grant pulls)."""

    repository_uri: GetAtt
    repository_arn: GetAtt


def _expire_untagged() -> dict:
    """The only lifecycle rule: untagged images go after a week. No rule selects a tagged
    image, so ECR never expires one: each product version names its image by content tag
    (products/hub_image/content.py), and a launched hub of any version, deprecated or not, pulls
    it again on every restart or spawn. The image build tags each architecture's image of a
    manifest list as well (buildspec.yml), so only images nothing names are untagged. A count-
    or age-based rule could not tell a tag a published version names from one nothing names;
    images of versions no longer launched are removed by hand (README, Upgrading)."""
    return {
        "rulePriority": 1,
        "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": UNTAGGED_IMAGE_DAYS,
        },
        "action": {"type": "expire"},
    }


def add_repository(t: Template) -> Repository:
    """ECR repository for the hub image (each tier's execution role pulls from it)."""
    lifecycle = {"rules": [_expire_untagged()]}
    repository = t.add_resource(
        Repository(
            "HubRepository",
            RepositoryName=names.HUB_REPOSITORY,
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS"),
            LifecyclePolicy=LifecyclePolicy(
                LifecyclePolicyText=json.dumps(lifecycle, sort_keys=True)
            ),
            Tags=tags(),
        )
    )
    return repository


def add_hub_images(t: Template, hub_key_arn: AWSHelperFn, source_bucket: AWSHelperFn) -> Images:
    """The repository, and its image build: CodeBuild builds a zip of products/hub_image,
    uploaded to `source_bucket` under the HubImageSourceKey parameter."""
    repository = add_repository(t)
    images = Images(GetAtt(repository, "RepositoryUri"), GetAtt(repository, "Arn"))
    add_hub_image_build(
        t, images.repository_uri, images.repository_arn, hub_key_arn, source_bucket=source_bucket
    )
    return images
