"""The hub image step of `tox -e taskcat`, run between the platform step and the product tests.

`publish`: zip products/hub_image, upload it where the platform's CodeBuild project reads its
source, run the build, and check that the build published the tag of exactly these files in SSM,
where the products launched with an empty HubImageTag read it. `remove`: delete the repository's
images and that parameter, so that deleting the platform stack can delete the repository.
This talks to a real account with the caller's credentials; no offline test runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import zipfile

import boto3

from generator.cfn.names import HUB_IMAGE_TAG_PARAMETER as TAG_PARAMETER
from generator.cfn.names import HUB_REPOSITORY as REPOSITORY
from generator.engine.publish.publisher import BUCKET_PARAMETER as TEMPLATE_BUCKET_PARAMETER
from products.hub_image.codebuild import DEFAULT_SOURCE_KEY as SOURCE_KEY
from products.hub_image.codebuild import PROJECT_NAME as PROJECT
from products.hub_image.content import content_tag, source_files


def publish(session: boto3.Session) -> None:
    files = source_files()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    ssm = session.client("ssm")
    bucket = ssm.get_parameter(Name=TEMPLATE_BUCKET_PARAMETER)["Parameter"]["Value"]
    session.client("s3").put_object(Bucket=bucket, Key=SOURCE_KEY, Body=archive.getvalue())

    codebuild = session.client("codebuild")
    build_id = codebuild.start_build(projectName=PROJECT)["build"]["id"]
    print(f"building the hub image: {build_id}", flush=True)
    while (build := codebuild.batch_get_builds(ids=[build_id])["builds"][0])["buildStatus"] == (
        "IN_PROGRESS"
    ):
        time.sleep(20)
    if build["buildStatus"] != "SUCCEEDED":
        raise SystemExit(f"hub image build {build_id} ended {build['buildStatus']}")

    tag = content_tag(files)
    session.client("ecr").describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
    published = ssm.get_parameter(Name=TAG_PARAMETER)["Parameter"]["Value"]
    if published != tag:
        raise SystemExit(f"the build published {published} at {TAG_PARAMETER}, expected {tag}")
    print(f"{TAG_PARAMETER} = {tag}")


def remove(session: boto3.Session) -> None:
    ecr = session.client("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryNotFoundException):  # no platform yet
        for page in ecr.get_paginator("list_images").paginate(repositoryName=REPOSITORY):
            if page["imageIds"]:
                ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=page["imageIds"])
    ssm = session.client("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=TAG_PARAMETER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["publish", "remove"])
    parser.add_argument("--region", required=True)
    args = parser.parse_args()
    session = boto3.Session(region_name=args.region)
    {"publish": publish, "remove": remove}[args.step](session)


if __name__ == "__main__":
    main()
