"""SSM Automation documents behind the personal hub's self-service actions: start, stop, resize.

The platform stack creates them once per account (`platform.add_documents`); the publisher
registers each as a Service Catalog self-service action per tier (`service_actions.py`) whose
definition names that tier's action role (`action_role.py`). Service Catalog passes the role
to the document as `AutomationAssumeRole`, and every step runs as it (`assumeRole`): a role
Systems Manager may assume, whose EC2 rights stop at the instances tagged with its own tier, so
a user of one tier cannot act on another tier's hub.

Resize goes through Service Catalog's own update of the provisioned product with a new
`InstanceType` (`resize.py`), not through EC2, so the stack never drifts from the instance. A
type of another kind (standard x86, GPU, Graviton) boots another image, so CloudFormation
replaces the instance and keeps the data volume; within a kind it changes the type in place.
"""

from __future__ import annotations

from pathlib import Path

from products.personal_hub import instance_types, names

ACTIONS = ("start", "stop", "resize")
SCHEMA_VERSION = "0.3"
INSTANCE_ID_PATTERN = "^i-[0-9a-f]{8,17}$"
ASSUME_ROLE = "AutomationAssumeRole"
# Only a tier's action role: a caller cannot hand the document another role.
ASSUME_ROLE_PATTERN = (
    "^arn:aws[a-z-]*:iam::[0-9]{12}:role/" + names.ACTION_ROLE.format(tier="[a-z][a-z0-9-]*") + "$"
)
SCRIPT_RUNTIME = "python3.11"
# An update replaces or restarts an instance: minutes, rarely more than half an hour.
UPDATE_TIMEOUT_SECONDS = 3600


def document_name(action: str) -> str:
    """`labcatalog-PersonalHub-Start` for `start`."""
    return names.DOCUMENT.format(action=action.capitalize())


def _instance_id() -> dict:
    return {
        "type": "String",
        "description": "Your hub's instance (Service Catalog fills it in).",
        "allowedPattern": INSTANCE_ID_PATTERN,
    }


def _assume_role() -> dict:
    return {
        "type": "String",
        "description": "The tier's action role, which every step runs as (Service Catalog "
        "passes the one the action names).",
        "allowedPattern": ASSUME_ROLE_PATTERN,
    }


def _document(description: str, parameters: dict, steps: list[dict]) -> dict:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "description": description,
        "assumeRole": "{{ " + ASSUME_ROLE + " }}",
        "parameters": {**parameters, ASSUME_ROLE: _assume_role()},
        "mainSteps": steps,
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
    return _document(
        "Start your personal JupyterHub. It stops itself again when idle.",
        {"InstanceId": _instance_id()},
        [_change_state("startInstance", "running")],
    )


def stop_document() -> dict:
    return _document(
        "Stop your personal JupyterHub now. Notebooks are in S3 and the data volume is kept; "
        "you pay only for storage while it is stopped.",
        {"InstanceId": _instance_id()},
        [_change_state("stopInstance", "stopped")],
    )


def resize_script() -> str:
    """The resize steps' script: `resize.py` as it is."""
    return (Path(__file__).parent / "resize.py").read_text()


def _script(name: str, handler: str, payload: dict, outputs: list[dict]) -> dict:
    return {
        "name": name,
        "action": "aws:executeScript",
        "inputs": {
            "Runtime": SCRIPT_RUNTIME,
            "Handler": handler,
            "Script": resize_script(),
            "InputPayload": payload,
        },
        "outputs": outputs,
    }


def _record_status(name: str, action: str, values: list[str], **extra) -> dict:
    return {
        "name": name,
        "action": action,
        **extra,
        "inputs": {
            "Service": "servicecatalog",
            "Api": "DescribeRecord",
            "Id": "{{ updateProduct.RecordId }}",
            "PropertySelector": "$.RecordDetail.Status",
            "DesiredValues": values,
        },
    }


def resize_document() -> dict:
    """Stop; update the provisioned product with the new type; wait; start it again."""
    return _document(
        "Give your personal JupyterHub another instance type. It stops, Service Catalog updates "
        "it (a GPU or Graviton type from another kind gets a new instance), and it starts "
        "again; notebooks and the data volume are kept.",
        {
            "InstanceId": _instance_id(),
            "InstanceType": {
                "type": "String",
                "description": "The new instance type.",
                "allowedValues": [it.name for it in instance_types.CURATED],
            },
        },
        [
            # First, and as the action role: only an instance of the role's own tier stops.
            _change_state("stopInstance", "stopped", last=False),
            _script(
                "updateProduct",
                "update_hub",
                {"InstanceId": "{{ InstanceId }}", "InstanceType": "{{ InstanceType }}"},
                [
                    {"Name": "RecordId", "Selector": "$.Payload.RecordId", "Type": "String"},
                    {
                        "Name": "ProvisionedProductArn",
                        "Selector": "$.Payload.ProvisionedProductArn",
                        "Type": "String",
                    },
                ],
            ),
            _record_status(
                "waitForUpdate",
                "aws:waitForAwsResourceProperty",
                ["SUCCEEDED", "FAILED"],
                timeoutSeconds=UPDATE_TIMEOUT_SECONDS,
            ),
            _record_status("updateSucceeded", "aws:assertAwsResourceProperty", ["SUCCEEDED"]),
            {
                **_script(
                    "startHub",
                    "start_hub",
                    {"ProvisionedProductArn": "{{ updateProduct.ProvisionedProductArn }}"},
                    [{"Name": "Started", "Selector": "$.Payload.Started", "Type": "StringList"}],
                ),
                "isEnd": True,
            },
        ],
    )


DOCUMENTS = {"start": start_document, "stop": stop_document, "resize": resize_document}
# What Service Catalog passes to each document: TARGET is the provisioned product's instance,
# TEXT_VALUE is typed by the user when running the action. AutomationAssumeRole is not listed:
# Service Catalog fills it with the action definition's AssumeRole.
PARAMETERS = {
    "start": (("InstanceId", "TARGET"),),
    "stop": (("InstanceId", "TARGET"),),
    "resize": (("InstanceId", "TARGET"), ("InstanceType", "TEXT_VALUE")),
}
