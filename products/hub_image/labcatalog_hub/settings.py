"""The hub's settings, read from the environment contract (products/hub_image/environment.md).

Every variable is read here and nowhere else, so the contract and the code can be compared by a
test, and a mistake in a template is reported at start-up, all problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

AUTH_MODES = ("oidc", "ldap", "local")
SERVER_MODES = ("fargate", "docker")
CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
# Fargate's valid CPU units; memory (MiB) is checked by AWS against the CPU at RunTask.
FARGATE_CPU = (256, 512, 1024, 2048, 4096, 8192, 16384)


class SettingsError(ValueError):
    """The environment does not describe a hub this image can run; says every problem."""


@dataclass(frozen=True)
class ServerSize:
    """A size a user may pick: Fargate CPU units and memory in MiB."""

    cpu: int
    memory: int

    @property
    def key(self) -> str:
        return f"{self.cpu}:{self.memory}"

    @property
    def label(self) -> str:
        return f"{self.cpu / 1024:g} vCPU, {self.memory / 1024:g} GiB memory"

    @classmethod
    def parse(cls, text: str) -> ServerSize:
        match = re.fullmatch(r"\s*(\d+):(\d+)\s*", text)
        if not match:
            raise ValueError(f"{text!r} is not cpu:memory, e.g. 1024:4096")
        size = cls(int(match[1]), int(match[2]))
        if size.cpu not in FARGATE_CPU:
            raise ValueError(f"{text!r}: cpu must be one of {', '.join(map(str, FARGATE_CPU))}")
        return size


@dataclass(frozen=True)
class Oidc:
    issuer: str
    client_id: str
    client_secret: str
    groups_claim: str
    username_claim: str


@dataclass(frozen=True)
class Ldap:
    url: str
    bind_dn_templates: tuple[str, ...]
    group_search_base: str
    bind_user_dn: str
    bind_password: str


@dataclass(frozen=True)
class Ecs:
    cluster: str
    task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    capacity_provider: str
    endpoint_url: str | None
    homes_file_system: str = ""  # the tier's home file system; empty: servers keep nothing


@dataclass(frozen=True)
class Docker:
    image: str
    network: str
    homes: str
    homes_on_host: str
    gpus: bool


@dataclass(frozen=True)
class HubSettings:
    tier: str
    public_url: str
    state_dir: str
    auth: str
    tier_group: str
    admin_group: str
    allowed_users: tuple[str, ...]
    server_mode: str
    sizes: tuple[ServerSize, ...]
    default_size: ServerSize | None
    idle_timeout_seconds: int
    notebook_bucket: str
    s3_endpoint_url: str | None
    encrypt_auth_state: bool
    oidc: Oidc | None = None
    ldap: Ldap | None = None
    ecs: Ecs | None = None
    docker: Docker | None = None
    # Where servers reach the hub's API: a name that outlives the hub's task (Cloud Map on AWS).
    hub_connect_url: str | None = None
    # How long a starting hub waits for the previous one to release the state directory.
    state_lock_wait_seconds: int = 120
    # The instance whose activity the hub reports (personal hub; labcatalog_hub/activity.py).
    activity_instance: str | None = None
    # The shared hub's hours on working days (start, stop), when it is scaled to zero outside
    # them; None: always on. Said on the login page, in hub_time_zone.
    hub_hours: tuple[int, int] | None = None
    hub_time_zone: str = "UTC"
    # A user's data-role session: how long it lasts (one hour at most: role chaining), and how
    # long before its end the hub renews it (labcatalog_hub/credentials.py).
    credentials_session_seconds: int = 3600
    credentials_refresh_seconds: int = 1200

    @property
    def hub_hours_notice(self) -> str:
        """What the login page says about the hub's hours ("" when it always runs)."""
        if not self.hub_hours:
            return ""
        start, stop = self.hub_hours
        return (
            f"This hub runs Monday to Friday from {start}:00 to {stop}:00 ({self.hub_time_zone}). "
            f"Outside those hours it is stopped and comes back at {start}:00 on the next working "
            "day; your files are kept."
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HubSettings:
        """Read and check every LABCATALOG_* variable; raise SettingsError naming each problem."""
        return _Reader(env).settings()


class _Reader:
    """Collects problems while reading, so one start-up reports all of them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def need(self, name: str, why: str = "") -> str:
        value = self.get(name)
        if value is None:
            self.problems.append(f"{name} is required{why}")
            return ""
        return value

    def one_of(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(name, default)
        if value not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)} (got {value!r})")
        return value or ""

    def listed(self, name: str, sep: str = ",") -> tuple[str, ...]:
        return tuple(item.strip() for item in (self.get(name) or "").split(sep) if item.strip())

    def settings(self) -> HubSettings:
        auth = self.one_of("LABCATALOG_AUTH", AUTH_MODES)
        if auth == "local" and self.get("LABCATALOG_ALLOW_LOCAL_AUTH") != "1":
            self.problems.append(
                "LABCATALOG_AUTH=local is for tests only and needs LABCATALOG_ALLOW_LOCAL_AUTH=1; "
                "a template must use oidc or ldap"
            )
        mode = self.one_of("LABCATALOG_SERVER_MODE", SERVER_MODES)
        sizes, default = self.sizes(mode)
        settings = HubSettings(
            tier=self.need("LABCATALOG_TIER"),
            public_url=self.need("LABCATALOG_PUBLIC_URL").rstrip("/"),
            state_dir=self.need("LABCATALOG_STATE_DIR"),
            auth=auth,
            tier_group=self.need("LABCATALOG_TIER_GROUP", ": only its members may log in"),
            admin_group=self.get("LABCATALOG_ADMIN_GROUP", "") or "",
            allowed_users=self.listed("LABCATALOG_ALLOWED_USERS"),
            server_mode=mode,
            sizes=sizes,
            default_size=default,
            idle_timeout_seconds=self.idle_timeout(),
            notebook_bucket=self.need("LABCATALOG_NOTEBOOK_BUCKET"),
            s3_endpoint_url=self.get("LABCATALOG_S3_ENDPOINT_URL"),
            encrypt_auth_state=bool(self.get("JUPYTERHUB_CRYPT_KEY")),
            oidc=self.oidc() if auth == "oidc" else None,
            ldap=self.ldap() if auth == "ldap" else None,
            ecs=self.ecs() if mode == "fargate" else None,
            docker=self.docker() if mode == "docker" else None,
            hub_connect_url=self.hub_connect_url(required=mode == "fargate"),
            state_lock_wait_seconds=self.lock_wait(),
            activity_instance=self.get("LABCATALOG_ACTIVITY_INSTANCE"),
            hub_hours=self.hub_hours(),
            hub_time_zone=self.get("LABCATALOG_HUB_TIME_ZONE", "UTC") or "UTC",
            **self.credentials(),
        )
        if self.problems:
            raise SettingsError(
                "the hub's environment is not valid (see products/hub_image/environment.md):\n  "
                + "\n  ".join(self.problems)
            )
        return settings

    def sizes(self, mode: str) -> tuple[tuple[ServerSize, ...], ServerSize | None]:
        fallback = ServerSize(1024, 4096)
        try:
            sizes = tuple(map(ServerSize.parse, self.listed("LABCATALOG_SERVER_SIZES")))
            default_text = self.get("LABCATALOG_DEFAULT_SERVER_SIZE")
            default = ServerSize.parse(default_text) if default_text else None
        except ValueError as err:
            self.problems.append(f"LABCATALOG_SERVER_SIZES/DEFAULT_SERVER_SIZE: {err}")
            return (fallback,), fallback
        if not sizes and mode == "docker" and default is None:
            return (), None  # a personal hub's servers may use the whole instance
        if not sizes:
            self.problems.append("LABCATALOG_SERVER_SIZES is required, e.g. 1024:4096,2048:8192")
            return (fallback,), fallback
        if default is None:
            default = sizes[0]
        if default not in sizes:
            self.problems.append(
                f"LABCATALOG_DEFAULT_SERVER_SIZE {default.key} is not one of "
                f"LABCATALOG_SERVER_SIZES ({', '.join(s.key for s in sizes)})"
            )
        return sizes, default

    def idle_timeout(self) -> int:
        text = self.need("LABCATALOG_IDLE_TIMEOUT_MINUTES")
        try:
            # Fractions are allowed so that tests can cull within seconds.
            seconds = round(float(text) * 60)
        except ValueError:
            seconds = 0
        if text and seconds < 1:
            self.problems.append(
                f"LABCATALOG_IDLE_TIMEOUT_MINUTES must be a positive number (got {text!r})"
            )
        return max(seconds, 1)

    def oidc(self) -> Oidc:
        return Oidc(
            issuer=self.need("LABCATALOG_OIDC_ISSUER", " for oidc").rstrip("/"),
            client_id=self.need("LABCATALOG_OIDC_CLIENT_ID", " for oidc"),
            client_secret=self.need("LABCATALOG_OIDC_CLIENT_SECRET", " for oidc"),
            groups_claim=self.get("LABCATALOG_OIDC_GROUPS_CLAIM", "cognito:groups") or "",
            username_claim=self.get("LABCATALOG_OIDC_USERNAME_CLAIM", "email") or "",
        )

    def ldap(self) -> Ldap:
        templates = self.listed("LABCATALOG_LDAP_BIND_DN_TEMPLATE", ";")
        if not templates:
            self.problems.append("LABCATALOG_LDAP_BIND_DN_TEMPLATE is required for ldap")
        for template in templates:
            if "{username}" not in template:
                self.problems.append(
                    f"LABCATALOG_LDAP_BIND_DN_TEMPLATE {template!r} has no {{username}}"
                )
        return Ldap(
            url=self.need("LABCATALOG_LDAP_URL", " for ldap"),
            bind_dn_templates=templates,
            group_search_base=self.need("LABCATALOG_LDAP_GROUP_SEARCH_BASE", " for ldap"),
            bind_user_dn=self.get("LABCATALOG_LDAP_BIND_USER_DN", "") or "",
            bind_password=self.get("LABCATALOG_LDAP_BIND_PASSWORD", "") or "",
        )

    def ecs(self) -> Ecs:
        why = " for fargate servers"
        subnets = self.listed("LABCATALOG_ECS_SUBNETS")
        groups = self.listed("LABCATALOG_ECS_SECURITY_GROUPS")
        if not subnets:
            self.problems.append(f"LABCATALOG_ECS_SUBNETS is required{why}")
        if not groups:
            self.problems.append(f"LABCATALOG_ECS_SECURITY_GROUPS is required{why}")
        return Ecs(
            cluster=self.need("LABCATALOG_ECS_CLUSTER", why),
            task_definition=self.need("LABCATALOG_ECS_TASK_DEFINITION", why),
            subnets=subnets,
            security_groups=groups,
            capacity_provider=self.one_of(
                "LABCATALOG_ECS_CAPACITY_PROVIDER", CAPACITY_PROVIDERS, "FARGATE"
            ),
            endpoint_url=self.get("LABCATALOG_ECS_ENDPOINT_URL"),
            homes_file_system=self.get("LABCATALOG_ECS_HOMES_FILE_SYSTEM", "") or "",
        )

    def docker(self) -> Docker:
        why = " for docker servers"
        return Docker(
            image=self.need("LABCATALOG_DOCKER_IMAGE", why),
            network=self.need("LABCATALOG_DOCKER_NETWORK", why),
            homes=self.need("LABCATALOG_DOCKER_HOMES", why),
            homes_on_host=self.need("LABCATALOG_DOCKER_HOMES_ON_HOST", why),
            gpus=self.one_of("LABCATALOG_DOCKER_GPUS", ("all", "none"), "none") == "all",
        )

    def hub_connect_url(self, required: bool) -> str | None:
        name = "LABCATALOG_HUB_CONNECT_URL"
        url = self.get(name)
        if url is None:
            if required:
                self.problems.append(
                    f"{name} is required for fargate servers: they reach the hub by a name "
                    "that outlives the hub's task, never by its address"
                )
            return None
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+:\d+/?", url):
            self.problems.append(f"{name} must be http://HOST:PORT (got {url!r})")
        return url.rstrip("/")

    def hub_hours(self) -> tuple[int, int] | None:
        name = "LABCATALOG_HUB_HOURS"
        text = self.get(name)
        if text is None:
            return None
        match = re.fullmatch(r"(1?\d|2[0-3])-(1?\d|2[0-3])", text)
        if not match:
            self.problems.append(f"{name} must be START-STOP hours from 0 to 23 (got {text!r})")
            return None
        return int(match[1]), int(match[2])

    def credentials(self) -> dict[str, int]:
        """A session of 900 to 3600 seconds (STS's least, role chaining's most), renewed
        from 1 to less than its length before its end."""
        seconds = {}
        for key, name, default, least, most in (
            ("credentials_session_seconds", "SESSION", 3600, 900, 3600),
            ("credentials_refresh_seconds", "REFRESH", 1200, 1, 3599),
        ):
            name = f"LABCATALOG_CREDENTIALS_{name}_SECONDS"
            text = self.get(name, str(default)) or str(default)
            if not text.isdigit() or not least <= int(text) <= most:
                self.problems.append(
                    f"{name} must be a whole number from {least} to {most} (got {text!r})"
                )
                text = str(default)
            seconds[key] = int(text)
        if seconds["credentials_refresh_seconds"] >= seconds["credentials_session_seconds"]:
            self.problems.append(
                "LABCATALOG_CREDENTIALS_REFRESH_SECONDS must be less than "
                "LABCATALOG_CREDENTIALS_SESSION_SECONDS"
            )
        return seconds

    def lock_wait(self) -> int:
        name = "LABCATALOG_STATE_LOCK_WAIT_SECONDS"
        text = self.get(name, "120") or "120"
        if not text.isdigit():
            self.problems.append(f"{name} must be a whole number of seconds (got {text!r})")
            return 120
        return int(text)
