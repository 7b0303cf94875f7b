"""The ECS spawner's calls and state, against moto's ECS API and botocore's Stubber.

What moto proves: RunTask with the spawner's parameters is accepted by an ECS API (awsvpc with
our subnets and security group, a Fargate capacity provider, size overrides), the server's
address is read from the task's network interface, and `poll()`/`stop()` work from saved state
after a hub restart. moto never runs the container: its task is RUNNING at once, so the server
behind that address is not there; the end-to-end hub tests run servers as containers of their
own through a stand-in Docker engine (tests/support/docker_engine.py) instead.
What the Stubber proves: every call matches the real ECS API model, and failures (no capacity,
access denied, a task that stops while starting, a start timeout) become clear messages.
Neither proves Fargate's real timing, image pulls or networking.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
import requests
from botocore.stub import ANY, Stubber
from jupyterhub.objects import Hub
from moto.ec2.models.elastic_network_interfaces import NetworkInterface

from products.hub_image.labcatalog_hub.ecs_spawner import EcsSpawner, SpawnFailed

SIZES = ["1024:4096", "2048:8192"]
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/labcatalog-pii_hub/0123456789abcdef"


def make_spawner(**config) -> EcsSpawner:
    """A spawner as the hub makes one, for a user who asked for the larger size."""
    spawner = EcsSpawner(
        user=SimpleNamespace(name="alice@example.com", url="/user/alice@example.com/"),
        hub=Hub(),
        api_token="server-token",
        oauth_client_id="jupyterhub-user-alice",
        sizes=SIZES,
        default_size=SIZES[0],
        cluster="labcatalog-pii_hub",
        task_definition="labcatalog-pii_user_hub",
        subnets=["subnet-1", "subnet-2"],
        security_groups=["sg-1"],
        capacity_provider="FARGATE_SPOT",
        poll_seconds=0.01,
        **config,
    )
    spawner.apply_size({"size": "2048:8192"})
    return spawner


# --- against moto's ECS API ---


def _teach_moto_eni_dns_names() -> None:
    """moto 5.2.5's ECS reads `private_dns_name` of the task's ENI, which its EC2 model lacks."""
    if hasattr(NetworkInterface, "private_dns_name"):
        return

    def get(eni):
        default = f"ip-{eni.private_ip_address.replace('.', '-')}.ec2.internal"
        return eni.__dict__.get("_private_dns_name", default)

    def set_(eni, value):  # moto sets it itself in some code paths
        eni.__dict__["_private_dns_name"] = value

    NetworkInterface.private_dns_name = property(get, set_)


@pytest.fixture
def ecs_world(aws):
    """A VPC, subnet and security group, a cluster and a Fargate user task definition in moto."""
    _teach_moto_eni_dns_names()
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="users", Description="users", VpcId=vpc)["GroupId"]
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="labcatalog-pii_hub")
    ecs.register_task_definition(
        family="labcatalog-pii_user_hub",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="4096",
        # moto needs container-level cpu/memory to place a task; ECS would not.
        containerDefinitions=[
            {"name": "notebook", "image": "hub:1", "essential": True, "cpu": 0, "memory": 4096}
        ],
    )
    # moto moves a task on from RUNNING at every DescribeTasks unless told to wait.
    transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 99}}
    requests.post(f"{aws.endpoint_url}/moto-api/state-manager/set-transition", json=transition)
    yield SimpleNamespace(
        client=ecs, ec2=ec2, subnet=subnet, group=group, endpoint=aws.endpoint_url
    )
    requests.post(
        f"{aws.endpoint_url}/moto-api/state-manager/unset-transition",
        json={"model_name": "ecs::task"},
    )


def moto_spawner(world) -> EcsSpawner:
    spawner = make_spawner(endpoint_url=world.endpoint)
    spawner.subnets, spawner.security_groups = [world.subnet], [world.group]
    return spawner


def test_start_runs_a_private_fargate_task_of_the_chosen_size(ecs_world):
    spawner = moto_spawner(ecs_world)
    ip, port = asyncio.run(spawner.start())

    (task,) = ecs_world.client.describe_tasks(
        cluster="labcatalog-pii_hub", tasks=[spawner.task_arn]
    )["tasks"]
    assert task["capacityProviderName"] == "FARGATE_SPOT"
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("2048", "8192")
    (container,) = task["overrides"]["containerOverrides"]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["JUPYTERHUB_API_TOKEN"] == "server-token"
    assert not any(name.startswith("AWS_") for name in environment)  # the task has its own role
    assert container["command"][0] == "jupyterhub-singleuser"
    (eni,) = ecs_world.ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert eni["SubnetId"] == ecs_world.subnet
    assert [g["GroupId"] for g in eni["Groups"]] == [ecs_world.group]
    assert (ip, port) == (eni["PrivateIpAddress"], 8888)
    assert spawner.get_state() == {"task_arn": spawner.task_arn}


def test_a_restarted_hub_polls_and_stops_the_task_from_saved_state(ecs_world):
    first = moto_spawner(ecs_world)
    asyncio.run(first.start())
    state = first.get_state()

    after_restart = moto_spawner(ecs_world)
    after_restart.load_state(state)
    assert asyncio.run(after_restart.poll()) is None  # still running
    asyncio.run(after_restart.stop())
    assert after_restart.task_arn is None
    (task,) = ecs_world.client.describe_tasks(cluster="labcatalog-pii_hub", tasks=[first.task_arn])[
        "tasks"
    ]
    assert task["desiredStatus"] == "STOPPED"

    another = moto_spawner(ecs_world)
    another.load_state(state)
    assert asyncio.run(another.poll()) == 0  # stopped: the hub drops the route


# --- error paths, with botocore's Stubber (checked against the ECS API model) ---


def stubbed() -> tuple[EcsSpawner, Stubber]:
    spawner = make_spawner()
    stubber = Stubber(spawner.ecs)
    stubber.activate()
    return spawner, stubber


def task(status: str, **extra) -> dict:
    return {"taskArn": TASK_ARN, "lastStatus": status, **extra}


RUNNING = task(
    "RUNNING",
    attachments=[
        {
            "type": "ElasticNetworkInterface",
            "details": [{"name": "privateIPv4Address", "value": "10.0.1.23"}],
        }
    ],
)


def test_the_request_is_private_and_reports_progress_until_running():
    spawner, stubber = stubbed()
    request = spawner.run_task_request()
    assert request["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-1", "subnet-2"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED",
    }
    assert request["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE_SPOT", "weight": 1}
    ]
    stubber.add_response("run_task", {"tasks": [task("PROVISIONING")], "failures": []}, request)
    describe = {"cluster": "labcatalog-pii_hub", "tasks": [TASK_ARN]}
    stubber.add_response("describe_tasks", {"tasks": [task("PENDING")]}, describe)
    stubber.add_response("describe_tasks", {"tasks": [RUNNING]}, describe)

    async def spawn_and_watch():
        events = []

        async def watch():
            async for event in spawner.progress():
                events.append(event["message"])

        watcher = asyncio.ensure_future(watch())
        result = await spawner.start()
        await watcher
        return result, events

    result, events = asyncio.run(spawn_and_watch())
    assert result == ("10.0.1.23", 8888)
    assert events[0].startswith("Asking FARGATE_SPOT for a server (2 vCPU, 8 GiB memory)")
    assert [e for e in events if "task is" in e] == [
        "Your server's task is PENDING",
        "Your server's task is RUNNING",
    ]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "reason,expected",
    [
        ("Capacity is unavailable at this time.", "no Fargate capacity"),
        ("RESOURCE:ENI", "no Fargate capacity"),
        ("MISSING", "ECS could not start your server: MISSING"),
    ],
)
def test_a_run_task_failure_is_explained(reason, expected):
    spawner, stubber = stubbed()
    spawner.on_demand_fallback = False  # Spot only: its failure is the user's answer
    failure = {"arn": "arn:aws:ecs:us-east-1:123456789012:container-instance/x", "reason": reason}
    stubber.add_response("run_task", {"tasks": [], "failures": [failure]}, ANY_REQUEST)
    with pytest.raises(SpawnFailed, match=expected):
        asyncio.run(spawner.start())
    assert spawner.task_arn is None


ANY_REQUEST = {
    key: ANY
    for key in (
        "cluster",
        "taskDefinition",
        "count",
        "capacityProviderStrategy",
        "networkConfiguration",
        "overrides",
        "startedBy",
        "tags",
    )
}


# --- Fargate Spot, and regular Fargate when Spot has no capacity ---

NO_CAPACITY = {
    "arn": "arn:aws:ecs:us-east-1:123456789012:task/x",
    "reason": "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone",
}


def _spawn_with_events(spawner) -> tuple[tuple[str, int], list[str]]:
    async def spawn_and_watch():
        events = []

        async def watch():
            async for event in spawner.progress():
                events.append(event["message"])

        watcher = asyncio.ensure_future(watch())
        result = await spawner.start()
        await watcher
        return result, events

    return asyncio.run(spawn_and_watch())


def test_spot_without_capacity_falls_back_to_regular_fargate():
    spawner, stubber = stubbed()
    assert spawner.capacity_providers() == ["FARGATE_SPOT", "FARGATE"]
    spot, on_demand = spawner.run_task_request("FARGATE_SPOT"), spawner.run_task_request("FARGATE")
    assert on_demand == {
        **spot,
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
    }
    stubber.add_response("run_task", {"tasks": [], "failures": [NO_CAPACITY]}, spot)
    stubber.add_response("run_task", {"tasks": [task("PROVISIONING")], "failures": []}, on_demand)
    stubber.add_response("describe_tasks", {"tasks": [RUNNING]})
    result, events = _spawn_with_events(spawner)
    assert result == ("10.0.1.23", 8888)
    assert events[:3] == [
        "Asking FARGATE_SPOT for a server (2 vCPU, 8 GiB memory)",
        "FARGATE_SPOT has no capacity right now; asking FARGATE",
        "Asking FARGATE for a server (2 vCPU, 8 GiB memory)",
    ]
    stubber.assert_no_pending_responses()


def test_a_spot_task_stopped_for_capacity_is_started_again_on_regular_fargate():
    spawner, stubber = stubbed()
    stubber.add_response(
        "run_task",
        {"tasks": [task("PROVISIONING")], "failures": []},
        spawner.run_task_request("FARGATE_SPOT"),
    )
    stopped = task("STOPPED", stoppedReason="Capacity is unavailable at this time.")
    stubber.add_response("describe_tasks", {"tasks": [stopped]})
    stubber.add_response(
        "run_task",
        {"tasks": [task("PROVISIONING")], "failures": []},
        spawner.run_task_request("FARGATE"),
    )
    stubber.add_response("describe_tasks", {"tasks": [RUNNING]})
    assert asyncio.run(spawner.start()) == ("10.0.1.23", 8888)
    assert spawner.task_arn == TASK_ARN
    stubber.assert_no_pending_responses()


def test_no_capacity_anywhere_is_explained_after_both_tries():
    spawner, stubber = stubbed()
    for provider in ("FARGATE_SPOT", "FARGATE"):
        stubber.add_response(
            "run_task", {"tasks": [], "failures": [NO_CAPACITY]}, spawner.run_task_request(provider)
        )
    with pytest.raises(SpawnFailed, match="no Fargate capacity"):
        asyncio.run(spawner.start())
    stubber.assert_no_pending_responses()
    assert spawner.task_arn is None


@pytest.mark.parametrize(
    "provider,fallback,expected",
    [
        ("FARGATE_SPOT", True, ["FARGATE_SPOT", "FARGATE"]),
        ("FARGATE_SPOT", False, ["FARGATE_SPOT"]),
        ("FARGATE", True, ["FARGATE"]),
    ],
)
def test_which_capacity_providers_are_tried(provider, fallback, expected):
    spawner = make_spawner()
    spawner.capacity_provider, spawner.on_demand_fallback = provider, fallback
    assert spawner.capacity_providers() == expected


def test_other_failures_are_not_retried_on_regular_fargate():
    spawner, stubber = stubbed()
    failure = {"arn": "arn:aws:ecs:us-east-1:123456789012:task/x", "reason": "RESOURCE:ENI"}
    stubber.add_response("run_task", {"tasks": [], "failures": [failure]}, ANY_REQUEST)
    with pytest.raises(SpawnFailed, match="RESOURCE:ENI"):
        asyncio.run(spawner.start())
    stubber.assert_no_pending_responses()  # one RunTask only


def test_access_denied_names_the_hub_role():
    spawner, stubber = stubbed()
    stubber.add_client_error(
        "run_task", "AccessDeniedException", "not authorized to perform: ecs:RunTask"
    )
    with pytest.raises(SpawnFailed, match=r"not allowed to start servers.*task role"):
        asyncio.run(spawner.start())


def test_a_task_that_stops_while_starting_says_why():
    spawner, stubber = stubbed()
    stubber.add_response("run_task", {"tasks": [task("PROVISIONING")], "failures": []}, ANY_REQUEST)
    stopped = task("STOPPED", stoppedReason="CannotPullContainerError: image not found")
    stubber.add_response("describe_tasks", {"tasks": [stopped]})
    with pytest.raises(SpawnFailed, match="CannotPullContainerError"):
        asyncio.run(spawner.start())
    assert spawner.task_arn is None


def test_a_task_that_does_not_start_in_time_is_stopped():
    spawner, stubber = stubbed()
    spawner.start_timeout = 0
    stubber.add_response("run_task", {"tasks": [task("PROVISIONING")], "failures": []}, ANY_REQUEST)
    stubber.add_response("describe_tasks", {"tasks": [task("PENDING")]})
    stubber.add_response(
        "stop_task",
        {"task": task("STOPPING")},
        {"cluster": "labcatalog-pii_hub", "task": TASK_ARN, "reason": "Stopped by JupyterHub"},
    )
    with pytest.raises(SpawnFailed, match="did not start within 0 seconds"):
        asyncio.run(spawner.start())
    stubber.assert_no_pending_responses()
    assert spawner.task_arn is None


def test_poll_keeps_the_server_when_ecs_cannot_be_asked():
    spawner, stubber = stubbed()
    spawner.load_state({"task_arn": TASK_ARN})
    stubber.add_client_error("describe_tasks", "ThrottlingException", "slow down")
    assert asyncio.run(spawner.poll()) is None
    stubber.add_response("describe_tasks", {"tasks": [], "failures": [{"reason": "MISSING"}]})
    assert asyncio.run(spawner.poll()) == 0


# --- the reaper: orphaned server tasks are stopped when the hub starts (moto's ECS) ---

HUB_ID = "https://pii.hubs.example.com"


def hub_database(path, task_arns: dict[str, str]) -> None:
    """A hub database written by this JupyterHub, recording one server task per user."""
    from jupyterhub import orm

    session = orm.new_session_factory(f"sqlite:///{path}")()
    for name, arn in task_arns.items():
        user = orm.User(name=name)
        session.add(user)
        session.commit()
        session.add(orm.Spawner(user=user, name="", state={"task_arn": arn}))
    session.commit()
    session.close()


def started_task(world, user: str, hub_id: str) -> str:
    spawner = moto_spawner(world)
    spawner.user = SimpleNamespace(name=user, url=f"/user/{user}/")
    spawner.hub_id = hub_id
    asyncio.run(spawner.start())
    return spawner.task_arn


def test_server_tasks_carry_the_hubs_identity(ecs_world):
    arn = started_task(ecs_world, "alice@example.com", HUB_ID)
    (task,) = ecs_world.client.describe_tasks(
        cluster="labcatalog-pii_hub", tasks=[arn], include=["TAGS"]
    )["tasks"]
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert tags == {
        "labcatalog:user": "alice@example.com",
        "labcatalog:server": "default",
        "labcatalog:hub": HUB_ID,
    }
    assert task["startedBy"] == "jupyterhub"


def test_the_reaper_stops_only_this_hubs_tasks_its_database_does_not_know(ecs_world, tmp_path):
    from products.hub_image.labcatalog_hub import reaper

    recorded = started_task(ecs_world, "alice@example.com", HUB_ID)
    orphan = started_task(ecs_world, "bob@example.com", HUB_ID)  # started while it restarted
    another_hubs = started_task(ecs_world, "carol@example.com", "https://other.example.com")
    db_file = tmp_path / "jupyterhub.sqlite"
    hub_database(db_file, {"alice@example.com": recorded})
    assert reaper.known_task_arns(db_file) == {recorded}

    stopped = reaper.reap(ecs_world.client, "labcatalog-pii_hub", HUB_ID, db_file)

    assert stopped == [orphan]
    tasks = ecs_world.client.describe_tasks(
        cluster="labcatalog-pii_hub", tasks=[recorded, orphan, another_hubs]
    )["tasks"]
    desired = {t["taskArn"]: t["desiredStatus"] for t in tasks}
    assert desired == {recorded: "RUNNING", orphan: "STOPPED", another_hubs: "RUNNING"}
    # A second start finds nothing more to stop.
    assert reaper.reap(ecs_world.client, "labcatalog-pii_hub", HUB_ID, db_file) == []


def test_a_new_hub_without_a_database_stops_every_task_of_its_own(ecs_world, tmp_path):
    from products.hub_image.labcatalog_hub import reaper

    orphan = started_task(ecs_world, "dave@example.com", HUB_ID)
    assert reaper.reap(ecs_world.client, "labcatalog-pii_hub", HUB_ID, tmp_path / "none") == [
        orphan
    ]
    with pytest.raises(ValueError, match="identity"):
        reaper.reap(ecs_world.client, "labcatalog-pii_hub", "", tmp_path / "none")


def test_the_shipped_hub_stops_its_orphans_when_it_starts(ecs_world, tmp_path):
    """The image's config in a real JupyterHub, fargate mode, against moto's ECS."""
    from tests.support.hub_services import Hub, free_port

    port, api_port = free_port(), free_port()
    hub_id = f"http://127.0.0.1:{port}"  # the hub's public URL is its identity
    orphan = started_task(ecs_world, "erin@example.com", hub_id)
    another_hubs = started_task(ecs_world, "frank@example.com", HUB_ID)
    env = {
        "LABCATALOG_TIER": "pii",
        "LABCATALOG_AUTH": "local",
        "LABCATALOG_ALLOW_LOCAL_AUTH": "1",
        "LABCATALOG_TIER_GROUP": "ds-pii",
        "LABCATALOG_SERVER_MODE": "fargate",
        "LABCATALOG_SERVER_SIZES": "1024:4096",
        "LABCATALOG_IDLE_TIMEOUT_MINUTES": "60",
        "LABCATALOG_NOTEBOOK_BUCKET": "notebooks",
        "LABCATALOG_ECS_CLUSTER": "labcatalog-pii_hub",
        "LABCATALOG_ECS_TASK_DEFINITION": "labcatalog-pii_user_hub",
        "LABCATALOG_ECS_SUBNETS": ecs_world.subnet,
        "LABCATALOG_ECS_SECURITY_GROUPS": ecs_world.group,
        "LABCATALOG_ECS_ENDPOINT_URL": ecs_world.endpoint,
        "LABCATALOG_HUB_CONNECT_URL": f"http://127.0.0.1:{api_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    hub = Hub(tmp_path, env, port=port, api_port=api_port)
    hub.stop()
    tasks = ecs_world.client.describe_tasks(
        cluster="labcatalog-pii_hub", tasks=[orphan, another_hubs]
    )["tasks"]
    desired = {t["taskArn"]: t["desiredStatus"] for t in tasks}
    assert desired == {orphan: "STOPPED", another_hubs: "RUNNING"}
    assert "orphaned server tasks stopped: 1" in hub.log_path.read_text()


# --- the server's token: from the user's secret, never in the RunTask overrides ---


def test_the_token_reaches_the_task_from_the_users_secret_not_the_overrides(ecs_world, aws):
    """moto proves the calls are accepted and what DescribeTasks shows; it does not resolve a
    task definition's secrets (ECS does that, with the execution role, at the task's start)."""
    spawner = moto_spawner(ecs_world)
    spawner.token_secrets = "labcatalog/pii/server-tokens/"
    spawner.tier, spawner.api_token = "pii", "tok-5e1d0a7c"
    asyncio.run(spawner.start())

    (task,) = ecs_world.client.describe_tasks(
        cluster="labcatalog-pii_hub", tasks=[spawner.task_arn]
    )["tasks"]
    (container,) = task["overrides"]["containerOverrides"]
    names = {e["name"] for e in container["environment"]}
    assert "JUPYTERHUB_API_URL" in names  # the rest of the environment is still there
    assert not names & {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"}
    assert "tok-5e1d0a7c" not in str(task)  # nowhere in what DescribeTasks shows

    secrets = aws.client("secretsmanager")
    stored = secrets.get_secret_value(SecretId="labcatalog/pii/server-tokens/alice@example.com")
    assert stored["SecretString"] == "tok-5e1d0a7c"
    definition = ecs_world.client.describe_task_definition(
        taskDefinition=task["taskDefinitionArn"], include=["TAGS"]
    )
    (notebook,) = definition["taskDefinition"]["containerDefinitions"]
    assert {s["name"]: s["valueFrom"] for s in notebook["secrets"]} == {
        "JUPYTERHUB_API_TOKEN": stored["ARN"],
        "JPY_API_TOKEN": stored["ARN"],
    }
    assert definition["taskDefinition"]["family"].startswith("labcatalog-pii_user_hub-u")
    assert "tok-5e1d0a7c" not in str(definition)

    # The next server of the same user: a new token in the same secret, the same definition.
    asyncio.run(spawner.stop())
    again = moto_spawner(ecs_world)
    again.token_secrets, again.tier, again.api_token = spawner.token_secrets, "pii", "new-token"
    asyncio.run(again.start())
    assert again.server_task_definition == spawner.server_task_definition
    assert secrets.get_secret_value(SecretId=stored["ARN"])["SecretString"] == "new-token"
