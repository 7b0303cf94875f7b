"""Users' persistent homes on the shared hub: the tier's EFS file system, access points, rights.

Three kinds of check, each proving a different thing:
- the built templates: each tier's file system is kept (Retain), encrypted, tagged for backup;
  the team's folder is an access point of the image's user; the servers' task definition mounts
  it inside the home; the hub is told the file system; the product lets its servers reach the
  mount targets;
- the ECS spawner against moto's EFS and ECS: a user's access point is rooted at that user's
  home as the image's user, is created once and reused, and the task definition that mounts it
  is registered once per product revision; moto proves the calls are accepted, not that Fargate
  mounts anything;
- an IAM evaluator that understands conditions (tests/support/iam_evaluator.py) on the built
  policies: each call the spawner made is allowed to its tier's hub role and to no other tier's;
  only the tier's servers may mount the file system (file-system policy and IAM together):
  another tier's servers, the hub, a mount without an access point or without TLS are refused.
  moto cannot prove these: it ignores IAM conditions and file-system policies.
"""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest
from jupyterhub.objects import Hub

from generator.cfn import names
from products.hub_image.labcatalog_hub import ecs_spawner
from products.hub_image.labcatalog_hub.ecs_spawner import EcsSpawner, home_folder
from tests.support.hub_services import shared_hub_template
from tests.support.iam_evaluator import ACCOUNT, REGION, Request, decide

PLATFORM = None  # the example's platform templates, built once (platform_template())


def platform_template() -> dict:
    global PLATFORM
    if PLATFORM is None:
        from generator.engine.registry import load_portfolio
        from tests.conftest import platform_body
        from tests.support.hub_services import EXAMPLE

        # The root's and each tier's nested template as one body: a tier's template takes the
        # root's values as parameters named as the root's resources.
        PLATFORM = platform_body(load_portfolio(EXAMPLE))
    return PLATFORM


TIERS = ("pii", "nonpii")
FILE_SYSTEM_IDS = {"pii": "fs-0a0a0a0a0a0a0a0a0", "nonpii": "fs-0b0b0b0b0b0b0b0b0"}


def resolve(value, tier: str):
    """A platform template value as CloudFormation would make it in account ACCOUNT."""
    if isinstance(value, list):
        return [resolve(v, tier) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value:
        text, variables = value["Fn::Sub"], {}
        if isinstance(text, list):
            text, variables = text[0], {k: resolve(v, tier) for k, v in text[1].items()}
        known = {
            **variables,
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            **{f"{t.capitalize()}HomesFileSystem": FILE_SYSTEM_IDS[t] for t in TIERS},
        }
        text = re.sub(r"\$\{([^!}][^}]*)\}", lambda m: known.get(m[1], m[1].lower()), text)
        return text.replace("${!", "${")
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        resource = platform_template()["Resources"][logical]
        if (resource["Type"], attribute) == ("AWS::IAM::Role", "Arn"):
            return f"arn:aws:iam::{ACCOUNT}:role/{resource['Properties']['RoleName']}"
        # Keys, buckets, repositories: no EFS decision reads them.
        return f"arn:aws:placeholder:{REGION}:{ACCOUNT}:{logical}"
    if "Ref" in value:
        resources = platform_template()["Resources"]
        if value["Ref"] not in resources:
            # A tier template's parameter: the value the root hands the tier's nested stack.
            stack = resources[f"{tier.capitalize()}TierStack"]["Properties"]
            return resolve(stack["Parameters"][value["Ref"]], tier)
        resource = resources[value["Ref"]]
        if resource["Type"] == "AWS::IAM::Role":
            return resource["Properties"]["RoleName"]
        return value["Ref"].lower()  # a bucket's or policy's name: no EFS decision reads it
    return {k: resolve(v, tier) for k, v in value.items()}


def role_policies(role_name: str, tier: str) -> list[dict]:
    """Every identity policy of a platform role, resolved: inline, managed and attached."""
    resources = platform_template()["Resources"]
    (logical,) = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name
    ]
    role = resources[logical]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    documents += [
        resources[m["Ref"]]["Properties"]["PolicyDocument"]
        for m in role.get("ManagedPolicyArns", [])
        if isinstance(m, dict) and "Ref" in m
    ]
    for resource in resources.values():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": logical} in resource["Properties"]["Roles"]
        ):
            documents.append(resource["Properties"]["PolicyDocument"])
    return [resolve(d, tier) for d in documents]


def role_arn(pattern: str, tier: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{pattern.format(tier=tier)}"


def file_system(tier: str) -> dict:
    return platform_template()["Resources"][f"{tier.capitalize()}HomesFileSystem"]


def file_system_arn(tier: str) -> str:
    return f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{FILE_SYSTEM_IDS[tier]}"


# --- the templates ---


@pytest.mark.parametrize("tier", TIERS)
def test_each_tier_has_a_kept_encrypted_file_system_tagged_for_backup(tier):
    fs = file_system(tier)
    assert (fs["DeletionPolicy"], fs["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = fs["Properties"]
    assert props["Encrypted"] is True and props["KmsKeyId"]
    tags = {t["Key"]: t["Value"] for t in props["FileSystemTags"]}
    assert tags[names.TIER_TAG] == tier
    assert tags[names.BACKUP_TAG] == names.BACKUP_TAG_HOMES
    resources = platform_template()["Resources"]
    (selection,) = [r for r in resources.values() if r["Type"] == "AWS::Backup::BackupSelection"]
    (rule,) = selection["Properties"]["BackupSelection"]["ListOfTags"]
    assert (rule["ConditionKey"], rule["ConditionValue"]) == (
        names.BACKUP_TAG,
        names.BACKUP_TAG_HOMES,
    )
    (plan,) = [r for r in resources.values() if r["Type"] == "AWS::Backup::BackupPlan"]
    schedules = [
        r["ScheduleExpression"] for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    ]
    assert "cron(0 * ? * * *)" in schedules  # hourly: the stated one-hour recovery point objective


@pytest.mark.parametrize("tier", TIERS)
def test_the_team_folder_is_an_access_point_of_the_image_user(tier):
    props = platform_template()["Resources"][f"{tier.capitalize()}HomesSharedAccessPoint"][
        "Properties"
    ]
    assert props["FileSystemId"] == {"Ref": f"{tier.capitalize()}HomesFileSystem"}
    assert props["PosixUser"] == {"Uid": "1000", "Gid": "100"}
    assert props["RootDirectory"]["Path"] == names.SHARED_ROOT
    assert props["RootDirectory"]["CreationInfo"] == {
        "OwnerUid": "1000",
        "OwnerGid": "100",
        "Permissions": "0770",
    }


def test_the_spawner_and_the_platform_agree_on_the_homes_owner_and_paths():
    assert (ecs_spawner.HOME_UID, ecs_spawner.HOME_GID) == (names.HOME_UID, names.HOME_GID)
    assert ecs_spawner.HOME_ROOT == names.HOME_ROOT
    assert ecs_spawner.TIER_TAG == names.TIER_TAG


def test_the_servers_mount_the_team_folder_inside_the_home_and_the_hub_knows_the_homes():
    resources = shared_hub_template()["Resources"]
    servers = resources["ServerTaskDefinition"]["Properties"]
    (volume,) = servers["Volumes"]
    efs = volume["EFSVolumeConfiguration"]
    assert efs["TransitEncryption"] == "ENABLED"
    assert efs["AuthorizationConfig"]["IAM"] == "ENABLED"
    assert efs["FilesystemId"] == names.resolved(
        names.HOMES_FILE_SYSTEM_ID_PARAMETER.format(tier="pii")
    )
    assert efs["AuthorizationConfig"]["AccessPointId"] == names.resolved(
        names.HOMES_SHARED_ACCESS_POINT_ID_PARAMETER.format(tier="pii")
    )
    (container,) = servers["ContainerDefinitions"]
    assert container["MountPoints"] == [
        {"SourceVolume": volume["Name"], "ContainerPath": "/home/jovyan/shared", "ReadOnly": False}
    ]
    (hub,) = resources["HubTaskDefinition"]["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in hub["Environment"] if "Name" in e}
    assert environment["LABCATALOG_ECS_HOMES_FILE_SYSTEM"] == efs["FilesystemId"]
    # NFS from this stack's servers into the platform's mount targets, and out of the servers.
    rule = resources["HomesFromServers"]["Properties"]
    assert rule["GroupId"].endswith("/pii/homes-mount-target-security-group-id}}")
    assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": ["ServerSecurityGroup", "GroupId"]}
    assert (rule["FromPort"], rule["ToPort"]) == (2049, 2049)
    out = resources["ServersToHomes"]["Properties"]
    assert out["DestinationSecurityGroupId"] == rule["GroupId"]


# --- the spawner against moto ---


@pytest.fixture
def homes_world(aws):
    """The tier's home file system and the product's user task definition, in moto."""
    efs = aws.client("efs")
    fs = efs.create_file_system(
        CreationToken="pii-homes",
        Encrypted=True,
        Tags=[{"Key": names.TIER_TAG, "Value": "pii"}],
    )["FileSystemId"]
    ecs = aws.client("ecs")
    base = ecs.register_task_definition(
        family="labcatalog-pii_user_hub",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="4096",
        taskRoleArn=role_arn(names.NOTEBOOK_ROLE, "pii"),
        executionRoleArn=role_arn(names.TASK_EXECUTION_ROLE, "pii"),
        containerDefinitions=[
            {
                "name": "notebook",
                "image": "hub:1",
                "essential": True,
                "mountPoints": [{"sourceVolume": "shared", "containerPath": "/home/jovyan/shared"}],
            }
        ],
        volumes=[
            {
                "name": "shared",
                "efsVolumeConfiguration": {"fileSystemId": fs, "transitEncryption": "ENABLED"},
            }
        ],
    )["taskDefinition"]
    return SimpleNamespace(efs=efs, ecs=ecs, fs=fs, base=base, endpoint=aws.endpoint_url)


def homes_spawner(world, user: str) -> EcsSpawner:
    return EcsSpawner(
        user=SimpleNamespace(name=user, url=f"/user/{user}/"),
        hub=Hub(),
        api_token="server-token",
        cluster="labcatalog-pii_hub",
        task_definition="labcatalog-pii_user_hub",
        subnets=["subnet-1"],
        security_groups=["sg-1"],
        endpoint_url=world.endpoint,
        homes_file_system=world.fs,
        sizes=["1024:4096"],
        default_size="1024:4096",
        tier="pii",
        poll_seconds=0.01,
    )


def prepare(spawner: EcsSpawner) -> str:
    """What start() does before RunTask: the access point and the task definition."""

    async def both():
        point = await spawner.home_access_point()
        return point, await spawner.user_task_definition(point)

    point, spawner.server_task_definition = asyncio.run(both())
    return point


def test_each_users_access_point_is_rooted_at_their_home_as_the_image_user(homes_world):
    alice = homes_spawner(homes_world, "alice@example.com")
    point = prepare(alice)
    (described,) = homes_world.efs.describe_access_points(AccessPointId=point)["AccessPoints"]
    assert described["FileSystemId"] == homes_world.fs
    assert described["PosixUser"] == {"Uid": 1000, "Gid": 100}
    assert described["RootDirectory"] == {
        "Path": "/home/alice@example.com",
        "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 100, "Permissions": "0700"},
    }
    tags = homes_world.efs.list_tags_for_resource(ResourceId=point)["Tags"]
    assert {"Key": "labcatalog:user", "Value": "alice@example.com"} in tags
    assert {"Key": names.TIER_TAG, "Value": "pii"} in tags

    bob = homes_spawner(homes_world, "bob/../../alice")  # a name that is no folder name
    other = prepare(bob)
    (bobs,) = homes_world.efs.describe_access_points(AccessPointId=other)["AccessPoints"]
    assert other != point
    assert bobs["RootDirectory"]["Path"] == f"/home/{home_folder('bob/../../alice')}"
    assert bobs["RootDirectory"]["Path"].count("/") == 2 and ".." not in bobs["RootDirectory"][
        "Path"
    ].replace("-..", "")


def test_the_home_is_mounted_at_the_image_users_home_and_reused(homes_world):
    alice = homes_spawner(homes_world, "alice@example.com")
    point = prepare(alice)
    definition = homes_world.ecs.describe_task_definition(
        taskDefinition=alice.server_task_definition
    )["taskDefinition"]
    home, shared = definition["volumes"]
    assert home["efsVolumeConfiguration"] == {
        "fileSystemId": homes_world.fs,
        "rootDirectory": "/",
        "transitEncryption": "ENABLED",
        "authorizationConfig": {"accessPointId": point, "iam": "ENABLED"},
    }
    assert shared["name"] == "shared"
    (container,) = definition["containerDefinitions"]
    assert [m["containerPath"] for m in container["mountPoints"]] == [
        "/home/jovyan",
        "/home/jovyan/shared",
    ]
    assert definition["taskRoleArn"] == homes_world.base["taskRoleArn"]
    assert definition["family"] == f"labcatalog-pii_user_hub-{point}"
    assert alice.run_task_request()["taskDefinition"] == alice.server_task_definition

    # The same user again: the same access point and task definition, nothing new.
    again = homes_spawner(homes_world, "alice@example.com")
    assert prepare(again) == point
    assert again.server_task_definition == alice.server_task_definition
    points = homes_world.efs.describe_access_points(FileSystemId=homes_world.fs)["AccessPoints"]
    assert len(points) == 1

    # A new revision of the product's definition (an update): a new one for the user too.
    homes_world.ecs.register_task_definition(
        family="labcatalog-pii_user_hub",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="4096",
        containerDefinitions=[{"name": "notebook", "image": "hub:2", "essential": True}],
    )
    updated = homes_spawner(homes_world, "alice@example.com")
    prepare(updated)
    assert updated.server_task_definition != alice.server_task_definition
    (container,) = homes_world.ecs.describe_task_definition(
        taskDefinition=updated.server_task_definition
    )["taskDefinition"]["containerDefinitions"]
    assert container["image"] == "hub:2"


# --- rights, with an evaluator that understands conditions ---


def recorded_calls(world, user: str) -> list[tuple[str, dict]]:
    """The EFS and ECS calls the spawner makes for a new user, as (service:Action, params)."""
    spawner = homes_spawner(world, user)
    calls = []
    for client, service in ((spawner.efs, "elasticfilesystem"), (spawner.ecs, "ecs")):
        client.meta.events.register(
            "provide-client-params.*.*",
            lambda params, model, service=service, **_: calls.append(
                (f"{service}:{model.name}", dict(params))
            ),
        )
    prepare(spawner)
    return calls


def hub_requests(calls, hub_tier: str, file_system_tier: str) -> list[Request]:
    """The IAM requests behind the spawner's calls, made by `hub_tier`'s hub role on
    `file_system_tier`'s file system (tags as the platform sets them)."""
    principal = role_arn(names.HUB_TASK_ROLE, hub_tier)
    policies = tuple(role_policies(names.HUB_TASK_ROLE.format(tier=hub_tier), hub_tier))
    principal_tags = {f"aws:PrincipalTag/{names.TIER_TAG}": hub_tier}
    fs = {f"aws:ResourceTag/{names.TIER_TAG}": file_system_tier}
    family_of = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/labcatalog-{file_system_tier}"
    requests = []
    for action, params in calls:
        context = dict(principal_tags)
        if action == "elasticfilesystem:DescribeAccessPoints":
            resource, context = file_system_arn(file_system_tier), {**context, **fs}
        elif action == "elasticfilesystem:CreateAccessPoint":
            tags = {t["Key"]: t["Value"] for t in params["Tags"]}
            assert tags[names.TIER_TAG] == "pii"  # the spawner tags its own tier...
            tags[names.TIER_TAG] = hub_tier  # ...as hub_tier's spawner would
            request_tags = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
            resource = file_system_arn(file_system_tier)
            context = {**context, **fs, **request_tags, "aws:TagKeys": sorted(tags)}
            requests.append(
                Request(
                    principal,
                    "elasticfilesystem:TagResource",
                    f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0123456789abcdef0",
                    {
                        **principal_tags,
                        **request_tags,
                        "aws:TagKeys": sorted(tags),
                        "elasticfilesystem:CreateAction": "CreateAccessPoint",
                    },
                    policies,
                )
            )
        elif action == "ecs:DescribeTaskDefinition":
            resource = "*"
        elif action == "ecs:RegisterTaskDefinition":
            family = params["family"].replace("labcatalog-pii", f"labcatalog-{file_system_tier}")
            resource = family_of.rsplit("/", 1)[0] + f"/{family}:1"
            requests.append(
                Request(
                    principal,
                    "ecs:TagResource",
                    resource,
                    {**principal_tags, "ecs:CreateAction": "RegisterTaskDefinition"},
                    policies,
                )
            )
        else:
            raise AssertionError(f"an unexpected call: {action}")
        requests.append(Request(principal, action, resource, context, policies))
    return requests


def test_the_spawners_calls_are_allowed_on_its_own_tier_only(homes_world):
    calls = recorded_calls(homes_world, "alice@example.com")
    actions = {action for action, _ in calls}
    assert actions == {
        "elasticfilesystem:DescribeAccessPoints",
        "elasticfilesystem:CreateAccessPoint",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
    }
    own = hub_requests(calls, "pii", "pii")
    assert decide(own) == ["Allowed"] * len(own), [r.action for r in own]
    # The same calls by the pii hub on the nonpii tier's file system and task families.
    # DescribeTaskDefinition takes no resource; tagging a new access point follows its
    # CreateAccessPoint, which is what must be refused.
    scoped = ("*", "elasticfilesystem:TagResource")
    other = [
        r for r in hub_requests(calls, "pii", "nonpii") if not {r.resource, r.action} & {*scoped}
    ]
    decided = dict(zip([r.action for r in other], decide(other), strict=True))
    assert decided == {
        "elasticfilesystem:DescribeAccessPoints": "ImplicitlyDenied",
        "elasticfilesystem:CreateAccessPoint": "ImplicitlyDenied",
        "ecs:TagResource": "ImplicitlyDenied",
        "ecs:RegisterTaskDefinition": "ImplicitlyDenied",
    }
    # And the nonpii hub on pii's.
    reverse = [
        r for r in hub_requests(calls, "nonpii", "pii") if not {r.resource, r.action} & {*scoped}
    ]
    assert set(decide(reverse)) == {"ImplicitlyDenied"}


def mount_request(principal_tier: str, role: str, fs_tier: str, **context) -> Request:
    principal_role = role.format(tier=principal_tier)
    point = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0123456789abcdef0"
    keys = {
        # Global keys AWS sets on every request (the evaluator takes only what it is given).
        "aws:PrincipalArn": role_arn(principal_role, principal_tier),
        "aws:SecureTransport": "true",
        "elasticfilesystem:AccessedViaMountTarget": "true",
        "elasticfilesystem:AccessPointArn": point,
        **context,
    }
    return Request(
        principal=role_arn(principal_role, principal_tier),
        action="elasticfilesystem:ClientWrite",
        resource=file_system_arn(fs_tier),
        context={k: v for k, v in keys.items() if v is not None},
        identity_policies=tuple(role_policies(principal_role, principal_tier)),
        resource_policy=resolve(file_system(fs_tier)["Properties"]["FileSystemPolicy"], fs_tier),
    )


@pytest.mark.parametrize(
    "case,request_,expected",
    [
        ("the tier's servers", mount_request("pii", names.NOTEBOOK_ROLE, "pii"), "Allowed"),
        (
            "another tier's servers",
            mount_request("nonpii", names.NOTEBOOK_ROLE, "pii"),
            "ExplicitlyDenied",
        ),
        ("the tier's hub", mount_request("pii", names.HUB_TASK_ROLE, "pii"), "ExplicitlyDenied"),
        (
            "without an access point",
            mount_request(
                "pii", names.NOTEBOOK_ROLE, "pii", **{"elasticfilesystem:AccessPointArn": None}
            ),
            "ExplicitlyDenied",
        ),
        (
            "without TLS",
            mount_request("pii", names.NOTEBOOK_ROLE, "pii", **{"aws:SecureTransport": "false"}),
            "ExplicitlyDenied",
        ),
    ],
)
def test_only_the_tiers_servers_mount_its_homes(case, request_, expected):
    decided = decide(
        [request_, Request(**{**request_.__dict__, "action": "elasticfilesystem:ClientMount"})]
    )
    assert decided == [expected, expected], case
