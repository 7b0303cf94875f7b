"""`labcatalog plan` and `labcatalog publish` end to end, against the local Service Catalog.

The build is made by `labcatalog build` itself, with the product templates swapped for tiny
stand-ins (so these tests hold whatever the real product templates become).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from functools import partial

import pytest
from click.testing import CliRunner
from troposphere import Parameter, Template
from troposphere.cloudformation import WaitConditionHandle

from generator.cli import main
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.publish.publisher import BUCKET_PARAMETER
from generator.model.config import Portfolio
from tests.support import moto_servicecatalog
from tests.support.publish_support import BUCKET, Workspace, prepare_account


def tiny_product(product: str, portfolio: Portfolio) -> Template:
    # The description follows portfolio.yaml, so editing it changes the template's bytes.
    template = Template(Description=f"{product}: stand-in for {portfolio.portfolio.description}")
    template.add_parameter(
        Parameter("Tier", Type="String", AllowedValues=[t.name for t in portfolio.tiers])
    )
    template.add_resource(WaitConditionHandle("Handle"))
    return template


REAL_STACKS = builder.stacks


def tiny_stacks(portfolio: Portfolio, registry=None) -> list[builder.Stack]:
    """The products' stacks (their paths and versions) with stand-in builders; no platform."""
    return [
        # The stand-ins declare only Tier: nothing else of the tier's settings to bind.
        replace(stack, build=partial(tiny_product, stack.product), bindings=())
        for stack in REAL_STACKS(portfolio, registry)
        if stack.version is not None
    ]


@pytest.fixture
def env(aws, tmp_path, monkeypatch):
    """A built workspace, the local catalog, and an account where the platform stack ran."""
    moto_servicecatalog.install()
    prepare_account(aws)
    aws.client("ssm").put_parameter(Name=BUCKET_PARAMETER, Value=BUCKET, Type="String")
    monkeypatch.setattr(builder, "stacks", tiny_stacks)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    work = Workspace(tmp_path / "work")
    work.write()
    result = run(work, "build")
    assert result.exit_code == 0, result.output
    return work, aws


def run(work: Workspace, verb: str, *args: str, endpoint: str | None = None):
    where = ["-p", str(work.portfolio_path), "-o", str(work.outdir)]
    if verb != "build":
        where += ["--region", "us-east-1"]
    if endpoint:
        where += ["--endpoint-url", endpoint]
    return CliRunner().invoke(main, [verb, *where, *args])


def test_plan_then_publish_then_nothing_left(env, monkeypatch):
    work, server = env
    plan = run(work, "plan", endpoint=server.endpoint_url)
    assert plan.exit_code == 0, plan.output
    assert "create  portfolio" in plan.output
    assert "Data Science (tier0)" in plan.output
    assert "tier1 <- principal arn:aws:iam::123456789012:role/Team1" in plan.output
    assert "create  product      shared-hub/tier1 (Team hub)" in plan.output
    assert plan.output.rstrip().endswith("plan: 36 to create")
    assert moto_servicecatalog.snapshot()["portfolios"] == []  # plan changed nothing

    published = run(work, "publish", "--yes", endpoint=server.endpoint_url)
    assert published.exit_code == 0, published.output
    # One step per changed row of the table: the counter ends at the count the summary gives.
    assert "[1/36] create template personal-hub/tier0 1.0.0" in published.output
    assert "[36/36] " in published.output and "[37/" not in published.output
    assert published.output.rstrip().endswith("published: 36 created")

    # AWS_ENDPOINT_URL is honoured like --endpoint-url.
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    again = run(work, "publish")
    assert again.exit_code == 0, again.output
    assert "nothing to publish" in again.output
    assert "36 unchanged" in again.output


def test_publish_without_a_terminal_needs_yes(env):
    work, server = env
    result = run(work, "publish", endpoint=server.endpoint_url)
    assert result.exit_code == 2
    assert "pass --yes" in result.output
    assert "Traceback" not in result.output
    assert moto_servicecatalog.snapshot()["portfolios"] == []


def test_a_stale_build_is_refused(env):
    work, server = env
    target = work.template("shared-hub")
    target.write_text(target.read_text().replace("stand-in", "edited by hand"))
    result = run(work, "publish", "--yes", endpoint=server.endpoint_url)
    assert result.exit_code == 2
    assert "is out of date" in result.output
    assert f"{target} (differs)" in result.output
    assert "run: labcatalog build" in result.output


def test_publish_sends_the_build_it_checked_and_reads_build_no_more(env, monkeypatch):
    """The stale-build check generates the build in memory and compares it with build/; publish
    then uploads those bytes. build/ is removed right after the check, so a second read fails."""
    work, server = env
    expected = work.template("shared-hub").read_bytes()
    checked = build_folder.require_current

    def check_then_remove(*args, **kwargs):
        build = checked(*args, **kwargs)
        shutil.rmtree(work.outdir)
        return build

    monkeypatch.setattr(build_folder, "require_current", check_then_remove)
    result = run(work, "publish", "--yes", endpoint=server.endpoint_url)
    assert result.exit_code == 0, result.output
    assert not work.outdir.exists()
    key = f"templates/sha256/{hashlib.sha256(expected).hexdigest()}.template.json"
    assert server.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read() == expected


def test_no_platform_stack_and_no_bucket_is_explained(env):
    work, server = env
    server.client("ssm").delete_parameter(Name=BUCKET_PARAMETER)
    result = run(work, "plan", endpoint=server.endpoint_url)
    assert result.exit_code == 2
    assert "deploy the platform stack there first" in result.output
    assert run(work, "plan", "--bucket", BUCKET, endpoint=server.endpoint_url).exit_code == 0


def test_a_changed_template_without_a_bump_stops_publish(env):
    work, server = env
    assert run(work, "publish", "--yes", endpoint=server.endpoint_url).exit_code == 0
    work.data["portfolio"]["description"] = "Changed"
    work.write()
    assert run(work, "build").exit_code == 0
    refused = run(work, "publish", "--yes", endpoint=server.endpoint_url)
    assert refused.exit_code == 2
    # plan refuses it the same way, as its --help says (exit 2, not 0).
    planned = run(work, "plan", endpoint=server.endpoint_url)
    assert planned.exit_code == 2, planned.output
    assert "2 when the portfolio or build/ is wrong or publish would refuse" in " ".join(
        run(work, "plan", "--help").output.split()
    )
    for product in ("shared-hub", "personal-hub"):
        for tier in ("tier0", "tier1"):
            assert (
                f"{product}/{tier} 1.0.0 is already published with a different template"
                in refused.output
            )
    assert "bump products.shared-hub.version" in refused.output
    for product in ("shared-hub", "personal-hub"):
        work.set_version(product, "1.0.1")
    work.write()
    assert run(work, "build").exit_code == 0
    bumped = run(work, "publish", "--yes", endpoint=server.endpoint_url)
    assert bumped.exit_code == 0, bumped.output
    # A template and a version per product and tier created; 2 portfolio descriptions updated.
    assert bumped.output.rstrip().endswith("published: 8 created, 2 updated, 30 unchanged")


def test_aws_region_variable_is_honoured(monkeypatch):
    from generator.engine.publish.aws import connect

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert connect(endpoint_url="http://127.0.0.1:9").region == "eu-west-1"
