"""Names that the platform stack and the products must agree on.

The platform's IAM policies scope what a tier's hub may touch by *name*, because the platform is
deployed before any product stack and cannot know the product's ARNs. Each pattern below is
written once and filled in twice: by a product with CloudFormation variables
(`tier="${Tier}"`, `stack="${AWS::StackName}"`) and by the platform with the tier's name and a
wildcard (`stack="*"`). Tier names never contain `_` (see `config.TierName`), so
`labcatalog-pii_` can never match a cluster of a tier called `pii-x`.
"""

from __future__ import annotations

NAME_PREFIX = "labcatalog"
SSM_PREFIX = "/labcatalog"
LOG_GROUP_PREFIX = "/labcatalog/"

# ECS names: letters, digits, '-' and '_' only, at most 255 characters.
CLUSTER = "labcatalog-{tier}_{stack}"
HUB_TASK_FAMILY = "labcatalog-{tier}_hub_{stack}"
USER_TASK_FAMILY = "labcatalog-{tier}_user_{stack}"
# The platform's ECR repository of hub images.
HUB_REPOSITORY = "labcatalog/hub"
# Tags that keep an image: the repository's lifecycle never expires an image with one, and the
# publisher gives one to each image a live product version names (engine/publish/images.py).
IN_USE_IMAGE_TAG_PREFIX = "in-use-"
# Log groups and Secrets Manager secrets of a tier live under the tier's own path.
TIER_LOG_GROUPS = "/labcatalog/{tier}/"
TIER_SECRETS = "labcatalog/{tier}/"

WILDCARD = "*"

# A tier's hubs have a label that is the tier's name in their DNS names (`hub.pii.example.com`,
# `pii.example.com`): its launch role writes DNS records only there (IAM patterns, `{tier}`
# filled in).
TIER_HOST_NAMES = ("{tier}.*", "*.{tier}.*")

# Tag keys: the publisher finds what it manages by them, IAM conditions and people filter by them.
STACK_TAG = "labcatalog:stack"
TIER_TAG = "labcatalog:tier"
PRODUCT_TAG = "labcatalog:product"
OWNER_TAG = "labcatalog:owner"
# On each shared hub's host-name rule of the account's listener: the tier whose hub route function
# made it, the only tier that function may change or delete it for. Not TIER_TAG: launch roles
# may change what carries their tier's tag, and IAM cannot limit a rule's host name.
ROUTE_TIER_TAG = "labcatalog:route-tier"
# The parameter every product template declares for its tier; the build binds it, one template
# per tier (`generator.cfn.bind`), so no tier is chosen in the console.
TIER_TEMPLATE_PARAMETER = "Tier"


def tier_parameter(tier: str, name: str) -> str:
    """SSM name of a per-tier value the platform publishes, e.g. the tier's notebook role."""
    return f"{SSM_PREFIX}/tiers/{tier}/{name}"


def platform_parameter(name: str) -> str:
    """SSM name of an account-wide value the platform publishes."""
    return f"{SSM_PREFIX}/platform/{name}"


def resolved(parameter: str) -> str:
    """A dynamic reference: CloudFormation reads the SSM parameter when the stack is launched."""
    return "{{resolve:ssm:" + parameter + "}}"


# The hub image's latest build: the platform's image build writes its tag here after each build.
# Products do not read it: each product version names its image by content tag.
HUB_IMAGE_TAG_PARAMETER = platform_parameter("hub-image-tag")

# Every SSM parameter the platform publishes, named once. Account-wide values:
NOTEBOOK_BUCKET_PARAMETER = platform_parameter("notebook-bucket")
NOTEBOOK_KEY_ARN_PARAMETER = platform_parameter("notebook-key-arn")
HUB_REPOSITORY_URI_PARAMETER = platform_parameter("hub-repository-uri")
HUB_KEY_ARN_PARAMETER = platform_parameter("hub-key-arn")
LOAD_BALANCER_LOG_BUCKET_PARAMETER = platform_parameter("load-balancer-log-bucket")
TEMPLATE_BUCKET_PARAMETER = platform_parameter("template-bucket")
# The account's load balancer, which shared hubs reach through their tier's route function:
# its HTTPS listener, its DNS name and zone (for hubs' alias records), and the security group a
# hub task joins to be reachable from it.
ACCOUNT_LISTENER_ARN_PARAMETER = platform_parameter("load-balancer/listener-arn")
ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER = platform_parameter("load-balancer/dns-name")
ACCOUNT_LOAD_BALANCER_ZONE_ID_PARAMETER = platform_parameter("load-balancer/hosted-zone-id")
BEHIND_LOAD_BALANCER_GROUP_PARAMETER = platform_parameter("load-balancer/hubs-security-group")
# Per tier, as patterns: `.format(tier="pii")` in the platform, `tier="${Tier}"` in a product.
NOTEBOOK_ROLE_ARN_PARAMETER = tier_parameter("{tier}", "notebook-role-arn")
LAUNCH_ROLE_ARN_PARAMETER = tier_parameter("{tier}", "launch-role-arn")
HUB_TASK_ROLE_ARN_PARAMETER = tier_parameter("{tier}", "hub-task-role-arn")
TASK_EXECUTION_ROLE_ARN_PARAMETER = tier_parameter("{tier}", "task-execution-role-arn")
PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER = tier_parameter(
    "{tier}", "personal-hub-instance-profile-name"
)
# The platform's settings from portfolio.yaml (network, identity provider, tier groups, DNS, the
# owner rule), published for each tier under one path: products read them there instead of
# asking at launch. A CloudFormation dynamic reference cannot be split into a list (Fn::Split
# runs before it is resolved), so a list is published whole, for code that reads it at run
# time, and its first two items on their own, for template properties that take a list.
TIER_SETTINGS = tier_parameter("{tier}", "settings/")


def tier_setting(name: str) -> str:
    """SSM name pattern of one of a tier's settings, e.g. `tier_setting("network/vpc-id")`."""
    return TIER_SETTINGS + name


VPC_ID_SETTING = tier_setting("network/vpc-id")
SERVER_SUBNETS_SETTING = tier_setting("network/server-subnets")  # comma-separated
FIRST_SERVER_SUBNET_SETTING = tier_setting("network/server-subnet-1")
SECOND_SERVER_SUBNET_SETTING = tier_setting("network/server-subnet-2")
FIRST_LOAD_BALANCER_SUBNET_SETTING = tier_setting("network/load-balancer-subnet-1")
SECOND_LOAD_BALANCER_SUBNET_SETTING = tier_setting("network/load-balancer-subnet-2")
AUTH_MODE_SETTING = tier_setting("identity/mode")  # oidc or ldap
IDENTITY_GROUP_SETTING = tier_setting("identity/tier-group")
ADMIN_GROUP_SETTING = tier_setting("identity/admin-group")
OIDC_ISSUER_SETTING = tier_setting("identity/oidc-issuer-url")
OIDC_CLIENT_ID_SETTING = tier_setting("identity/oidc-client-id")
OIDC_CLIENT_SECRET_SETTING = tier_setting("identity/oidc-client-secret-name")
OIDC_USERNAME_CLAIM_SETTING = tier_setting("identity/oidc-username-claim")
OIDC_GROUPS_CLAIM_SETTING = tier_setting("identity/oidc-groups-claim")
LDAP_URL_SETTING = tier_setting("identity/ldap-url")
LDAP_BIND_DN_TEMPLATE_SETTING = tier_setting("identity/ldap-bind-dn-template")
LDAP_GROUP_SEARCH_BASE_SETTING = tier_setting("identity/ldap-group-search-base")
LDAP_BIND_USER_DN_SETTING = tier_setting("identity/ldap-bind-user-dn")
LDAP_BIND_PASSWORD_SECRET_SETTING = tier_setting("identity/ldap-bind-password-secret-name")
HOSTED_ZONE_ID_SETTING = tier_setting("dns/hosted-zone-id")
CERTIFICATE_ARN_SETTING = tier_setting("dns/certificate-arn")
# What follows the hub's name in its host name, e.g. ".pii.jupyter.example.com".
HUB_HOST_NAME_SUFFIX_SETTING = tier_setting("dns/hub-host-name-suffix")
OWNER_PRINCIPAL_PATTERN_SETTING = tier_setting("owner/principal-pattern")
# The tag Service Catalog puts on a provisioned product's stack (and CloudFormation on its
# resources): who launched it. A personal hub's owner comes from it when Owner is left empty.
PROVISIONING_PRINCIPAL_TAG = "aws:servicecatalog:provisioningPrincipalArn"

# What a launch role may read: every platform value and its own tier's.
PLATFORM_PARAMETERS = platform_parameter("*")
TIER_PARAMETERS = tier_parameter("{tier}", "*")

# IAM role names of a tier, made by the platform. Service Catalog's launch constraints name the
# launch role (LocalRoleName), so the publisher and the platform must agree on it.
LAUNCH_ROLE = NAME_PREFIX + "-{tier}-launch"
NOTEBOOK_ROLE = NAME_PREFIX + "-{tier}-notebook"
TASK_EXECUTION_ROLE = NAME_PREFIX + "-{tier}-task-execution"
HUB_TASK_ROLE = NAME_PREFIX + "-{tier}-hub"
PERSONAL_HUB_ROLE = NAME_PREFIX + "-{tier}-personal-hub"
# The role Systems Manager runs a tier's personal-hub self-service actions as; the publisher
# names it in each tier's service actions (AssumeRole), so both must agree.
PERSONAL_HUB_ACTION_ROLE = NAME_PREFIX + "-{tier}-personal-hub-actions"
# The managed policy of a tier's end users (its portfolio's principals), made by the platform.
END_USER_POLICY = NAME_PREFIX + "-{tier}-end-user"
# The tier's data: only its hubs assume it, for one person at a time (the person's source identity
# and the session tags below); users' servers get its sessions from their hub, never the role.
DATA_ROLE = NAME_PREFIX + "-{tier}-data"
# Session tags the hub sets when it assumes the data role for a user (the tier tag is TIER_TAG).
USER_TAG = "labcatalog:user"
# Each user's own folder of a tier in the notebook bucket, where <identity> is the source identity
# the hub set (an IAM policy variable in the policies). Outside `<tier>/` (the tier's, which
# every user of it shares): an Allow cannot carve others' folders out of a wider one. `_` keeps
# it apart from every tier's prefix (tier names have none).
USER_FOLDER = "_users/{tier}/{identity}/"
SOURCE_IDENTITY = "${aws:SourceIdentity}"
# Managed policies attached to launch roles: account-wide ones and one tier's own.
LAUNCH_POLICY = NAME_PREFIX + "-launch-{name}"
TIER_LAUNCH_POLICY = NAME_PREFIX + "-{tier}-launch-{name}"
# Each user server's hub API token, one secret per user that the server's task definition names
# (the task execution role resolves it), so the token is in no RunTask override.
SERVER_TOKEN_SECRETS = TIER_SECRETS + "server-tokens/"
# The audit trail of the tiers with `audit: true`: one trail (CloudTrail allows five per region).
AUDIT_TRAIL = NAME_PREFIX + "-audit"
# Secrets Manager: a personal hub reads only these (the shared hub's are the rest of TIER_SECRETS).
PERSONAL_HUB_SECRETS = TIER_SECRETS + "personal-hub/"
# KMS aliases of the platform's keys.
NOTEBOOK_KEY_ALIAS = f"alias/{NAME_PREFIX}-notebooks"
HUB_KEY_ALIAS = f"alias/{NAME_PREFIX}-hub"

# The account's load balancer (products/shared_hub/account_balancer.py): the role of every
# tier's route function (HUB_ROUTE_FUNCTION, below), each function's log group under its tier's,
# and where the load balancer's access logs go under LOAD_BALANCER_LOG_PREFIX.
HUB_ROUTE_ROLE = NAME_PREFIX + "-hub-route"
HUB_ROUTE_LOG_GROUP = TIER_LOG_GROUPS + "hub-route"
ACCOUNT_LOAD_BALANCER_LOG_PREFIX = "account"

# Where a shared hub's load balancer writes its access logs in the platform's log bucket
# (`<prefix>/<stack>/`); the bucket's policy lets the load balancers write only there.
LOAD_BALANCER_LOG_PREFIX = "shared-hub"
# Each tier's hub route function (products/shared_hub/route_function.py), made by the platform and
# invoked only by the tier's launch role: a shared hub's custom resource gets its host-name rule
# on the account's listener from it, for a host name the function derives from its own tier.
HUB_ROUTE_FUNCTION = NAME_PREFIX + "-{tier}-hub-route"

# Users' persistent homes (products/platform/homes.py): one EFS file system per tier, kept when
# the platform stack goes. The shared hub's spawner makes one access point per user on it,
# rooted at HOME_ROOT (as the image's user: HOME_UID:HOME_GID, the Dockerfile's USER and the
# base image's `users` group); the team's folder is the platform's access point at SHARED_ROOT.
HOMES_FILE_SYSTEM_ID_PARAMETER = tier_parameter("{tier}", "homes-file-system-id")
HOMES_SHARED_ACCESS_POINT_ID_PARAMETER = tier_parameter("{tier}", "homes-shared-access-point-id")
# The mount targets' security group: a product lets its servers in with an ingress rule of its own.
HOMES_MOUNT_TARGET_SECURITY_GROUP_PARAMETER = tier_parameter(
    "{tier}", "homes-mount-target-security-group-id"
)
HOME_ROOT = "/home/{user}"
SHARED_ROOT = "/shared"
HOME_UID = 1000
HOME_GID = 100
# The shared hubs' rights on their users' homes: one policy, each hub limited to its own tier.
HUB_HOMES_POLICY = NAME_PREFIX + "-hub-homes"
# AWS Backup selects what it backs up by this tag (the platform's backup plan).
BACKUP_TAG = "labcatalog:backup"
BACKUP_TAG_HOMES = "homes"
