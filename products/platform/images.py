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
UNUSED_IMAGE_DAYS = 30
# More in-use images than a repository may hold (ECR's quota: 20,000 images a repository), so the
# first rule never expires one.
IN_USE_IMAGE_LIMIT = 20000


@dataclass(frozen=True)
class Images:
    """Where hub images are: the repository's URI (to run them) and ARN (to grant pulls)."""

    repository_uri: GetAtt
    repository_arn: GetAtt


def lifecycle_rules() -> list[dict]:
    """What the repository keeps. Each product version names its image by content tag
    (products/hub_image/content.py), and a launched hub pulls it again at every restart and
    spawn, so an image goes only when nothing live names it:
    1. an image with an `in-use-` tag is kept, whatever its age: the publisher tags the images of
       every live version (published and not deprecated, or launched) and untags them when the
       version is deprecated and no longer launched (generator/engine/publish/images.py). In ECR,
       an image a higher-priority rule selects is never expired by a lower-priority one;
    2. untagged images (a manifest list's images before the build tags them) go after a week;
    3. any other image goes a while after its push: long enough to publish the version that
       names it (the image build pushes it again if it is gone)."""
    return [
        {
            "rulePriority": 1,
            "description": "keep images a live product version names (tagged by the publisher)",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": [names.IN_USE_IMAGE_TAG_PREFIX],
                "countType": "imageCountMoreThan",
                "countNumber": IN_USE_IMAGE_LIMIT,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_IMAGE_DAYS,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": f"expire images nothing live names after {UNUSED_IMAGE_DAYS} days",
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNUSED_IMAGE_DAYS,
            },
            "action": {"type": "expire"},
        },
    ]


def add_repository(t: Template) -> Repository:
    """ECR repository for the hub image (each tier's execution role pulls from it)."""
    lifecycle = {"rules": lifecycle_rules()}
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
