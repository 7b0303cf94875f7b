"""`aws cloudformation package`, as it treats the platform's nested stacks, for the tests.

The platform's root template names each tier's template by its path in build/, relative to the
root's folder (`TemplateURL: platform/<tier>.template.json`). `aws cloudformation package`
uploads each such template under the MD5 of its bytes and writes the object's S3 URL in its
place; this does the same with boto3, so the moto deploy tests and the taskcat env (which has no
AWS CLI: tests/taskcat/platform.py) run what the README's two commands run. What it does not
prove: that the AWS CLI itself accepts the templates (`package` reads only `TemplateURL`s that
are local paths, which these are).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any

NESTED = "AWS::CloudFormation::Stack"


def upload(s3: Any, bucket: str, text: str) -> str:
    """Put `text` in `bucket` under the MD5 of its bytes, as `package` names it; its URL."""
    body = text.encode()
    key = f"{hashlib.md5(body, usedforsecurity=False).hexdigest()}.template"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"https://{bucket}.s3.{s3.meta.region_name}.amazonaws.com/{key}"


def package(s3: Any, bucket: str, root_path: str, files: dict[str, str]) -> str:
    """The root template at `root_path` of `files` (path in build/ -> text), each nested
    template uploaded to `bucket` and its TemplateURL replaced by the object's URL."""
    body = json.loads(files[root_path])
    folder = posixpath.dirname(root_path)
    for resource in body["Resources"].values():
        if resource["Type"] != NESTED:
            continue
        local = posixpath.normpath(posixpath.join(folder, resource["Properties"]["TemplateURL"]))
        text = files[local].encode()
        key = f"{hashlib.md5(text).hexdigest()}.template"
        s3.put_object(Bucket=bucket, Key=key, Body=text)
        resource["Properties"]["TemplateURL"] = f"https://s3.amazonaws.com/{bucket}/{key}"
    return json.dumps(body, indent=1)


def nested_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The outputs of every stack nested in `stack`, by output key."""
    found = {}
    for resource in cloudformation.describe_stack_resources(StackName=stack)["StackResources"]:
        if resource.get("ResourceType") != NESTED:
            continue
        (nested,) = cloudformation.describe_stacks(StackName=resource["PhysicalResourceId"])[
            "Stacks"
        ]
        found.update({o["OutputKey"]: o["OutputValue"] for o in nested.get("Outputs", [])})
    return found
