"""AWS clients for the publisher: one session, retries, an optional endpoint, clear failures."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.exceptions
from botocore.config import Config

from generator.model.problems import UserError

# Service Catalog throttles its admin APIs at a few calls per second; adaptive mode adds
# client-side rate limiting on top of the standard mode's backoff for throttles and 5xx.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
SERVICES = ("servicecatalog", "s3", "sts", "ssm")
ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
}
# The IAM action an S3 operation needs, where it is not simply the operation's name.
_IAM_ACTION = {("s3", "HeadObject"): "s3:GetObject"}
READ_PREFIXES = ("List", "Describe", "Search", "Get", "Head")
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


class PermissionDenied(UserError):
    """The caller lacks an IAM permission; the message names the action."""


@dataclass
class Clients:
    """The clients the publisher uses, all from one session, region and endpoint."""

    servicecatalog: Any
    s3: Any
    sts: Any
    ssm: Any
    region: str

    def all(self) -> list[Any]:
        return [self.servicecatalog, self.s3, self.sts, self.ssm]


def connect(
    region: str | None = None, profile: str | None = None, endpoint_url: str | None = None
) -> Clients:
    """Clients for `region` (or the profile's), through `endpoint_url` (or AWS_ENDPOINT_URL)."""
    # The AWS CLI and newer SDKs read AWS_REGION; botocore itself only AWS_DEFAULT_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as err:
        raise UserError(f"{err}; list profiles with: aws configure list-profiles") from None
    if not session.region_name:
        raise UserError("no AWS region: pass --region or set AWS_REGION (or the profile's region)")
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    made = {
        name: session.client(name, endpoint_url=endpoint_url, config=RETRY_CONFIG)
        for name in SERVICES
    }
    clients = Clients(**made, region=session.region_name)
    for client in clients.all():
        client.meta.events.register("after-call", _raise_permission_denied)
    return clients


def _raise_permission_denied(http_response, parsed, model, **_: Any) -> None:
    """Turn an access-denied answer into a message that names the missing IAM action."""
    code = parsed.get("Error", {}).get("Code", "")
    # HEAD answers carry no body: a 403 there is the only sign of a missing permission.
    head_denied = model.name == "HeadObject" and http_response.status_code == 403
    if code not in ACCESS_DENIED and not head_denied:
        return
    service = model.service_model.signing_name
    action = _IAM_ACTION.get((service, model.name), f"{service}:{model.name}")
    detail = parsed.get("Error", {}).get("Message", "")
    raise PermissionDenied(
        f"permission denied for {action}{f' ({detail})' if detail else ''}; "
        f"allow {action} for the identity that publishes, then run the command again"
    )


def is_read(operation: str) -> bool:
    """Whether an API operation only reads (by AWS's naming convention)."""
    return operation.startswith(READ_PREFIXES)


@dataclass
class CallLog:
    """Counts of API calls made through some clients, split into reads and changes."""

    calls: Counter[str] = field(default_factory=Counter)

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if is_read(op.split(".")[1]))

    @property
    def changes(self) -> int:
        return sum(n for op, n in self.calls.items() if not is_read(op.split(".")[1]))

    def record(self, model, **_: Any) -> None:
        self.calls[f"{model.service_model.signing_name}.{model.name}"] += 1


def record_calls(clients: Clients) -> CallLog:
    """Count every API call (one per operation, retries not counted) made through `clients`."""
    log = CallLog()
    for client in clients.all():
        client.meta.events.register("before-call", log.record)
    return log


@dataclass(frozen=True)
class Caller:
    """Who publishes: the account and partition that principals' short names expand into."""

    account: str
    partition: str


def caller(clients: Clients) -> Caller:
    """The caller's account and partition, from STS."""
    try:
        identity = clients.sts.get_caller_identity()
    except botocore.exceptions.NoCredentialsError:
        raise UserError(
            "no AWS credentials found: use --profile, or set AWS_PROFILE or the AWS_* variables"
        ) from None
    return Caller(account=identity["Account"], partition=identity["Arn"].split(":")[1])


def template_url(clients: Clients, bucket: str, key: str) -> str:
    """The HTTPS URL Service Catalog loads a template from (path-style on a custom endpoint)."""
    endpoint = clients.s3.meta.endpoint_url.rstrip("/")
    host = urlparse(endpoint).netloc
    if not host.endswith(_AWS_SUFFIXES):
        return f"{endpoint}/{bucket}/{key}"
    return f"https://{bucket}.{host}/{key}"
