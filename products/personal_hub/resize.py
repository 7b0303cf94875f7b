"""The resize action's scripts: a new instance type through Service Catalog's own update.

The resize document (`automation.resize_document`) runs this file's handlers in its
`aws:executeScript` steps, as the tier's action role; the file is the step's script as it is
(standard library and boto3 only, as that runtime has). Changing the type through the
provisioned product, rather than on the instance, keeps the stack the one source of truth: a
later update or a rollout starts from the type the user chose, and the stack never drifts.

The only input is the instance. Its provisioned product comes from the instance's own tags,
which CloudFormation propagates from the stack Service Catalog tags and no user may change, and
the document stops the instance first, which the action role may do only to its own tier's
instances: so the update can reach only a product of the role's tier.
"""

from __future__ import annotations

import boto3

# Service Catalog tags each provisioned product's stack with it; the stack's resources carry it.
PROVISIONED_PRODUCT_TAG = "aws:servicecatalog:provisionedProductArn"
INSTANCE_TYPE = "InstanceType"


def provisioned_product_arn(ec2, instance_id: str) -> str:
    """The ARN of the provisioned product that launched `instance_id`."""
    tags = ec2.describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [instance_id]},
            {"Name": "key", "Values": [PROVISIONED_PRODUCT_TAG]},
        ]
    )["Tags"]
    if not tags:
        raise ValueError(f"{instance_id} has no {PROVISIONED_PRODUCT_TAG} tag: not a catalog hub")
    return tags[0]["Value"]


def update_parameters(declared: list[str], instance_type: str) -> list[dict]:
    """The new InstanceType; every other parameter keeps its value (an omitted one would fall
    back to the template's default)."""
    if INSTANCE_TYPE not in declared:
        raise ValueError(f"this product version has no {INSTANCE_TYPE} parameter")
    return [
        {"Key": key, "Value": instance_type}
        if key == INSTANCE_TYPE
        else {"Key": key, "UsePreviousValue": True}
        for key in sorted(declared)
    ]


def update_hub(events: dict, context: object) -> dict:
    """Start the update of the instance's provisioned product; return its record and ARN."""
    ec2 = boto3.client("ec2")
    sc = boto3.client("servicecatalog")
    arn = provisioned_product_arn(ec2, events["InstanceId"])
    provisioned_id = arn.rsplit("/", 1)[1]
    detail = sc.describe_provisioned_product(Id=provisioned_id)["ProvisionedProductDetail"]
    artifact = sc.describe_provisioning_artifact(
        ProductId=detail["ProductId"],
        ProvisioningArtifactId=detail["ProvisioningArtifactId"],
        IncludeProvisioningArtifactParameters=True,
    )
    declared = [p["ParameterKey"] for p in artifact.get("ProvisioningArtifactParameters", [])]
    launch = {}
    if detail.get("LastSuccessfulProvisioningRecordId"):
        record = sc.describe_record(Id=detail["LastSuccessfulProvisioningRecordId"])
        if record["RecordDetail"].get("PathId"):
            launch["PathId"] = record["RecordDetail"]["PathId"]  # the launch path it came by
    made = sc.update_provisioned_product(
        ProvisionedProductId=provisioned_id,
        ProductId=detail["ProductId"],
        ProvisioningArtifactId=detail["ProvisioningArtifactId"],
        ProvisioningParameters=update_parameters(declared, events["InstanceType"]),
        **launch,
    )
    return {"RecordId": made["RecordDetail"]["RecordId"], "ProvisionedProductArn": arn}


def start_hub(events: dict, context: object) -> dict:
    """Start the provisioned product's instance if it is stopped (the update may have replaced
    it: a type of another kind boots another image)."""
    ec2 = boto3.client("ec2")
    found = ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{PROVISIONED_PRODUCT_TAG}", "Values": [events["ProvisionedProductArn"]]},
            {"Name": "instance-state-name", "Values": ["stopped"]},
        ]
    )
    stopped = sorted(i["InstanceId"] for r in found["Reservations"] for i in r["Instances"])
    if stopped:
        ec2.start_instances(InstanceIds=stopped)
    return {"Started": stopped}
