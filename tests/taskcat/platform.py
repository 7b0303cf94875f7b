"""The platform step of `tox -e taskcat`: deploy the platform as the README does, then delete it.

The platform's root template names each tier's template by its path in build/ (a nested stack
per tier), for `aws cloudformation package` to upload. taskcat uploads the project but leaves a
`TemplateURL` as written, so the platform is not a taskcat test: `deploy` does what the README's
`aws cloudformation package` and `deploy` do, with boto3 (the taskcat env has no AWS CLI):
upload each tier's template and the packaged root to an artifact bucket of this account and
region (`labcatalog-taskcat-<account>-<region>`, created once, kept for the next run), create the
stack and wait for it, with the root's parameters taken from `.taskcat_overrides.yml` (as a
taskcat test would: `CreateAlarmActionsRole`). `remove` deletes the stack and waits. This talks
to a real account with the caller's credentials; tests/taskcat/test_taskcat_plumbing.py runs
both on moto.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import boto3
import yaml

from tests.support.packaging import package, upload

PROJECT = Path(__file__).resolve().parents[2]
BUILD = PROJECT / "build"
OVERRIDES = PROJECT / ".taskcat_overrides.yml"
ROOT = "platform.template.json"
STACK = "labcatalog-taskcat-platform"


def artifact_bucket(session: boto3.Session) -> str:
    """The account's bucket for the packaged templates, created (private) if it is missing."""
    account = session.client("sts").get_caller_identity()["Account"]
    name = f"labcatalog-taskcat-{account}-{session.region_name}"
    s3 = session.client("s3")
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        location = (
            {}
            if session.region_name == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": session.region_name}}
        )
        s3.create_bucket(Bucket=name, **location)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration=dict.fromkeys(
                (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                ),
                True,
            ),
        )
    return name


def templates(build: Path = BUILD) -> dict[str, str]:
    """The platform's templates in `build`: the root and each tier's, by path in build/."""
    return {
        path.relative_to(build).as_posix(): path.read_text(encoding="utf-8")
        for path in [build / ROOT, *sorted((build / "platform").glob("*.template.json"))]
    }


def parameters(overrides: Path = OVERRIDES, build: Path = BUILD) -> dict[str, str]:
    """The overrides that the root template declares as parameters (as taskcat applies them)."""
    given = yaml.safe_load(overrides.read_text()) if overrides.is_file() else {}
    declared = json.loads((build / ROOT).read_text())["Parameters"]
    return {key: str(value) for key, value in (given or {}).items() if key in declared}


def deploy(session: boto3.Session, overrides: Path = OVERRIDES) -> str:
    """Package the platform, create its stack and wait until it is complete; its id."""
    s3 = session.client("s3")
    bucket = artifact_bucket(session)
    root = upload(s3, bucket, package(s3, bucket, ROOT, templates()))
    cloudformation = session.client("cloudformation")
    stack_id = cloudformation.create_stack(
        StackName=STACK,
        TemplateURL=root,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in parameters(overrides).items()
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )["StackId"]
    cloudformation.get_waiter("stack_create_complete").wait(StackName=stack_id)
    print(f"platform stack {STACK} created: {stack_id}", flush=True)
    return stack_id


def remove(session: boto3.Session) -> None:
    """Delete the platform stack (its nested tier stacks with it) and wait until it is gone."""
    cloudformation = session.client("cloudformation")
    cloudformation.delete_stack(StackName=STACK)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=STACK)
    print(f"platform stack {STACK} deleted", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["deploy", "remove"])
    parser.add_argument("--region", required=True)
    args = parser.parse_args()
    session = boto3.Session(region_name=args.region)
    {"deploy": deploy, "remove": remove}[args.step](session)


if __name__ == "__main__":
    main()
