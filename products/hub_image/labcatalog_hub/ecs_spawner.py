"""Each user's server as its own ECS Fargate task (the shared hub's `fargate` mode).

The spawner runs the product's user task definition with the chosen size as overrides, in
private subnets with the user security group and no public IP, and waits until the task runs.
boto3 calls go to a worker thread, so the hub's event loop never blocks. The task ARN is the
spawner's state: after a hub restart, `poll()` and `stop()` find the task again.

Each user's home is their own EFS access point on the tier's home file system (uid 1000, the
image's user, rooted at `/home/<user>`), mounted at /home/jovyan. A task definition cannot take a
volume as a RunTask override, so the spawner keeps one task definition family per user: the
product's user task definition plus the home volume, registered again only when the product's
definition changed (its ARN is tagged on the user's). Both are found again by their tags; the
access point is never deleted here: the home outlives the server, the hub and the product.

The server's hub API token (which also gets the user's AWS credentials from the hub) is not in
the RunTask overrides, which anyone allowed `ecs:DescribeTasks` reads: the spawner writes it to
the user's own Secrets Manager secret (`token_secrets` + the user), and the user's task
definition names that secret in the container's `secrets`, which ECS resolves with the task
execution role when the task starts. Neither the task's own role nor a user's code can read
another user's secret; DescribeTasks and DescribeTaskDefinition show only its ARN.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from jupyterhub.spawner import Spawner
from traitlets import Any as AnyTrait
from traitlets import Bool, Enum, Float, Integer, List, Unicode, default

from .spawners import SizedSpawner

# A task in one of these will never run (again).
ENDED = ("DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED", "DELETED")
# Tags of every server task: whose it is, which of their servers, and which hub started it
# (the reaper stops only tasks of its own hub; labcatalog_hub/reaper.py).
USER_TAG, SERVER_TAG, HUB_TAG = "labcatalog:user", "labcatalog:server", "labcatalog:hub"
TIER_TAG = "labcatalog:tier"  # generator.cfn.names.TIER_TAG
BASE_TAG = "labcatalog:base-task-definition"  # the product's definition a user's was made from
TOKEN_TAG = "labcatalog:token-secret"  # the secret a user's definition takes the token from
# The server's hub API token (JupyterHub sets both names): from the secret, never an override.
TOKEN_VARIABLES = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")
STARTED_BY = "jupyterhub"
# The image's user owns every home (generator.cfn.names.HOME_UID/HOME_GID, HOME_ROOT).
HOME_UID, HOME_GID, HOME_ROOT = 1000, 100, "/home/{user}"
HOME_IN_SERVER = "/home/jovyan"
HOME_VOLUME = "home"


def home_folder(user: str) -> str:
    """The user's folder name on the file system: the name itself when EFS allows it (letters,
    digits, `.`, `_`, `-`, `@`; no leading dot; at most 64), else a readable part and a hash."""
    safe = re.sub(r"[^A-Za-z0-9._@-]", "-", user).lstrip(".")
    if safe == user and 0 < len(user) <= 64:
        return user
    return f"{safe[:48]}-{hashlib.sha256(user.encode()).hexdigest()[:12]}"


class SpawnFailed(RuntimeError):
    """A server could not start; the message is shown to the user on the spawn page."""


class NoCapacity(SpawnFailed):
    """The capacity provider had no capacity for the task (RunTask's failure, or the task
    stopped before it ran); another provider may have some."""


def no_capacity(reason: str) -> bool:
    """Whether a RunTask failure or a stopped task's reason says capacity was missing: ECS
    says "Capacity is unavailable at this time" when Fargate (Spot) has none."""
    return "capacity" in reason.lower()


def explain_failure(reason: str) -> str:
    """RunTask's failure reasons, in words a data scientist can act on."""
    lowered = reason.lower()
    if "capacity" in lowered or "resource" in lowered:
        return (
            f"AWS has no Fargate capacity for this size right now ({reason}). Try again in a "
            "few minutes, or pick a smaller size."
        )
    return f"ECS could not start your server: {reason}"


def explain_client_error(err: ClientError) -> str:
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", str(err))
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return (
            "The hub is not allowed to start servers in ECS "
            f"({code}: {message}). Ask the platform team to check the hub's task role."
        )
    if code in ("ThrottlingException", "ServerException"):
        return f"ECS is busy ({code}); try again in a minute."
    return f"ECS refused to start your server ({code}: {message})."


class EcsSpawner(SizedSpawner, Spawner):
    """A Fargate task per user server; configured by jupyterhub_config.py from the environment."""

    cluster = Unicode(help="Cluster of the users' tasks (name or ARN).").tag(config=True)
    task_definition = Unicode(help="The user task definition (ARN or family).").tag(config=True)
    container_name = Unicode(
        "notebook", help="Name of the server's container in the task definition."
    ).tag(config=True)
    subnets = List(Unicode(), help="Private subnets for the tasks.").tag(config=True)
    security_groups = List(Unicode(), help="The user servers' security groups.").tag(config=True)
    capacity_provider = Enum(["FARGATE", "FARGATE_SPOT"], "FARGATE").tag(config=True)
    on_demand_fallback = Bool(
        True,
        help="With FARGATE_SPOT: start the server on FARGATE when Spot has no capacity "
        "(ECS itself never falls back from one capacity provider to another).",
    ).tag(config=True)
    endpoint_url = Unicode(None, allow_none=True, help="ECS endpoint (tests).").tag(config=True)
    server_port = Integer(8888, help="Port the server listens on inside its task.").tag(config=True)
    poll_seconds = Float(2.0, help="How often the task is described while it starts.").tag(
        config=True
    )
    hub_id = Unicode(
        "", help="This hub's identity, tagged on its tasks (labcatalog:hub): its public URL."
    ).tag(config=True)
    homes_file_system = Unicode(
        "", help="The tier's home file system (EFS id); empty: servers keep nothing."
    ).tag(config=True)
    tier = Unicode("", help="The hub's tier, tagged on what the spawner creates.").tag(config=True)
    token_secrets = Unicode(
        "",
        help="Name prefix of the users' Secrets Manager secrets of their server's token; empty: "
        "the token is an environment override (tests of other things only).",
    ).tag(config=True)
    ecs = AnyTrait(help="The boto3 ECS client; made from the default credential chain.")
    efs = AnyTrait(help="The boto3 EFS client; made from the default credential chain.")
    secrets = AnyTrait(help="The boto3 Secrets Manager client; the default credential chain.")
    access_point_wait_seconds = Float(60.0, help="How long a new access point may take.").tag(
        config=True
    )

    task_arn = Unicode(None, allow_none=True)
    server_task_definition = Unicode(None, allow_none=True)
    token_secret_arn = Unicode(None, allow_none=True)

    @default("ecs")
    def _ecs_client(self) -> Any:
        return boto3.session.Session().client("ecs", endpoint_url=self.endpoint_url)

    @default("efs")
    def _efs_client(self) -> Any:
        return boto3.session.Session().client("efs", endpoint_url=self.endpoint_url)

    @default("secrets")
    def _secrets_client(self) -> Any:
        return boto3.session.Session().client("secretsmanager", endpoint_url=self.endpoint_url)

    @default("env_keep")
    def _no_hub_environment(self) -> list[str]:
        # The server's AWS credentials are its user's, from the hub; nothing of the hub's leaks in.
        return []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._events: list[dict] = []
        self._starting = False

    # --- state kept in the hub database, so a restarted hub finds its tasks again ---

    def get_state(self) -> dict:
        state = super().get_state()
        if self.task_arn:
            state["task_arn"] = self.task_arn
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self.task_arn = state.get("task_arn")

    def clear_state(self) -> None:
        super().clear_state()
        self.task_arn = None

    # --- the Spawner API ---

    async def _call(self, method: str, **params: Any) -> dict:
        return await asyncio.to_thread(getattr(self.ecs, method), **params)

    async def _efs_call(self, method: str, **params: Any) -> dict:
        return await asyncio.to_thread(getattr(self.efs, method), **params)

    async def _secrets_call(self, method: str, **params: Any) -> dict:
        return await asyncio.to_thread(getattr(self.secrets, method), **params)

    # --- the server's token: in the user's own secret, which the task definition names ---

    def token_secret_name(self) -> str:
        return self.token_secrets + home_folder(self.user.name)

    async def store_token(self) -> str:
        """Write this server's token as the current value of the user's secret; its ARN."""
        name = self.token_secret_name()
        try:
            stored = await self._secrets_call(
                "put_secret_value", SecretId=name, SecretString=self.api_token
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            stored = await self._secrets_call(
                "create_secret",
                Name=name,
                Description=f"Hub API token of {self.user.name}'s server"[:2048],
                SecretString=self.api_token,
                Tags=[
                    {"Key": USER_TAG, "Value": self.user.name},
                    {"Key": TIER_TAG, "Value": self.tier},
                ],
            )
        return stored["ARN"]

    # --- the user's home: an access point, and a task definition that mounts it ---

    def access_point_request(self) -> dict:
        """CreateAccessPoint for this user: as the image's user, rooted at their home."""
        folder = HOME_ROOT.format(user=home_folder(self.user.name))
        token = hashlib.sha256(f"{self.homes_file_system}{folder}".encode()).hexdigest()
        return {
            "ClientToken": token[:64],  # the same user's retry makes no second access point
            "FileSystemId": self.homes_file_system,
            "PosixUser": {"Uid": HOME_UID, "Gid": HOME_GID},
            "RootDirectory": {
                "Path": folder,
                "CreationInfo": {
                    "OwnerUid": HOME_UID,
                    "OwnerGid": HOME_GID,
                    "Permissions": "0700",
                },
            },
            "Tags": [
                {"Key": "Name", "Value": f"home of {self.user.name}"[:256]},
                {"Key": USER_TAG, "Value": self.user.name},
                {"Key": TIER_TAG, "Value": self.tier},
            ],
        }

    async def home_access_point(self) -> str:
        """The id of the user's access point: the existing one, or a new one once available."""
        wanted = self.access_point_request()
        path = wanted["RootDirectory"]["Path"]
        params = {"FileSystemId": self.homes_file_system}
        while True:
            page = await self._efs_call("describe_access_points", **params)
            for point in page.get("AccessPoints", []):
                if point.get("RootDirectory", {}).get("Path") == path:
                    return point["AccessPointId"]
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        self._report(5, "Making your home directory")
        point = await self._efs_call("create_access_point", **wanted)
        deadline = time.monotonic() + self.access_point_wait_seconds
        while point.get("LifeCycleState", "available") != "available":
            if time.monotonic() > deadline:
                raise SpawnFailed("Your home directory was not ready in time; try again.")
            await asyncio.sleep(self.poll_seconds)
            described = await self._efs_call(
                "describe_access_points", AccessPointId=point["AccessPointId"]
            )
            point = described["AccessPoints"][0]
        return point["AccessPointId"]

    def user_task_definition_request(
        self, base: dict, access_point: str | None, token_secret: str | None = None
    ) -> dict:
        """RegisterTaskDefinition: the product's user definition, plus the user's home (an
        access point) and the server's token from the user's secret, each when given."""
        copied = (
            "taskRoleArn",
            "executionRoleArn",
            "networkMode",
            "requiresCompatibilities",
            "cpu",
            "memory",
            "runtimePlatform",
            "ephemeralStorage",
        )
        request = {key: base[key] for key in copied if base.get(key) is not None}
        home = {
            "name": HOME_VOLUME,
            "efsVolumeConfiguration": {
                "fileSystemId": self.homes_file_system,
                "rootDirectory": "/",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": access_point, "iam": "ENABLED"},
            },
        }
        containers = []
        for container in base["containerDefinitions"]:
            container = dict(container)
            if container["name"] == self.container_name and access_point:
                # The home first: mounts inside it (the team's shared/) go on top of it.
                mount = {"sourceVolume": HOME_VOLUME, "containerPath": HOME_IN_SERVER}
                container["mountPoints"] = [mount, *container.get("mountPoints", [])]
            if container["name"] == self.container_name and token_secret:
                kept = [s for s in container.get("secrets", []) if s["name"] not in TOKEN_VARIABLES]
                token = [{"name": name, "valueFrom": token_secret} for name in TOKEN_VARIABLES]
                container["secrets"] = [*kept, *token]
            containers.append(container)
        # One family per user (the access point names it, else a hash of the name); the hub's
        # role may register only families that start with its tier's user family.
        user = access_point or "u" + hashlib.sha256(self.user.name.encode()).hexdigest()[:20]
        tags = [
            {"key": USER_TAG, "value": self.user.name},
            {"key": TIER_TAG, "value": self.tier},
            {"key": BASE_TAG, "value": base["taskDefinitionArn"]},
        ]
        return {
            **request,
            "family": f"{base['family']}-{user}",
            "containerDefinitions": containers,
            "volumes": [*([home] if access_point else []), *base.get("volumes", [])],
            "tags": [*tags, *([{"key": TOKEN_TAG, "value": token_secret}] if token_secret else [])],
        }

    async def user_task_definition(
        self, access_point: str | None, token_secret: str | None = None
    ) -> str:
        """The ARN of the user's task definition (the home, the token's secret): reused while
        the product's definition and the secret are the same, registered again otherwise."""
        base = (await self._call("describe_task_definition", taskDefinition=self.task_definition))[
            "taskDefinition"
        ]
        wanted = self.user_task_definition_request(base, access_point, token_secret)
        try:
            current = await self._call(
                "describe_task_definition", taskDefinition=wanted["family"], include=["TAGS"]
            )
        except ClientError:
            current = None  # no such family yet
        if current is not None:
            tags = {t["key"]: t["value"] for t in current.get("tags", [])}
            if tags.get(BASE_TAG) == base["taskDefinitionArn"] and tags.get(TOKEN_TAG) == (
                token_secret or None
            ):
                return current["taskDefinition"]["taskDefinitionArn"]
        registered = await self._call("register_task_definition", **wanted)
        return registered["taskDefinition"]["taskDefinitionArn"]

    def _report(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self._log_name, message)
        self._events.append({"progress": progress, "message": message})

    def capacity_providers(self) -> list[str]:
        """The capacity providers to try, in order: Spot, then regular Fargate if allowed."""
        if self.capacity_provider == "FARGATE_SPOT" and self.on_demand_fallback:
            return ["FARGATE_SPOT", "FARGATE"]
        return [self.capacity_provider]

    def run_task_request(self, capacity_provider: str | None = None) -> dict:
        """The RunTask parameters for this user's server (on `capacity_provider`, by default
        the configured one)."""
        provider = capacity_provider or self.capacity_provider
        size = self.chosen_size()
        self.ip, self.port = "0.0.0.0", self.server_port
        env = self.get_env()
        if self.token_secret_arn:  # the task definition takes it from the user's secret
            env = {k: v for k, v in env.items() if k not in TOKEN_VARIABLES}
        environment = [{"name": k, "value": str(v)} for k, v in sorted(env.items())]
        return {
            "cluster": self.cluster,
            "taskDefinition": self.server_task_definition or self.task_definition,
            "count": 1,
            "capacityProviderStrategy": [{"capacityProvider": provider, "weight": 1}],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(self.subnets),
                    "securityGroups": list(self.security_groups),
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {
                "cpu": str(size.cpu),
                "memory": str(size.memory),
                "containerOverrides": [
                    {
                        "name": self.container_name,
                        "command": [*self.cmd, *self.get_args()],
                        "environment": environment,
                    }
                ],
            },
            "startedBy": STARTED_BY,
            "tags": [
                {"key": USER_TAG, "value": self.user.name},
                {"key": SERVER_TAG, "value": self.name or "default"},
                *([{"key": HUB_TAG, "value": self.hub_id}] if self.hub_id else []),
            ],
        }

    async def start(self) -> tuple[str, int]:
        self._events = []
        self._starting = True
        try:
            return await self._start()
        finally:
            self._starting = False

    async def _start(self) -> tuple[str, int]:
        if self.homes_file_system or self.token_secrets:
            try:
                self.token_secret_arn = await self.store_token() if self.token_secrets else None
                access_point = await self.home_access_point() if self.homes_file_system else None
                self.server_task_definition = await self.user_task_definition(
                    access_point, self.token_secret_arn
                )
            except ClientError as err:
                raise SpawnFailed(explain_client_error(err)) from err
            except BotoCoreError as err:
                raise SpawnFailed(f"The hub could not reach AWS: {err}") from err
        *first, last = self.capacity_providers()
        for provider in first:
            try:
                return await self._start_on(provider)
            except NoCapacity:
                self._report(15, f"{provider} has no capacity right now; asking {last}")
        return await self._start_on(last)

    async def _start_on(self, provider: str) -> tuple[str, int]:
        """Run the server's task on `provider` and wait until it runs; NoCapacity when the
        provider has none (the task is then not running)."""
        request = self.run_task_request(provider)
        size = self.chosen_size()
        self._report(10, f"Asking {provider} for a server ({size.label})")
        try:
            response = await self._call("run_task", **request)
        except ClientError as err:
            raise SpawnFailed(explain_client_error(err)) from err
        except BotoCoreError as err:
            raise SpawnFailed(f"The hub could not reach ECS: {err}") from err
        if response.get("failures") or not response.get("tasks"):
            reasons = "; ".join(
                f.get("reason", "unknown") + (f" ({f['detail']})" if f.get("detail") else "")
                for f in response.get("failures", [])
            )
            if no_capacity(reasons):
                raise NoCapacity(explain_failure(reasons))
            raise SpawnFailed(explain_failure(reasons or "no task was started"))
        self.task_arn = response["tasks"][0]["taskArn"]
        deadline = time.monotonic() + self.start_timeout
        last = None
        while True:
            task = await self._describe()
            status = task.get("lastStatus", "UNKNOWN") if task else "MISSING"
            if status != last:
                self._report(30 if status != "RUNNING" else 90, f"Your server's task is {status}")
                last = status
            if status == "RUNNING":
                return self.task_ip(task), self.server_port
            if status in ENDED or status == "MISSING":
                reason = (task or {}).get("stoppedReason", "the task disappeared")
                self.task_arn = None
                if no_capacity(reason):
                    raise NoCapacity(explain_failure(reason))
                raise SpawnFailed(explain_failure(reason))
            if time.monotonic() > deadline:
                await self.stop()
                raise SpawnFailed(
                    f"Your server did not start within {self.start_timeout} seconds and was "
                    "stopped. Try again; if it keeps happening, tell the platform team."
                )
            await asyncio.sleep(self.poll_seconds)

    @staticmethod
    def task_ip(task: dict) -> str:
        """The private IPv4 address of the task's network interface."""
        for attachment in task.get("attachments", []):
            if attachment.get("type") == "ElasticNetworkInterface":
                for detail in attachment.get("details", []):
                    if detail.get("name") == "privateIPv4Address":
                        return detail["value"]
        raise SpawnFailed("The server's task is running but has no private IP address.")

    async def _describe(self) -> dict | None:
        response = await self._call("describe_tasks", cluster=self.cluster, tasks=[self.task_arn])
        return (response.get("tasks") or [None])[0]

    async def progress(self):
        sent = 0
        while True:
            while sent < len(self._events):
                yield self._events[sent]
                sent += 1
            if not self._starting:
                return
            await asyncio.sleep(0.5)

    async def poll(self) -> int | None:
        """None while the task runs; an exit status once it has stopped or is gone."""
        if not self.task_arn:
            return 0
        try:
            task = await self._describe()
        except (ClientError, BotoCoreError) as err:
            # Unknown is not stopped: keep the route; the next poll tries again.
            self.log.warning("%s: cannot describe %s: %s", self._log_name, self.task_arn, err)
            return None
        if task is None:
            return 0
        if task.get("lastStatus") in ENDED or task.get("desiredStatus") == "STOPPED":
            codes = [c.get("exitCode") for c in task.get("containers", [])]
            return next((code for code in codes if code is not None), 0)
        return None

    async def stop(self, now: bool = False) -> None:
        if not self.task_arn:
            return
        try:
            await self._call(
                "stop_task",
                cluster=self.cluster,
                task=self.task_arn,
                reason="Stopped by JupyterHub",
            )
        except ClientError as err:
            # Already stopped and gone is what we wanted; anything else must be seen.
            if err.response.get("Error", {}).get("Code") not in (
                "InvalidParameterException",
                "ResourceNotFoundException",
            ):
                raise
        self.task_arn = None
