"""taskcat lints .taskcat.yml, and its runner (`CFNTest`) creates and deletes every test on moto.

What this proves: the taskcat config and its wiring. .taskcat.yml has a test for each product and
tier of portfolio.yaml, each on the template in build/ (the platform, which taskcat cannot package,
is deployed by tests/taskcat/platform.py, as the README deploys it); the parameters it
gives and the overrides (taskcat_overrides.example.yml, every key filled) fill every template
parameter without a default, and none names the account's network, identity provider or DNS (the
platform's settings); and `tox -e taskcat`'s sequence works: the
platform packaged and deployed first and kept, the products on top of it created and deleted, then
the platform deleted.
What it does not prove: that AWS accepts the stacks or that the hubs run. moto skips some resource
types and drops properties (tests/support/moto_cfn.py); only `tox -e taskcat` on a real account
proves it.

Nothing leaves the machine: every client taskcat builds goes to the moto server on 127.0.0.1
(AWS_ENDPOINT_URL, honoured by botocore >= 1.31), and the proxy variables point anything else at a
closed local port.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from taskcat._cli_modules.lint import Lint
from taskcat._config import Config
from taskcat.testing import CFNTest

from generator.cfn import names
from products.platform import settings
from tests import conftest, test_shared_hub_deploy
from tests.conftest import ROOT, create_principals
from tests.support.moto_server import MotoServer
from tests.taskcat import platform as platform_step

CONFIG = ROOT / ".taskcat.yml"
OVERRIDES_EXAMPLE = ROOT / "taskcat_overrides.example.yml"
# The VPC, subnets, hosted zone and certificate of the shared hub's moto deploy tests.
network = test_shared_hub_deploy.network


@pytest.fixture
def offline(tmp_path: Path, monkeypatch) -> None:
    """Any request not to 127.0.0.1 goes to a closed local port, and fails."""
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    # Neither ~/.taskcat.yml nor ~/.aws/taskcat_global_override.json of this machine applies.
    monkeypatch.setenv("HOME", str(tmp_path))


def test_taskcat_lint_passes_strict(offline):
    """`taskcat lint --strict` on .taskcat.yml, through the class the command runs: the `taskcat`
    executable first asks PyPI for a newer version, and has no switch to skip that."""
    Lint(input_file=CONFIG.name, project_root=str(ROOT), strict=True)  # raises on any finding


def test_every_test_runs_its_stacks_template_of_the_build():
    """Each test's template exists, is in build/manifest.json, and is its stack's:
    `<product>-<tier>` on the product's template for that tier (one path for every version)."""
    build = ROOT / "build"
    stacks = {
        path: entry["stack"]
        for path, entry in json.loads((build / "manifest.json").read_text())["templates"].items()
    }
    tests = yaml.safe_load(CONFIG.read_text())["tests"]
    assert tests
    for name, test in tests.items():
        template = ROOT / test["template"]
        assert template.is_file(), f"{name}: {test['template']} does not exist"
        path = template.relative_to(build).as_posix()
        assert path in stacks, f"{name}: {path} is not in build/manifest.json"
        assert name == stacks[path].replace("/", "-"), (name, path)


@pytest.fixture
def account(aws: MotoServer, example, network: dict, offline, tmp_path: Path, monkeypatch) -> Path:
    """The account set-up the README asks for, in moto; returns the overrides file to use."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)

    ssm = aws.client("ssm")
    # What the platform's CodeBuild project publishes after it built the image.
    ssm.put_parameter(Name=names.HUB_IMAGE_TAG_PARAMETER, Value="src-0123", Type="String")

    filled = {
        "HomesVpcId": network["VpcId"],
        "HomesSubnetIds": ",".join(network["TaskSubnets"]),
        "CreateAlarmActionsRole": "true",
    }
    example = yaml.safe_load(OVERRIDES_EXAMPLE.read_text())
    assert set(example) == set(filled), "the example overrides and this test name the same keys"
    overrides = tmp_path / "taskcat_overrides.yml"
    overrides.write_text(yaml.safe_dump(filled))
    return overrides


def taskcat_config(overrides: Path) -> Config:
    """.taskcat.yml as `taskcat test run` reads it, with `overrides` as .taskcat_overrides.yml.

    `Config.create` (what `CFNTest.from_file` calls) takes the overrides and global config paths
    that `from_file` would take from the working and home directories. `s3_enable_sig_v2` is the
    moto workaround: otherwise taskcat gives its artifact bucket a policy that denies SigV2
    requests, and moto, which ignores policy conditions, then denies every template upload.
    """
    return Config.create(
        project_root=ROOT,
        project_config_path=CONFIG,
        overrides_path=overrides,
        global_config_path=overrides.parent / ".taskcat.yml",
        args={"project": {"s3_enable_sig_v2": True}},
        uid=uuid.uuid4(),
    )


def run(config: Config, tests: list[str], *, keep: bool) -> CFNTest:
    """`taskcat test run --test-names ... [--no-delete]`, minus its cfn-lint step (linted above)."""
    test = CFNTest(config, test_names=",".join(tests), lint_disable=True, no_delete=keep)
    test.dont_wait_for_delete = False
    test.run()
    outcome = {stack.test_name: (stack.status, stack.status_reason) for stack in test.result}
    assert {name: status for name, (status, _) in outcome.items()} == dict.fromkeys(
        tests, "CREATE_COMPLETE"
    ), outcome
    return test


def stack_ids(test: CFNTest) -> dict[str, str]:
    """Test name -> the id of the stack taskcat created for it."""
    return {stack.test_name: stack.id for stack in test.result}


def test_the_platform_step_then_taskcat_deploy_and_delete_every_test(
    aws, example, account, network, monkeypatch
):
    """`tox -e taskcat`'s sequence: the platform packaged and deployed (tests/taskcat/platform.py,
    the README's two commands), taskcat's product tests on top of it, then the platform deleted."""
    manifest = json.loads((ROOT / "build" / "manifest.json").read_text())["templates"]
    products = {entry["stack"].split("/")[0] for entry in manifest.values() if "version" in entry}
    expected = {f"{p}-{t.name}" for p in products for t in example.tiers}
    # A run drops the tests it does not run from its config, so each run reads its own.
    templates = {name: t.template for name, t in taskcat_config(account).config.tests.items()}
    assert set(templates) == expected
    tested = {Path(t).relative_to("build").as_posix() for t in templates.values()}
    assert tested | set(platform_step.templates()) == set(manifest), "every template is run"
    cfn = aws.client("cloudformation")
    ssm_client = aws.client("ssm")

    def stack(stack_id: str) -> dict:
        return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]

    session = boto3.Session(region_name="us-east-1")
    create_principals(aws, example)  # an account has them before the platform (README)
    # The platform's root makes the account's load balancer in the network and with the
    # certificate portfolio.yaml names: build/'s are the example's placeholders, an account's
    # build names its own, so the moto account's take their place in what is deployed.
    placeholders = {
        example.platform.network.vpc_id: network["VpcId"],
        **dict(
            zip(
                example.platform.network.load_balancer_subnets[:2],
                network["LoadBalancerSubnets"],
                strict=True,
            )
        ),
        example.platform.dns.certificate_arn: network["CertificateArn"],
    }
    built = platform_step.templates()

    def account_templates() -> dict[str, str]:
        found = {}
        for path, text in built.items():
            for placeholder, own in placeholders.items():
                text = text.replace(placeholder, own)
            found[path] = text
        return found

    assert any(example.platform.dns.certificate_arn in text for text in built.values())
    monkeypatch.setattr(platform_step, "templates", account_templates)
    platform = platform_step.deploy(session, overrides=account)
    assert stack(platform)["StackStatus"] == "CREATE_COMPLETE"
    # build/ is built from the example portfolio.yaml, whose settings name a placeholder network,
    # hosted zone and certificate; an account's build names its own. The tiers' network and DNS
    # settings become the moto account's, as a platform built from such a portfolio.yaml would
    # publish them.
    moto_account = conftest.with_platform_settings(example, network)
    for tier in example.tiers:
        for name, value in settings.tier_settings(moto_account.platform, tier).items():
            if "/network/" in name or "/dns/" in name:
                ssm_client.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack(platform)["Parameters"]}
    overrides = yaml.safe_load(account.read_text())
    platform_keys = ("CreateAlarmActionsRole", "HomesVpcId", "HomesSubnetIds")
    assert platform_step.parameters(account) == {key: overrides[key] for key in platform_keys}
    for key in platform_keys:
        assert given[key] == overrides[key], f"{key} from the overrides"
    for tier in example.tiers:
        role = aws.client("iam").get_role(RoleName=names.LAUNCH_ROLE.format(tier=tier.name))
        assert role["Role"]["RoleName"], "each tier's nested stack created its roles"

    product_tests = sorted(expected)
    products = run(taskcat_config(account), product_tests, keep=False)
    created = stack_ids(products)
    assert set(created) == expected
    for name, stack_id in created.items():
        assert stack(stack_id)["StackStatus"] == "CREATE_COMPLETE", name
        body = cfn.get_template(StackName=stack_id)["TemplateBody"]
        body = json.loads(body) if isinstance(body, str) else body
        assert body == json.loads((ROOT / templates[name]).read_text()), name
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack(stack_id)["Parameters"]}
        tier = name.rsplit("-", 1)[1]
        assert "Tier" not in given and body["Metadata"]["labcatalog"]["tier"] == tier, name
        # Nothing of the account's network, identity provider or DNS: the platform's settings.
        assert not {"VpcId", "SubnetId", "TaskSubnets", "OidcIssuerUrl", "TierGroup"} & set(given)

    products.clean_up()
    for name in product_tests:
        assert stack(created[name])["StackStatus"] == "DELETE_COMPLETE", name
    assert stack(platform)["StackStatus"] == "CREATE_COMPLETE", "outlives the products"

    platform_step.remove(session)
    assert stack(platform)["StackStatus"] == "DELETE_COMPLETE"
    buckets = {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    artifacts = {s.region.s3_bucket.name for s in products.result}
    assert len(artifacts) == 1 and artifacts <= buckets, "one artifact bucket, kept for reuse"
    assert not [b for b in buckets if re.fullmatch(r"tcat-labcatalog-[a-z0-9]{8}", b)], "per run"
    assert platform_step.artifact_bucket(session) in buckets, "the platform's, kept for reuse"
