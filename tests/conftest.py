"""Shared fixtures: portfolios, their built templates, and a moto server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import ctypes
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.cfn import names
from generator.engine import build as builder
from generator.engine.build import render
from generator.engine.registry import Registry, load_portfolio
from generator.model.config import Portfolio
from tests.support import moto_cfn
from tests.support.moto_server import MotoServer, deploy_stack, start_moto_server
from tests.support.packaging import nested_outputs, package

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = ROOT / "portfolio.yaml"
# Every portfolio the template and access tests run against: rules must hold for any of them.
PORTFOLIOS = {
    "example": EXAMPLE,
    "three-tiers": FIXTURES / "three-tiers.yaml",
}


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def pytest_configure(config) -> None:
    """Every process the tests start stays a descendant of this one, even when orphaned.

    As a child subreaper, this process (not init) adopts the orphans among its descendants: a
    proxy whose hub was killed, a server that started a session of its own. So "the processes
    started by the tests" is exactly "the descendants of this process", and nobody else's
    process on a shared machine is ever counted.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def live_descendants() -> list:
    """This process's descendants that still run (zombies have ended: only their entry is left)."""
    import psutil

    alive = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def describe(process) -> str:
    import psutil

    try:
        return f"{process.pid} (uid {process.uids().real}): {' '.join(process.cmdline())[:200]}"
    except psutil.NoSuchProcess:
        return f"{process.pid}: ended"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the run when a process a test started outlives the tests (after every teardown).

    A process still ending (killed a moment ago) gets a few seconds. What is left is reported,
    then killed, so that a failed run leaves nothing behind either.
    """
    import psutil

    deadline = time.monotonic() + 10
    while (left := live_descendants()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return
    lines = "\n".join(f"  {describe(p)}" for p in left)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"processes started by the tests outlived them (now killed):\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(params=sorted(PORTFOLIOS), scope="session")
def portfolio(request) -> Portfolio:
    return load_portfolio(PORTFOLIOS[request.param])


@pytest.fixture(scope="session")
def example() -> Portfolio:
    return load_portfolio(EXAMPLE)


# The bucket the platform team's `aws cloudformation package` uploads the tiers' templates to.
ARTIFACT_BUCKET = "platform-artifacts"


def platform_templates(portfolio: Portfolio, registry: Registry | None = None) -> dict[str, str]:
    """The platform's templates by path in build/: the root and each tier's (nested in it)."""
    return {
        stack.path: render(stack.build(portfolio))
        for stack in builder.stacks(portfolio, registry)
        if stack.key == builder.PLATFORM or stack.key.startswith(f"{builder.PLATFORM}/")
    }


def platform_body(portfolio: Portfolio, registry: Registry | None = None) -> dict:
    """Every resource, parameter and output of the platform, its root's and each tier's as one
    body. Each tier's template takes the account-wide values as parameters named as the root's
    resources, so a reference reads the same as it would in one template."""
    sections = ("Resources", "Outputs", "Parameters")
    body: dict = {section: {} for section in sections}
    for path, text in sorted(platform_templates(portfolio, registry).items()):
        template = json.loads(text)
        for section in sections:
            body[section].update(template.get(section, {}))
        if path == f"{builder.PLATFORM}.template.json":
            body.update({k: v for k, v in template.items() if k not in sections})
    return body


def create_principals(server: MotoServer, portfolio: Portfolio) -> None:
    """The tiers' principals of this account, as an account has them before the platform
    (which attaches each tier's end-user policy to them by name)."""
    iam = server.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    create = {
        "role": lambda name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust),
        "user": lambda name: iam.create_user(UserName=name),
        "group": lambda name: iam.create_group(GroupName=name),
    }
    for principal in {p for tier in portfolio.tiers for p in tier.principals}:
        if principal.startswith("arn:"):
            continue
        kind, _, rest = principal.partition("/")
        name = rest.rsplit("/", 1)[-1]
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            create[kind](name)


def deploy_platform(
    server: MotoServer,
    portfolio: Portfolio,
    image_tag: str | None = None,
    parameters: dict | None = None,
) -> dict[str, str]:
    """The platform stack in moto as the platform team deploys it (packaged: each tier's
    template uploaded to S3), and its outputs and its tiers' stacks' outputs; with `image_tag`,
    also the hub image release that the platform's image build would publish (products
    launched without a tag run it); `parameters` are the platform's (e.g. the homes' VPC and
    subnets)."""
    s3 = server.client("s3")
    if ARTIFACT_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    create_principals(server, portfolio)
    portfolio = with_load_balancer_subnets(server, portfolio)
    root = package(
        s3, ARTIFACT_BUCKET, f"{builder.PLATFORM}.template.json", platform_templates(portfolio)
    )
    outputs = deploy_stack(server, "labcatalog-platform", root, parameters)
    outputs.update(nested_outputs(server.client("cloudformation"), "labcatalog-platform"))
    if image_tag is not None:
        server.client("ssm").put_parameter(
            Name=names.HUB_IMAGE_TAG_PARAMETER, Value=image_tag, Type="String", Overwrite=True
        )
    return outputs


def with_load_balancer_subnets(server: MotoServer, portfolio: Portfolio) -> Portfolio:
    """`portfolio`, or, when the account's load balancer's subnets and certificate are not in
    `server` (the example's placeholders), `portfolio` whose platform settings name a VPC, two
    subnets in two zones and a certificate made there: CloudFormation creates the load balancer
    and its HTTPS listener with them."""
    if not portfolio.account_load_balancer:
        return portfolio
    ec2, acm = server.client("ec2"), server.client("acm")
    platform = portfolio.platform
    network, dns = platform.network, platform.dns
    try:
        ec2.describe_subnets(SubnetIds=network.load_balancer_subnets[:2])
    except ec2.exceptions.ClientError:
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            for i, zone in enumerate(("us-east-1a", "us-east-1b"))
        ]
        network = network.model_copy(update={"vpc_id": vpc, "load_balancer_subnets": subnets})
    try:
        acm.describe_certificate(CertificateArn=dns.certificate_arn)
    except acm.exceptions.ClientError:
        arn = acm.request_certificate(DomainName="*.example.com")["CertificateArn"]
        dns = dns.model_copy(update={"certificate_arn": arn})
    platform = platform.model_copy(update={"network": network, "dns": dns})
    return portfolio.model_copy(update={"platform": platform})


def with_platform_settings(portfolio: Portfolio, network: dict) -> Portfolio:
    """`portfolio` whose platform settings name the network (a moto server's: "VpcId",
    "TaskSubnets", "LoadBalancerSubnets", and "HostedZoneId" and "CertificateArn" when
    given) as the platform team writes them in portfolio.yaml, for every tier; the hub host
    names are `{hub}.{tier}.data.example.com`."""
    platform = portfolio.platform
    settings = platform.model_copy(
        update={
            "network": platform.network.model_copy(
                update={
                    "vpc_id": network["VpcId"],
                    "server_subnets": list(network["TaskSubnets"]),
                    "load_balancer_subnets": list(
                        network.get("LoadBalancerSubnets", network["TaskSubnets"])
                    ),
                }
            ),
            "dns": platform.dns.model_copy(
                update={
                    "hosted_zone_id": network.get("HostedZoneId", platform.dns.hosted_zone_id),
                    "certificate_arn": network.get("CertificateArn", platform.dns.certificate_arn),
                    "hub_host_name": "{hub}.{tier}.data.example.com",
                }
            ),
        }
    )
    tiers = [tier.model_copy(update={"network": None}) for tier in portfolio.tiers]
    return portfolio.model_copy(update={"platform": settings, "tiers": tiers})


def assert_cfn_lint_clean(template: str | dict, folder: Path, name: str) -> None:
    """cfn-lint (from this environment) finds nothing, at any level, in `template`."""
    path = folder / name
    path.write_text(template if isinstance(template, str) else json.dumps(template, indent=1))
    result = subprocess.run(
        [Path(sys.executable).with_name("cfn-lint"), "--non-zero-exit-code", "informational", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto server for the session; tests reset it before use."""
    moto_cfn.install()
    server = start_moto_server()
    moto_cfn.ENDPOINT["url"] = server.endpoint_url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto: MotoServer) -> MotoServer:
    """A clean moto server with IAM enforcement off."""
    moto.reset()
    return moto
