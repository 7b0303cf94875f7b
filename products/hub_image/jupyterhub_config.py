"""JupyterHub configuration of the labcatalog hub image, for both products.

Configured only through the environment variables in environment.md (beside this file); every
one is read and checked by labcatalog_hub.settings, and a hub with a broken environment refuses
to start with a message naming each problem. No credentials live in the image or in any file:
the hub uses its task or instance role through the default credential chain, and users' servers
get their user's credentials from the hub (labcatalog_hub/credentials.py).
"""

import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from labcatalog_hub import auth, credentials  # noqa: E402
from labcatalog_hub.docker_spawner import DockerSpawner  # noqa: E402
from labcatalog_hub.ecs_spawner import EcsSpawner  # noqa: E402
from labcatalog_hub.settings import HubSettings  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub defines it while loading this file)
settings = HubSettings.from_env(os.environ)

# --- hub state: the directory the template mounts (EFS on Fargate) ---
state = Path(settings.state_dir)
state.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
# The proxy's PID file is the task's own, never in the state directory: a PID means nothing in
# the next task (a PID namespace of its own), where it may name a live process, even the hub, which
# would then be signalled as a "leftover proxy" and the new hub would fail to start.
c.ConfigurableHTTPProxy.pid_file = "/tmp/jupyterhub-proxy.pid"
c.JupyterHub.public_url = settings.public_url

# --- who may log in ---
c.Authenticator.manage_groups = True  # the provider's groups become hub groups at each login
c.Authenticator.enable_auth_state = settings.encrypt_auth_state
c.Authenticator.allowed_users = set(settings.allowed_users)
c.Authenticator.any_allow_config = True  # TierGate.check_allowed is the allow rule
c.TierGate.tier = settings.tier
c.TierGate.tier_group = settings.tier_group
c.TierGate.admin_group = settings.admin_group

if settings.oidc:
    oidc = settings.oidc
    endpoints = auth.discover(oidc.issuer)
    c.JupyterHub.authenticator_class = auth.OidcAuthenticator
    c.OidcAuthenticator.authorize_url = endpoints["authorization_endpoint"]
    c.OidcAuthenticator.token_url = endpoints["token_endpoint"]
    # Cognito puts groups in the ID token only (not in userinfo), so read claims from it.
    c.OidcAuthenticator.userdata_from_id_token = True
    c.OidcAuthenticator.client_id = oidc.client_id
    c.OidcAuthenticator.client_secret = oidc.client_secret
    c.OidcAuthenticator.oauth_callback_url = f"{settings.public_url}/hub/oauth_callback"
    c.OidcAuthenticator.scope = ["openid", "email", "profile"]
    c.OidcAuthenticator.username_claim = oidc.username_claim
    c.OidcAuthenticator.groups_claim = oidc.groups_claim
    if settings.admin_group:
        c.OidcAuthenticator.admin_groups = {auth.group_name(settings.admin_group)}
    c.OidcAuthenticator.login_service = "your organisation's sign-in"
elif settings.ldap:
    ldap = settings.ldap
    url = urlparse(ldap.url)
    c.JupyterHub.authenticator_class = auth.LdapAuthenticator
    c.LdapAuthenticator.server_address = url.hostname
    if url.scheme == "ldaps":
        c.LdapAuthenticator.tls_strategy = "on_connect"
    elif url.hostname in ("127.0.0.1", "localhost", "::1"):
        c.LdapAuthenticator.tls_strategy = "insecure"  # a server on this host (tests)
    else:
        c.LdapAuthenticator.tls_strategy = "before_bind"  # StartTLS
    if url.port:
        c.LdapAuthenticator.server_port = url.port
    c.LdapAuthenticator.bind_dn_template = list(ldap.bind_dn_templates)
    c.LdapAuthenticator.group_search_base = ldap.group_search_base
    if ldap.bind_user_dn:
        c.LdapAuthenticator.lookup_dn_search_user = ldap.bind_user_dn
        c.LdapAuthenticator.lookup_dn_search_password = ldap.bind_password
else:  # local: tests only, refused by HubSettings unless LABCATALOG_ALLOW_LOCAL_AUTH=1
    secret_file = state / "local-auth-secret"
    if not secret_file.exists():
        secret_file.touch(mode=0o600)
        secret_file.write_text(secrets.token_urlsafe(32))
    c.JupyterHub.authenticator_class = auth.LocalTestAuthenticator
    c.LocalTestAuthenticator.secret = secret_file.read_text().strip()

# --- servers ---
# Activity is reported often enough that culling happens within a tenth of the timeout.
activity_seconds = max(1, min(300, settings.idle_timeout_seconds // 10))
c.Spawner.sizes = [size.key for size in settings.sizes]
c.Spawner.default_size = settings.default_size.key if settings.default_size else ""
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    "LABCATALOG_TIER": settings.tier,
    "LABCATALOG_NOTEBOOK_BUCKET": settings.notebook_bucket,
    "LABCATALOG_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
    # The server's own config (the home is the file browser's root) is in server_config/.
    "JUPYTER_CONFIG_PATH": str(HERE / "server_config"),
    "JUPYTERHUB_ACTIVITY_INTERVAL": str(activity_seconds),
}
c.JupyterHub.last_activity_interval = activity_seconds

# --- the hub's hours: the login page says when a scheduled hub comes back ---
if settings.hub_hours_notice:
    c.JupyterHub.template_vars = {
        "announcement_login": settings.hub_hours_notice,
        "announcement_home": settings.hub_hours_notice,
    }
    # Servers stop themselves when idle (server_config): while the hub is scaled to zero
    # outside its hours, nobody else culls them.
    c.Spawner.environment["LABCATALOG_IDLE_TIMEOUT_SECONDS"] = str(settings.idle_timeout_seconds)

# --- AWS credentials: each user's server gets its user's data-role session from the hub only ---
# (labcatalog_hub/credentials.py; the server's credential_process asks for it on the API port).
c.JupyterHub.extra_handlers = credentials.handlers(
    credentials.CredentialBroker(
        settings.tier,
        session_seconds=settings.credentials_session_seconds,
        refresh_seconds=settings.credentials_refresh_seconds,
    )
)

if settings.ecs:
    ecs = settings.ecs
    c.JupyterHub.spawner_class = EcsSpawner
    c.EcsSpawner.cluster = ecs.cluster
    c.EcsSpawner.task_definition = ecs.task_definition
    c.EcsSpawner.subnets = list(ecs.subnets)
    c.EcsSpawner.security_groups = list(ecs.security_groups)
    c.EcsSpawner.capacity_provider = ecs.capacity_provider
    c.EcsSpawner.endpoint_url = ecs.endpoint_url
    # Each user's home: their access point on the tier's file system, mounted at /home/jovyan.
    c.EcsSpawner.homes_file_system = ecs.homes_file_system
    c.EcsSpawner.tier = settings.tier
    # Each server's hub API token reaches its task from Secrets Manager, not RunTask overrides.
    c.EcsSpawner.token_secrets = f"labcatalog/{settings.tier}/server-tokens/"
    c.EcsSpawner.start_timeout = 600  # Fargate pulls a multi-GB image on first start
    c.EcsSpawner.http_timeout = 180
    # Servers in their own tasks reach the hub's API over the VPC, and outlive a hub restart.
    c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
    c.JupyterHub.cleanup_servers = False
elif settings.docker:
    # Each server is a container of its own (products/personal_hub/userdata.sh runs the hub
    # with the Docker socket and this network); none sees the hub's environment or files.
    docker = settings.docker
    c.JupyterHub.spawner_class = DockerSpawner
    c.DockerSpawner.image = docker.image
    c.DockerSpawner.network = docker.network
    c.DockerSpawner.homes_dir = docker.homes
    c.DockerSpawner.homes_host_dir = docker.homes_on_host
    c.DockerSpawner.gpus = docker.gpus
    c.DockerSpawner.start_timeout = 300  # the image is already on the instance
    c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
    # The hub container's name and hostname, which Docker resolves on the network.
    c.JupyterHub.hub_connect_url = f"http://{socket.gethostname()}:8081"

# Servers reach the hub's API by a name that outlives the hub's task (the shared hub's Cloud
# Map name), never by the task's own address: after a restart they find the new hub there.
if settings.hub_connect_url:
    c.JupyterHub.hub_connect_url = settings.hub_connect_url

# --- idle culling ---
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings.idle_timeout_seconds}",
            f"--cull-every={activity_seconds}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    }
]

# --- activity reporting (personal hub): the instance stops when nobody has used it ---
# labcatalog_hub/activity.py publishes whether anyone is active; the product's alarm stops the
# instance on it. The boot script names the instance; a hub without one reports nothing.
if settings.activity_instance:
    c.JupyterHub.services.append(
        {
            "name": "activity-reporter",
            "command": [sys.executable, "-m", "labcatalog_hub.activity"],
            "cwd": str(HERE),  # where labcatalog_hub is
            # A managed service gets only the variables named here (and JupyterHub's own).
            "environment": {
                "LABCATALOG_ACTIVITY_INSTANCE": settings.activity_instance,
                **{k: v for k, v in os.environ.items() if k == "AWS_DEFAULT_REGION"},
            },
        }
    )
    c.JupyterHub.load_roles.append(
        {
            "name": "activity-reporter",
            "services": ["activity-reporter"],
            "scopes": ["list:users", "read:users:activity", "read:servers"],
        }
    )

# --- the hub database: one hub per state directory, at this JupyterHub's schema ---
# Before JupyterHub opens it: a second hub on the same state refuses to start, and a database
# of an older JupyterHub is copied to backups/ on the state directory, then upgraded.
from labcatalog_hub import database, reaper  # noqa: E402

database.hold_lock(state, settings.state_lock_wait_seconds)
database.upgrade(state / "jupyterhub.sqlite", state / database.BACKUPS)

# --- orphaned server tasks: started while the hub restarted, so never recorded ---
if settings.ecs:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    c.EcsSpawner.hub_id = settings.public_url
    try:
        stopped = reaper.reap(
            boto3.session.Session().client("ecs", endpoint_url=settings.ecs.endpoint_url),
            settings.ecs.cluster,
            settings.public_url,
            state / "jupyterhub.sqlite",
        )
        print(f"orphaned server tasks stopped: {len(stopped)}", file=sys.stderr)
    except (BotoCoreError, ClientError) as err:  # the hub still serves; say why it could not
        print(f"could not look for orphaned server tasks: {err}", file=sys.stderr)
