"""SSM Automation documents behind the personal hub's self-service actions: start, stop, resize.

The platform stack creates them once per account (`platform.add_documents`); the publisher
registers each as a Service Catalog self-service action (`service_actions.py`) that runs with the
provisioned product's launch role (`AssumeRole: LAUNCH_ROLE`). The documents name no role of
their own, so their steps run with that launch role, whose EC2 rights stop at the instances
tagged with its own tier (`launch.py`): a user of one tier cannot act on another tier's hub.

A resize stays within one kind of instance (standard x86, GPU, Graviton): each kind boots its
own image (see `instance_types.AMI_PARAMETERS`), so crossing kinds needs a new hub, which a
product update with another InstanceType gives (CloudFormation replaces the instance and keeps
the data volume).
"""

from __future__ import annotations

from products.personal_hub import instance_types, names

ACTIONS = ("start", "stop", "resize")
SCHEMA_VERSION = "0.3"
INSTANCE_ID_PATTERN = "^i-[0-9a-f]{8,17}$"


def document_name(action: str) -> str:
    """`labcatalog-PersonalHub-Start` for `start`."""
    return names.DOCUMENT.format(action=action.capitalize())


def _instance_id() -> dict:
    return {
        "type": "String",
        "description": "Your hub's instance (Service Catalog fills it in).",
        "allowedPattern": INSTANCE_ID_PATTERN,
    }


def _change_state(name: str, state: str, last: bool = True) -> dict:
    """Ask EC2 for a state and wait until the instance is in it."""
    step = {
        "name": name,
        "action": "aws:changeInstanceState",
        "inputs": {"InstanceIds": ["{{ InstanceId }}"], "DesiredState": state},
    }
    if last:
        step["isEnd"] = True
    return step


def start_document() -> dict:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": "Start your personal JupyterHub. It stops itself again when idle.",
        "parameters": {"InstanceId": _instance_id()},
        "mainSteps": [_change_state("startInstance", "running")],
    }


def stop_document() -> dict:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": (
            "Stop your personal JupyterHub now. Notebooks are in S3 and the data volume is kept; "
            "you pay only for storage while it is stopped."
        ),
        "parameters": {"InstanceId": _instance_id()},
        "mainSteps": [_change_state("stopInstance", "stopped")],
    }


def kinds() -> dict[str, list[str]]:
    """Instance types by the image they boot: a resize must stay within one of these lists."""
    found: dict[str, list[str]] = {}
    for it in instance_types.CURATED:
        found.setdefault(it.image, []).append(it.name)
    return found


def resize_document() -> dict:
    """Stop, change the type, start; refused before any change if the kind would change."""
    groups = kinds()
    branch = {
        "name": "chooseKind",
        "action": "aws:branch",
        "inputs": {
            "Choices": [
                {
                    "NextStep": f"require_{kind}",
                    "Or": [
                        {"Variable": "{{ InstanceType }}", "StringEquals": name} for name in members
                    ],
                }
                for kind, members in sorted(groups.items())
            ],
        },
    }
    requirements = [
        {
            "name": f"require_{kind}",
            "action": "aws:assertAwsResourceProperty",
            "description": f"The instance must already be of this kind ({kind}).",
            "inputs": {
                "Service": "ec2",
                "Api": "DescribeInstances",
                "InstanceIds": ["{{ InstanceId }}"],
                "PropertySelector": "$.Reservations[0].Instances[0].InstanceType",
                "DesiredValues": members,
            },
            "nextStep": "stopInstance",
        }
        for kind, members in sorted(groups.items())
    ]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": (
            "Give your personal JupyterHub another instance type of the same kind (standard, GPU "
            "or Graviton). It restarts; notebooks and the data volume are kept."
        ),
        "parameters": {
            "InstanceId": _instance_id(),
            "InstanceType": {
                "type": "String",
                "description": "The new instance type.",
                "allowedValues": [it.name for it in instance_types.CURATED],
            },
        },
        "mainSteps": [
            branch,
            *requirements,
            _change_state("stopInstance", "stopped", last=False),
            {
                "name": "setInstanceType",
                "action": "aws:executeAwsApi",
                "inputs": {
                    "Service": "ec2",
                    "Api": "ModifyInstanceAttribute",
                    "InstanceId": "{{ InstanceId }}",
                    "InstanceType": {"Value": "{{ InstanceType }}"},
                },
            },
            _change_state("startInstance", "running"),
        ],
    }


DOCUMENTS = {"start": start_document, "stop": stop_document, "resize": resize_document}
# What Service Catalog passes to each document: TARGET is the provisioned product's instance,
# TEXT_VALUE is typed by the user when running the action.
PARAMETERS = {
    "start": (("InstanceId", "TARGET"),),
    "stop": (("InstanceId", "TARGET"),),
    "resize": (("InstanceId", "TARGET"), ("InstanceType", "TEXT_VALUE")),
}
