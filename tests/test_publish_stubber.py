"""Call shapes and error paths of the publisher, checked by botocore's Stubber.

Stubber validates every request against botocore's model of the real APIs (member names,
types, required members), so a misspelt or misplaced parameter fails here. It proves nothing
about how the services behave; tests/test_publish_convergence.py covers that.
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import ExitStack
from dataclasses import replace

import pytest
from botocore.stub import ANY, Stubber

from generator.engine.build_folder import Build
from generator.engine.publish import actions as act
from generator.engine.publish.apply import Context, Ids, apply, run
from generator.engine.publish.aws import RETRY_CONFIG, Caller, Clients, PermissionDenied, connect
from generator.engine.publish.desired import desired_state, read_templates
from generator.engine.publish.plan import Plan, diff
from generator.engine.publish.publisher import BUCKET_PARAMETER, make_plan, template_bucket
from generator.engine.publish.state import CatalogState, read_state
from generator.model.problems import UserError
from tests.support.publish_support import BUCKET, Workspace

ACCOUNT = "111122223333"
CALLER = {
    "UserId": "AIDAEXAMPLE",
    "Account": ACCOUNT,
    "Arn": f"arn:aws-us-gov:iam::{ACCOUNT}:user/publisher",
}


@pytest.fixture
def clients(monkeypatch) -> Clients:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return connect(region="us-gov-west-1")


@pytest.fixture
def stubs(clients):
    with ExitStack() as stack:
        made = {
            name: stack.enter_context(Stubber(getattr(clients, name)))
            for name in ("servicecatalog", "s3", "sts", "ssm", "ecr")
        }
        yield made
        for stub in made.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    work = Workspace(tmp_path)
    work.data["tiers"] = work.data["tiers"][:1]
    work.data["tiers"][0]["principals"] = ["role/Team0"]
    work.data["tag_options"] = {}
    del work.data["products"]["personal-hub"]
    return work


def test_clients_retry_throttling_with_backoff(clients):
    for client in clients.all():
        assert client.meta.config.retries == RETRY_CONFIG.retries


def test_endpoint_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert connect(region="us-east-1").servicecatalog.meta.endpoint_url == "http://127.0.0.1:9"


def test_first_plan_reads_only_and_expands_principals(clients, stubs, workspace):
    portfolio = workspace.write()
    stubs["sts"].add_response("get_caller_identity", CALLER, {})
    stubs["ssm"].add_response(
        "get_parameter",
        {"Parameter": {"Name": BUCKET_PARAMETER, "Value": BUCKET, "Type": "String"}},
        {"Name": BUCKET_PARAMETER},
    )
    stubs["s3"].add_client_error(
        "head_object", "404", "Not Found", 404, expected_params={"Bucket": BUCKET, "Key": ANY}
    )
    stubs["servicecatalog"].add_response("list_portfolios", {"PortfolioDetails": []}, {})
    stubs["servicecatalog"].add_response(
        "search_products_as_admin", {"ProductViewDetails": []}, {"ProductSource": "ACCOUNT"}
    )
    # The tier's own TagOption (labcatalog:tier) is wanted even when the file lists none.
    stubs["servicecatalog"].add_response("list_tag_options", {"TagOptionDetails": []}, {})
    stubs["ecr"].add_response(
        "list_images",
        {"imageIds": [{"imageTag": "src-0123456789abcdef", "imageDigest": "sha256:" + "0" * 64}]},
        {"repositoryName": "labcatalog/hub", "filter": {"tagStatus": "TAGGED"}},
    )
    plan, _ = make_plan(portfolio, workspace.build(), clients)
    # The stand-in template names no image of the repository: nothing to keep, and the plan says so.
    assert any(" 1.0.0 names no image" in note for note in plan.skipped)
    principal = next(a for a in plan.actions if isinstance(a, act.AssociatePrincipal))
    assert principal.arn == f"arn:aws-us-gov:iam::{ACCOUNT}:role/Team0"
    upload = next(a for a in plan.actions if isinstance(a, act.UploadTemplate))
    # The hash is computed here, over the file in build/, not read back from the publisher.
    sha = hashlib.sha256(workspace.template("shared-hub").read_bytes()).hexdigest()
    assert upload.template.key == f"templates/sha256/{sha}.template.json"
    create = next(a for a in plan.actions if isinstance(a, act.CreateProduct))
    assert create.template_url == (
        f"https://{BUCKET}.s3.us-gov-west-1.amazonaws.com/{upload.template.key}"
    )


def _first_plan(workspace: Workspace) -> Plan:
    portfolio = workspace.write()
    templates, _ = read_templates(portfolio, workspace.build())
    desired = desired_state(portfolio, templates, Caller(ACCOUNT, "aws"))
    return diff(desired, CatalogState(), BUCKET, lambda t: f"https://example/{t.key}")


def test_apply_sends_each_change_in_the_shape_the_api_expects(clients, stubs, workspace):
    plan = _first_plan(workspace)
    sc, s3 = stubs["servicecatalog"], stubs["s3"]
    body = workspace.template("shared-hub").read_bytes()
    digest = hashlib.sha256(body).digest()  # computed here, over the file in build/
    sha = digest.hex()
    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": BUCKET,
            "Key": f"templates/sha256/{sha}.template.json",
            "Body": body,
            "ContentType": "application/json",
            "ChecksumSHA256": base64.b64encode(digest).decode(),
        },
    )
    sc.add_response(
        "create_portfolio",
        {"PortfolioDetail": {"Id": "port-1"}},
        {
            "DisplayName": "Data Science (tier0)",
            "Description": "JupyterHub environments. Tier tier0: Tier 0",
            "ProviderName": "Data Platform Team",
            "Tags": [
                {"Key": "managed-by", "Value": "labcatalog"},
                {"Key": "labcatalog:tier", "Value": "tier0"},
            ],
        },
    )
    sc.add_response(
        "create_tag_option",
        {"TagOptionDetail": {"Id": "tag-1"}},
        {"Key": "labcatalog:tier", "Value": "tier0"},
    )
    sc.add_response(
        "create_product",
        {
            "ProductViewDetail": {"ProductViewSummary": {"ProductId": "prod-1"}},
            "ProvisioningArtifactDetail": {"Id": "pa-1"},
        },
        {
            "Name": "Team hub",
            "Owner": "Data Platform Team",
            "Description": "Team hub for tests",
            "Distributor": "Data Platform Team",
            "SupportEmail": "data-platform@example.com",
            "ProductType": "CLOUD_FORMATION_TEMPLATE",
            "Tags": [
                {"Key": "managed-by", "Value": "labcatalog"},
                {"Key": "labcatalog:product", "Value": "shared-hub"},
                {"Key": "labcatalog:tier", "Value": "tier0"},
            ],
            "ProvisioningArtifactParameters": {
                "Name": "1.0.0",
                "Description": f"First release (labcatalog sha256:{sha})",
                "Info": {
                    "LoadTemplateFromURL": f"https://example/templates/sha256/{sha}.template.json"
                },
                "Type": "CLOUD_FORMATION_TEMPLATE",
            },
        },
    )
    sc.add_response(
        "associate_product_with_portfolio", {}, {"ProductId": "prod-1", "PortfolioId": "port-1"}
    )
    sc.add_response(
        "create_constraint",
        {},
        {
            "PortfolioId": "port-1",
            "ProductId": "prod-1",
            "Type": "LAUNCH",
            "Parameters": '{"LocalRoleName":"labcatalog-tier0-launch"}',
            "Description": "labcatalog: launch as role labcatalog-tier0-launch",
        },
    )
    sc.add_response(
        "associate_tag_option_with_resource", {}, {"ResourceId": "port-1", "TagOptionId": "tag-1"}
    )
    sc.add_response(
        "associate_principal_with_portfolio",
        {},
        {
            "PortfolioId": "port-1",
            "PrincipalARN": f"arn:aws:iam::{ACCOUNT}:role/Team0",
            "PrincipalType": "IAM",
        },
    )
    done = apply(plan, clients, CatalogState())
    assert len(done) == len(plan.changes) == 8


def test_deprecation_is_a_guidance_update(clients, stubs):
    sc = stubs["servicecatalog"]
    sc.add_response(
        "update_provisioning_artifact",
        {},
        {"ProductId": "prod-1", "ProvisioningArtifactId": "pa-1", "Guidance": "DEPRECATED"},
    )
    ids = Ids(products={"shared-hub": "prod-1"}, versions={("shared-hub", "1.0.0"): "pa-1"})
    action = act.UpdateVersion("shared-hub", "1.0.0", guidance="DEPRECATED")
    assert action.change is act.Change.DEPRECATE
    run(action, Context(clients, ids))


@pytest.mark.parametrize(
    "operation,code,action",
    [
        ("create_portfolio", "AccessDeniedException", "servicecatalog:CreatePortfolio"),
        ("put_object", "AccessDenied", "s3:PutObject"),
    ],
)
def test_permission_errors_name_the_missing_action(
    clients, stubs, workspace, operation, code, action
):
    plan = _first_plan(workspace)
    if operation == "create_portfolio":
        stubs["s3"].add_response("put_object", {})
        stubs["servicecatalog"].add_client_error(operation, code, "not authorized", 400)
    else:
        stubs["s3"].add_client_error(operation, code, "Access Denied", 403)
    with pytest.raises(PermissionDenied, match=f"permission denied for {action}"):
        apply(plan, clients, CatalogState())


def test_denied_head_object_names_get_object(clients, stubs, workspace):
    stubs["s3"].add_client_error("head_object", "403", "Forbidden", 403)
    portfolio = workspace.write()
    templates, _ = read_templates(portfolio, workspace.build())
    desired = desired_state(portfolio, templates, Caller(ACCOUNT, "aws"))
    with pytest.raises(PermissionDenied, match="s3:GetObject"):
        read_state(clients, desired, BUCKET)


def test_missing_platform_stack_is_explained(clients, stubs):
    stubs["ssm"].add_client_error("get_parameter", "ParameterNotFound", "", 400)
    with pytest.raises(UserError, match="deploy the platform stack there first"):
        template_bucket(clients, None)


def test_bucket_option_wins_without_a_call(clients, stubs):
    assert template_bucket(clients, "given") == "given"


def without(build: Build, product: str) -> Build:
    return Build(tuple(f for f in build.files if f.stack != product))


def test_a_template_that_still_asks_for_the_tier_is_refused(workspace):
    portfolio = workspace.write()
    build = workspace.build()
    template = build.template("shared-hub/tier0")
    body = json.loads(template.text)
    body["Parameters"]["Tier"] = {"Type": "String", "AllowedValues": ["tier0"]}
    edited = replace(template, text=json.dumps(body))
    with pytest.raises(UserError, match=r"shared-hub/tier0\.template\.json still asks for 'Tier'"):
        read_templates(portfolio, Build((*without(build, "shared-hub/tier0").files, edited)))


def test_a_product_without_a_template_yet_is_skipped_with_a_note(workspace):
    portfolio = workspace.write()
    templates, skipped = read_templates(portfolio, without(workspace.build(), "shared-hub/tier0"))
    assert templates == []
    assert skipped == ["shared-hub/tier0 1.0.0: no template in the build yet; not published"]


def test_a_build_of_another_version_is_refused(workspace):
    workspace.write()
    build = workspace.build()
    workspace.set_version("shared-hub", "1.1.0")
    portfolio = workspace.write()
    with pytest.raises(UserError, match=r"holds shared-hub 1\.0\.0 .* the portfolio says 1\.1\.0"):
        read_templates(portfolio, build)
