"""The CodeBuild project that builds this folder into the hub image and pushes it to ECR.

`add_hub_image_build(template, ...)` adds the project, its role and its log group to a
template (the platform stack's). The source is a zip of this folder in S3, which labcatalog
uploads (`source="s3"`), or a repository reached through a CodeConnections connection
(`source="repository"`); both are CloudFormation parameters. buildspec.yml (in this folder)
tags each image with a hash of the folder's content (the repository's tags are immutable) and
publishes that tag as the current release in SSM, where products launched without a tag find it.
"""

from __future__ import annotations

from typing import Literal

import awacs.codeconnections as codeconnections
import awacs.ecr as ecr
import awacs.kms as kms
import awacs.logs as logs
import awacs.s3 as s3
import awacs.ssm as ssm
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import AWSHelperFn, GetAtt, Parameter, Ref, Sub, Template
from troposphere.codebuild import (
    Artifacts,
    Environment,
    EnvironmentVariable,
    Project,
    Source,
    SourceAuth,
)
from troposphere.codebuild import CloudWatchLogs as ProjectCloudWatchLogs
from troposphere.codebuild import LogsConfig as ProjectLogs
from troposphere.iam import Role
from troposphere.logs import LogGroup

from generator.cfn import policies
from generator.cfn.names import HUB_IMAGE_TAG_PARAMETER, LOG_GROUP_PREFIX, NAME_PREFIX

PROJECT_NAME = f"{NAME_PREFIX}-hub-image"
# Under LOG_GROUP_PREFIX, so the hub key's policy lets CloudWatch Logs encrypt it.
LOG_GROUP = f"{LOG_GROUP_PREFIX}codebuild/{PROJECT_NAME}"
# Amazon Linux standard image with Docker; privileged mode lets it run the Docker daemon.
BUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
BUILD_TIMEOUT_MINUTES = 120  # the arm64 image is built under QEMU emulation (buildspec.yml)
DEFAULT_SOURCE_KEY = "hub-image/source.zip"


class ConnectionAuth(SourceAuth):
    """A source reached through CodeConnections (troposphere 4.11 only knows OAUTH)."""

    def validate(self) -> None:
        if self.properties.get("Type") != "CODECONNECTIONS":
            raise ValueError("ConnectionAuth Type must be CODECONNECTIONS")


def build_role_policy(
    repository_arn: AWSHelperFn,
    log_group_arn: AWSHelperFn,
    key_arn: AWSHelperFn,
    source: Literal["s3", "repository"],
    source_bucket: AWSHelperFn | None = None,
) -> PolicyDocument:
    """Read the source, write the build's logs, push to one repository and publish the tag of
    what it built; nothing else."""
    statements = [
        Statement(
            Sid="WriteBuildLogs",
            Effect=Allow,
            Action=[logs.CreateLogStream, logs.PutLogEvents],
            Resource=[log_group_arn],
        ),
        policies.ecr_login_statement(),
        Statement(
            Sid="PushHubImages",
            Effect=Allow,
            Action=[
                ecr.BatchCheckLayerAvailability,
                ecr.BatchGetImage,
                ecr.CompleteLayerUpload,
                ecr.DescribeImages,
                ecr.GetDownloadUrlForLayer,
                ecr.InitiateLayerUpload,
                ecr.PutImage,
                ecr.UploadLayerPart,
            ],
            Resource=[repository_arn],
        ),
        Statement(
            Sid="PublishTheImageTag",
            Effect=Allow,
            Action=[ssm.PutParameter],
            Resource=[policies.ssm_parameter_arn(HUB_IMAGE_TAG_PARAMETER)],
        ),
        Statement(
            Sid="UseTheBuildKey",
            Effect=Allow,
            Action=[kms.Decrypt, kms.GenerateDataKey],
            Resource=[key_arn],
        ),
    ]
    if source == "s3":
        statements.append(
            Statement(
                Sid="ReadTheSourceObject",
                Effect=Allow,
                Action=[s3.GetObject, s3.GetObjectVersion],
                Resource=[
                    Sub(
                        "arn:${AWS::Partition}:s3:::${SourceBucket}/${HubImageSourceKey}",
                        SourceBucket=source_bucket or Ref("HubImageSourceBucket"),
                    )
                ],
            )
        )
    else:
        statements.append(
            Statement(
                Sid="UseTheRepositoryConnection",
                Effect=Allow,
                Action=[codeconnections.UseConnection, codeconnections.GetConnectionToken],
                Resource=[Ref("HubImageConnectionArn")],
            )
        )
    return PolicyDocument(Version=policies.VERSION, Statement=statements)


def _source(
    t: Template, source: Literal["s3", "repository"], source_bucket: AWSHelperFn | None
) -> Source:
    if source == "s3":
        if source_bucket is None:
            t.add_parameter(
                Parameter(
                    "HubImageSourceBucket",
                    Type="String",
                    Description="Bucket of the zipped hub image folder (labcatalog uploads it)",
                    AllowedPattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                    ConstraintDescription="an S3 bucket name",
                )
            )
        t.add_parameter(
            Parameter(
                "HubImageSourceKey",
                Type="String",
                Default=DEFAULT_SOURCE_KEY,
                Description="Key of the zip of the hub image folder, e.g. hub-image/source.zip",
                AllowedPattern=r"^[\w!.*'()/-]+\.zip$",
                ConstraintDescription="an S3 key ending in .zip",
            )
        )
        return Source(
            Type="S3",
            Location=Sub(
                "${SourceBucket}/${HubImageSourceKey}",
                SourceBucket=source_bucket or Ref("HubImageSourceBucket"),
            ),
            BuildSpec="buildspec.yml",
        )
    t.add_parameter(
        Parameter(
            "HubImageRepositoryUrl",
            Type="String",
            Description="HTTPS URL of the repository whose root is the hub image folder",
            AllowedPattern=r"^https://\S+$",
            ConstraintDescription="an https:// URL",
        )
    )
    t.add_parameter(
        Parameter(
            "HubImageConnectionArn",
            Type="String",
            Description="ARN of the CodeConnections connection to that repository",
            AllowedPattern=r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):\S+$",
            ConstraintDescription="a CodeConnections connection ARN",
        )
    )
    return Source(
        Type="GITHUB",
        Location=Ref("HubImageRepositoryUrl"),
        BuildSpec="buildspec.yml",
        Auth=ConnectionAuth(Type="CODECONNECTIONS", Resource=Ref("HubImageConnectionArn")),
    )


def add_hub_image_build(
    t: Template,
    repository_uri: AWSHelperFn,
    repository_arn: AWSHelperFn,
    key_arn: AWSHelperFn,
    *,
    source: Literal["s3", "repository"] = "s3",
    source_bucket: AWSHelperFn | None = None,
    log_retention_days: int = 365,
) -> Project:
    """Add the hub image's CodeBuild project, role and log group to `t`; returns the project.

    `key_arn` is a customer-managed KMS key that encrypts the build's logs and artifacts (the
    platform's hub key, whose policy lets CloudWatch Logs use it for /labcatalog/ log groups).
    """
    log_group = t.add_resource(
        LogGroup(
            "HubImageBuildLogs",
            LogGroupName=LOG_GROUP,
            RetentionInDays=log_retention_days,
            KmsKeyId=key_arn,
        )
    )
    role = t.add_resource(
        Role(
            "HubImageBuildRole",
            Description="CodeBuild: builds the labcatalog hub image and pushes it to ECR",
            AssumeRolePolicyDocument=policies.service_trust_policy("codebuild.amazonaws.com"),
            Policies=[
                policies.inline(
                    "build-hub-image",
                    build_role_policy(
                        repository_arn, GetAtt(log_group, "Arn"), key_arn, source, source_bucket
                    ),
                )
            ],
        )
    )
    return t.add_resource(
        Project(
            "HubImageBuild",
            Name=PROJECT_NAME,
            Description="Builds products/hub_image into the hub image (content-derived tag)",
            ServiceRole=GetAtt(role, "Arn"),
            Source=_source(t, source, source_bucket),
            Artifacts=Artifacts(Type="NO_ARTIFACTS"),
            Environment=Environment(
                Type="LINUX_CONTAINER",
                ComputeType="BUILD_GENERAL1_MEDIUM",
                Image=BUILD_IMAGE,
                PrivilegedMode=True,  # docker build needs the Docker daemon
                EnvironmentVariables=[
                    EnvironmentVariable(Name="REPOSITORY_URI", Value=repository_uri),
                    EnvironmentVariable(Name="TAG_PARAMETER", Value=HUB_IMAGE_TAG_PARAMETER),
                ],
            ),
            EncryptionKey=key_arn,
            TimeoutInMinutes=BUILD_TIMEOUT_MINUTES,
            ConcurrentBuildLimit=1,
            LogsConfig=ProjectLogs(
                CloudWatchLogs=ProjectCloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group))
            ),
        )
    )
