"""AWS clients for the publisher: one session, retries, an optional endpoint, clear failures."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.exceptions
from botocore.config import Config

from generator.model.problems import UserError

# Retries are decided by `RetryPolicy` (below), not by botocore, so that a wrong or unreachable
# endpoint fails in seconds while throttling, which Service Catalog's admin APIs do at a few calls
# per second, is waited out, and every retry can be shown.
CONNECT_TIMEOUT = 2  # seconds to open a connection
READ_TIMEOUT = 30  # seconds to wait for an answer
RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries=RETRY_CONFIG.retries
)
THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "LimitExceededException",
}
SERVICES = ("servicecatalog", "s3", "sts", "ssm", "ecr")
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
    ecr: Any
    region: str

    def all(self) -> list[Any]:
        return [self.servicecatalog, self.s3, self.sts, self.ssm, self.ecr]


Notify = Callable[[str], None]


@dataclass
class RetryPolicy:
    """When to try a call again, and how long to wait first (exponential backoff, jittered).

    A connection that cannot be opened, or an answer that does not come, is tried
    `connection_attempts` times in all: with the connect timeout that bounds a wrong endpoint to
    about ten seconds. Throttling and AWS's own transient failures (HTTP 500, 502, 503, 504) are
    tried up to `throttle_attempts` times. Each retry is reported through `notify`.
    """

    notify: Notify | None = None
    connection_attempts: int = 3
    throttle_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def needs_retry(self, attempts: int, response=None, caught_exception=None, operation=None, **_):
        """botocore's `needs-retry` hook: seconds to wait before trying again, or None."""
        what = f"{operation.service_model.signing_name}.{operation.name}" if operation else "call"
        if caught_exception is not None:
            if not isinstance(
                caught_exception,
                (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError),
            ):
                return None
            limit, reason = self.connection_attempts, "no connection"
        elif response is not None:
            http, parsed = response
            code = parsed.get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
            if code in THROTTLING or http.status_code == 429:
                limit, reason = self.throttle_attempts, f"throttled ({code or 'HTTP 429'})"
            elif http.status_code in (500, 502, 503, 504):
                limit, reason = self.throttle_attempts, f"HTTP {http.status_code}"
            else:
                return None
        else:
            return None
        if attempts >= limit:
            return None
        wait = self.delay(attempts)
        if self.notify:
            self.notify(f"{what}: {reason}; retry {attempts} of {limit - 1} in {wait:.1f} s")
        return wait


def check_endpoint_url(endpoint_url: str) -> str:
    """`endpoint_url` if it is an http(s) URL with a host; else `UserError` saying what is wrong."""
    example = "e.g. http://127.0.0.1:5000 or https://servicecatalog.us-east-1.amazonaws.com"
    try:
        parsed = urlparse(endpoint_url)
        _ = parsed.port  # ValueError for a port that is not a number or out of range
    except ValueError as err:
        raise UserError(
            f"--endpoint-url {endpoint_url!r} is not a valid URL ({err}); {example}"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UserError(
            f"--endpoint-url {endpoint_url!r} is not an http:// or https:// URL with a host; "
            f"{example} (it may come from AWS_ENDPOINT_URL)"
        )
    return endpoint_url


def connection_failure(err: Exception) -> str | None:
    """One sentence for a failure to reach AWS (naming the endpoint and what to check), or None
    when `err` is not one."""
    if not isinstance(
        err, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
    ):
        return None
    kwargs = getattr(err, "kwargs", {})
    endpoint = kwargs.get("endpoint_url") or "the AWS endpoint"
    timed_out = isinstance(
        err, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)
    )
    how = "no answer in time" if timed_out else "could not connect"
    return (
        f"cannot reach {endpoint} ({how}, after {RetryPolicy.connection_attempts} attempts); "
        "check --endpoint-url (or AWS_ENDPOINT_URL) and --region, that the server is running, "
        "and that the network or proxy (HTTPS_PROXY, NO_PROXY) lets you reach it"
    )


def connect(
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    notify: Notify | None = None,
) -> Clients:
    """Clients for `region` (or the profile's), through `endpoint_url` (or AWS_ENDPOINT_URL);
    retries follow `RetryPolicy` and are reported through `notify`."""
    # The AWS CLI and newer SDKs read AWS_REGION; botocore itself only AWS_DEFAULT_REGION.
    region = region or os.environ.get("AWS_REGION") or None
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as err:
        raise UserError(f"{err}; list profiles with: aws configure list-profiles") from None
    if not session.region_name:
        raise UserError("no AWS region: pass --region or set AWS_REGION (or the profile's region)")
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint_url:
        check_endpoint_url(endpoint_url)
    try:
        made = {
            name: session.client(name, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
            for name in SERVICES
        }
    except (ValueError, botocore.exceptions.BotoCoreError) as err:  # e.g. a malformed region
        raise UserError(f"cannot set up the AWS clients: {err}") from None
    clients = Clients(**made, region=session.region_name)
    policy = RetryPolicy(notify)
    for client in clients.all():
        client.meta.events.register("after-call", _raise_permission_denied)
        client.meta.events.register_first("needs-retry", policy.needs_retry)
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
