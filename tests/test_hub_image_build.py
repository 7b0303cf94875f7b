"""The hub image's build: the CodeBuild project added to a standalone template, the buildspec.

Proves: the project is privileged, logs to a retained, encrypted log group, reads its source
from S3 (or a connection) given as parameters, and its role can push only to the given
repository; the template passes cfn-lint. Does not prove: that the image builds (no Docker
engine here; hadolint checks the Dockerfile in `tox -e lint`) or that AWS accepts the stack.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from troposphere import GetAtt, Template
from troposphere.ecr import Repository
from troposphere.kms import Key

from products.hub_image.codebuild import add_hub_image_build
from tests.conftest import assert_cfn_lint_clean
from tests.support.hub_services import HUB_IMAGE


def standalone(source: str) -> dict:
    t = Template()
    repository = t.add_resource(Repository("HubRepository", ImageTagMutability="IMMUTABLE"))
    key = t.add_resource(Key("HubKey", KeyPolicy={"Version": "2012-10-17", "Statement": []}))
    add_hub_image_build(
        t,
        GetAtt(repository, "RepositoryUri"),
        GetAtt(repository, "Arn"),
        GetAtt(key, "Arn"),
        source=source,
        log_retention_days=90,
    )
    return json.loads(t.to_json())


@pytest.fixture(params=["s3", "repository"])
def template(request) -> dict:
    return standalone(request.param)


def statements(template: dict) -> dict[str, dict]:
    (policy,) = template["Resources"]["HubImageBuildRole"]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_the_project_is_privileged_and_logs_to_a_retained_encrypted_group(template):
    project = template["Resources"]["HubImageBuild"]["Properties"]
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Environment"]["EnvironmentVariables"] == [
        {"Name": "REPOSITORY_URI", "Value": {"Fn::GetAtt": ["HubRepository", "RepositoryUri"]}},
        {"Name": "TAG_PARAMETER", "Value": "/labcatalog/platform/hub-image-tag"},
    ]
    assert project["Source"]["BuildSpec"] == "buildspec.yml"
    assert project["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": "HubImageBuildLogs"}
    logs = template["Resources"]["HubImageBuildLogs"]["Properties"]
    assert logs["RetentionInDays"] == 90
    assert logs["KmsKeyId"] == {"Fn::GetAtt": ["HubKey", "Arn"]}
    assert project["EncryptionKey"] == {"Fn::GetAtt": ["HubKey", "Arn"]}


def test_the_role_pushes_only_to_the_repository(template):
    by_sid = statements(template)
    assert by_sid["PushHubImages"]["Resource"] == [{"Fn::GetAtt": ["HubRepository", "Arn"]}]
    assert "ecr:PutImage" in by_sid["PushHubImages"]["Action"]
    publish = by_sid["PublishTheImageTag"]
    assert publish["Action"] == ["ssm:PutParameter"]
    assert publish["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
            "/labcatalog/platform/hub-image-tag"
        }
    ]
    wildcards = [sid for sid, s in by_sid.items() if "*" in s["Resource"]]
    assert wildcards == ["EcrLogin"]  # GetAuthorizationToken has no resource-level permission
    assert by_sid["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    trust = template["Resources"]["HubImageBuildRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": ["codebuild.amazonaws.com"]}


def test_the_source_is_an_s3_object_or_a_connection_given_as_parameters():
    s3 = standalone("s3")
    assert sorted(s3["Parameters"]) == ["HubImageSourceBucket", "HubImageSourceKey"]
    assert s3["Resources"]["HubImageBuild"]["Properties"]["Source"]["Type"] == "S3"
    read = statements(s3)["ReadTheSourceObject"]
    assert read["Resource"] == [
        {
            "Fn::Sub": [
                "arn:${AWS::Partition}:s3:::${SourceBucket}/${HubImageSourceKey}",
                {"SourceBucket": {"Ref": "HubImageSourceBucket"}},
            ]
        }
    ]
    repo = standalone("repository")
    assert sorted(repo["Parameters"]) == ["HubImageConnectionArn", "HubImageRepositoryUrl"]
    auth = repo["Resources"]["HubImageBuild"]["Properties"]["Source"]["Auth"]
    assert auth == {"Type": "CODECONNECTIONS", "Resource": {"Ref": "HubImageConnectionArn"}}
    assert statements(repo)["UseTheRepositoryConnection"]["Resource"] == [
        {"Ref": "HubImageConnectionArn"}
    ]


def test_the_standalone_template_passes_cfn_lint(template, tmp_path):
    assert_cfn_lint_clean(template, tmp_path, "build.template.json")


def test_the_buildspec_tags_by_content_and_never_overwrites_a_tag():
    spec = yaml.safe_load((HUB_IMAGE / "buildspec.yml").read_text())
    assert spec["version"] == 0.2
    commands = "\n".join(c for phase in spec["phases"].values() for c in phase["commands"])
    assert "sha256sum" in commands and 'TAG="src-' in commands
    assert "describe-images" in commands  # an existing (immutable) tag is not pushed again
    assert '--tag "${REPOSITORY_URI}:${TAG}" --push' in commands
    # ... and the built (or already present) tag becomes the release the products launch.
    publish = 'aws ssm put-parameter --name "${TAG_PARAMETER}" --type String --overwrite'
    assert publish + ' --value "${TAG}"' in commands


def test_the_taskcat_image_step_computes_the_buildspec_tag(tmp_path):
    """`tox -e taskcat` publishes the tag it expects CodeBuild to push: the same hash of the
    same files as the buildspec's shell pipeline, run here on the files the step zips."""
    from tests.taskcat.hub_image import content_tag, source_files

    spec = yaml.safe_load((HUB_IMAGE / "buildspec.yml").read_text())
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    (tag_command,) = [c for c in commands if c.startswith('TAG="src-')]
    files = source_files()
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    shell = subprocess.run(
        ["bash", "-c", f'{tag_command} && echo "$TAG"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == content_tag(files)


def test_the_platform_builds_from_its_template_bucket(example):
    """Wired into the platform, the source is the template bucket: no bucket parameter to fill."""
    from tests.conftest import platform_body

    body = platform_body(example)
    assert "HubImageSourceBucket" not in body.get("Parameters", {})
    assert body["Parameters"]["HubImageSourceKey"]["Default"] == "hub-image/source.zip"
    source = body["Resources"]["HubImageBuild"]["Properties"]["Source"]
    assert source["Location"] == {
        "Fn::Sub": [
            "${SourceBucket}/${HubImageSourceKey}",
            {"SourceBucket": {"Ref": "TemplateBucket"}},
        ]
    }
