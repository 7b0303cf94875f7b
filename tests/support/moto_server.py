"""Helpers to run a real moto server for the template tests.

Why a server instead of ``mock_aws``: the tests deploy the generated
CloudFormation templates and then exercise them with ordinary boto3 clients
over HTTP, exactly as a user would, including with IAM enforcement switched on
at run time.  Nothing here registers pytest fixtures; ``conftest.py`` wraps
these functions.

Facts about moto 5.2.x that shaped this module (checked against 5.2.5):

* ``ThreadedMotoServer`` runs werkzeug in a daemon thread of *this* process,
  so moto's global settings are shared with the test process.  With
  ``port=0`` the OS picks a free port; the real one is read back from
  ``get_host_and_port()`` after ``start()``, so there is no pick-then-bind race.
* IAM enforcement is the global ``INITIAL_NO_AUTH_ACTION_COUNT``; the
  ``/moto-api/reset-auth`` endpoint sets it from the raw request body parsed
  by ``float()``: ``"0"`` enforces from the next request on, ``"inf"`` never
  enforces (the default).  ``/moto-api/reset`` does *not* touch it.
* While enforcement is on, only IAM users' access keys (``AKIA...``) and
  credentials issued by moto's STS are accepted.  The default ``testing`` keys
  are then rejected (InvalidClientTokenId / InvalidAccessKeyId), so do all
  set-up (deploys, AssumeRole, seeding objects) with enforcement off.
* moto evaluates only Action/NotAction, Resource and Effect of identity
  policies; ``Condition`` blocks are ignored (they always "match").  S3 bucket
  policies are evaluated for object GET/PUT/DELETE/HEAD requests *always*,
  enforcement or not, again ignoring conditions; only a Deny matters (an Allow
  grants nothing) and it comes back as a bare 403 (error code "403", not
  "AccessDenied").
* moto's CloudFormation stores some policy documents as Python dicts instead of
  JSON text (IAM::Role ``Policies``, IAM::Policy, KMS::Key ``KeyPolicy``),
  which later breaks IAM enforcement and KMS DescribeKey with HTTP 500;
  :func:`deploy_stack` repairs them (see :func:`_repair_cfn_documents`).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
#: moto's documented fake credentials; never real ones.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_STACK_FAILED = ("FAILED", "ROLLBACK")  # any status containing these is terminal failure


class StackDeployError(RuntimeError):
    """A stack did not reach CREATE_COMPLETE; the message carries its events."""


class MotoServer:
    """A running moto server on 127.0.0.1; usable as a context manager."""

    def __init__(self, server: ThreadedMotoServer, endpoint_url: str) -> None:
        self._server = server
        self.endpoint_url = endpoint_url
        self.iam_enforced = False

    def client(self, service: str, **credentials: str) -> Any:
        """A boto3 client for ``service`` pointed at this server.

        ``credentials`` are boto3 keyword names (``aws_access_key_id``,
        ``aws_secret_access_key``, ``aws_session_token``), e.g. the dict from
        :func:`assume_role_credentials`; missing keys fall back to moto's dummy
        ``testing`` keys.  A fresh Session keeps the caller's environment
        (profiles, default session) out of the picture.
        """
        creds = {**DUMMY_CREDENTIALS, **credentials}
        session = boto3.session.Session(region_name=REGION, **creds)
        return session.client(service, endpoint_url=self.endpoint_url)

    def _post(self, path: str, body: bytes = b"") -> None:
        # ProxyHandler({}) ignores *_PROXY variables: the server is always local.
        # An explicit non-form Content-Type matters: urllib defaults to
        # x-www-form-urlencoded, and then Flask hands moto an empty request.data.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(
            f"{self.endpoint_url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with opener.open(req, timeout=10) as resp:
            resp.read()

    def enforce_iam(self, enabled: bool) -> None:
        """Turn moto's IAM policy enforcement on or off for all later requests."""
        self._post("/moto-api/reset-auth", b"0" if enabled else b"inf")
        self.iam_enforced = enabled

    def reset(self) -> None:
        """Drop all moto state and switch enforcement off (reset alone keeps it)."""
        self._post("/moto-api/reset")
        self.enforce_iam(False)

    def stop(self) -> None:
        """Shut the server down and wait for its thread to end."""
        if self.iam_enforced:  # settings are process-global; leave them as found
            self.enforce_iam(False)
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_moto_server(port: int = 0) -> MotoServer:
    """Start moto on 127.0.0.1 on `port` (0: an OS-chosen free port).

    werkzeug logs every request at INFO to stderr unless the ``werkzeug``
    logger already has a level; setting WARNING keeps test output quiet while
    still showing server errors (500s with tracebacks).
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return MotoServer(server, f"http://{host}:{port}")


def deploy_stack(
    server: MotoServer,
    name: str,
    template_body: str,
    parameters: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, str]:
    """Create stack ``name`` and return its outputs as ``{OutputKey: OutputValue}``.

    Parameter values are passed as strings (lists are comma-joined, as for
    ``CommaDelimitedList``).  Raises :class:`StackDeployError` with the stack
    events if CreateStack is rejected or the stack does not reach
    CREATE_COMPLETE within ``timeout`` seconds (moto works synchronously, so
    this is normally immediate).
    Beware: moto silently skips resource types it does not implement (only a
    Python warning in the server thread), e.g. AWS::S3::BucketPolicy, and
    drops properties it does not model, e.g. S3 Versioning/Lifecycle/
    OwnershipControls/PublicAccessBlock and ECR LifecyclePolicy.
    CREATE_COMPLETE alone proves little; check with describe calls.
    """
    cfn = server.client("cloudformation")
    params = [
        {
            "ParameterKey": key,
            "ParameterValue": ",".join(map(str, value)) if isinstance(value, list) else str(value),
        }
        for key, value in (parameters or {}).items()
    ]
    try:
        cfn.create_stack(
            StackName=name,
            TemplateBody=template_body,
            Parameters=params,
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    except ClientError as err:
        # moto creates resources inside the CreateStack call: a failing resource
        # surfaces here (e.g. EntityAlreadyExists), never as CREATE_FAILED, and
        # the stack is left behind in CREATE_IN_PROGRESS.
        raise StackDeployError(f"stack {name}: {err}\n{_format_events(cfn, name)}") from err
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            _repair_cfn_documents()
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if any(word in status for word in _STACK_FAILED) or time.monotonic() > deadline:
            raise StackDeployError(f"stack {name} ended in {status}:\n{_format_events(cfn, name)}")
        time.sleep(0.1)


def _repair_cfn_documents() -> None:
    """Re-serialise policy documents that moto's CloudFormation kept as dicts.

    moto 5.2.5 passes the template's JSON object straight through for IAM::Role
    ``Policies``, IAM::Policy and KMS::Key ``KeyPolicy``, whereas its API
    handlers store (and later ``json.loads``) text.  Left alone, every
    enforced request by such a role fails with a 500 (KeyError
    'policy_document'), GetRolePolicy returns a Python repr, and KMS
    DescribeKey fails with a 500.  The server runs in this process, so the
    stored objects are fixed in place; documents that already are text are
    left untouched.
    """
    from moto.iam.models import iam_backends
    from moto.kms.models import kms_backends

    for by_partition in iam_backends.values():
        for iam in by_partition.values():
            for owner in [*iam.roles.values(), *iam.users.values(), *iam.groups.values()]:
                for name, doc in owner.policies.items():
                    if not isinstance(doc, str):
                        owner.policies[name] = json.dumps(doc)
    for by_region in kms_backends.values():
        for kms in by_region.values():
            for key in kms.keys.values():
                if not isinstance(key.policy, str):
                    key.policy = json.dumps(key.policy)


def _format_events(cfn: BaseClient, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:  # the stack was never recorded (template rejected)
        return "  (no stack events)"
    return "\n".join(
        f"  {e.get('LogicalResourceId')} {e.get('ResourceType')} {e['ResourceStatus']}"
        f" {e.get('ResourceStatusReason', '')}".rstrip()
        for e in reversed(events)
    )


def assume_role_credentials(
    server: MotoServer, role_arn: str, session_name: str = "labcatalog-test"
) -> dict[str, str]:
    """AssumeRole ``role_arn`` in moto and return boto3 credential kwargs.

    The call is always made with IAM enforcement OFF (switched off for the call
    and restored afterwards) because, with it on, moto checks the role's trust
    policy and only understands ``Principal: {"AWS": ...}`` / ``"*"``: a
    ``Service`` principal (ec2.amazonaws.com, etc.) makes the check fail (moto
    5.2.5 answers HTTP 500), and the dummy ``testing`` caller is not an IAM
    identity anyway.  The resulting credentials are then subject to the role's
    inline and attached managed policies once enforcement is back on.
    """
    was_enforced = server.iam_enforced
    if was_enforced:
        server.enforce_iam(False)
    try:
        creds = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
            "Credentials"
        ]
    finally:
        if was_enforced:
            server.enforce_iam(True)
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
