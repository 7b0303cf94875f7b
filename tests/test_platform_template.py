"""The platform template as data: every tier's statements, resources and conditions.

These tests prove that the intended properties are in the template; cfn-lint (lint env), checkov
(checkov env) and the moto deploy (test_platform_deploy.py) check the rest.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from generator.cfn import names
from generator.engine.build import render
from generator.engine.registry import discover, load_portfolio
from generator.model.config import Portfolio
from products.platform.storage import ELB_LOG_ACCOUNTS, ELB_LOG_ACCOUNTS_MAP, LEGACY_ELB_REGION
from tests.conftest import EXAMPLE, PORTFOLIOS, platform_body, platform_templates

PACKAGED_STACK = "AWS::CloudFormation::Stack"

DATA_ACTION = re.compile(
    r"^(s3:(Get|Put|Delete|List|Abort|Restore)"
    r"|kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt))"
)


def sub_text(value) -> str:
    """Render an ARN built with Fn::Sub as readable text: `${Bucket}` -> `{Ref:NotebookBucket}`."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        text, variables = sub
        for name, ref in variables.items():
            text = text.replace("${" + name + "}", "{Ref:" + ref["Ref"] + "}")
        return text
    if "Fn::GetAtt" in value:
        return "{GetAtt:" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Ref" in value:
        return "{Ref:" + value["Ref"] + "}"
    raise AssertionError(f"unexpected value {value}")


def lake(portfolio: Portfolio, path: str = "") -> str:
    return f"arn:${{AWS::Partition}}:s3:::{portfolio.data_lake.bucket}{path}"


NOTEBOOKS = "arn:${AWS::Partition}:s3:::{Ref:NotebookBucket}"


def role_policy(body: dict, logical_id: str, name: str) -> dict:
    policies = body["Resources"][logical_id]["Properties"]["Policies"]
    return next(p["PolicyDocument"] for p in policies if p["PolicyName"] == name)


def statements(document: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in document["Statement"]}


def resources(statement: dict) -> list[str]:
    return sorted(sub_text(r) for r in statement["Resource"])


def all_statements(body: dict):
    """Every statement of every IAM, bucket and key policy in the template."""
    for logical_id, resource in body["Resources"].items():
        props = resource["Properties"]
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        documents += [props[k] for k in ("PolicyDocument", "KeyPolicy") if k in props]
        for document in documents:
            for statement in document["Statement"]:
                if "Fn::If" in statement:  # a statement for some regions only: check it too
                    statement = statement["Fn::If"][1]
                yield logical_id, statement


def test_tier_role_reads_and_writes_exactly_its_lake_prefixes(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        found = statements(role_policy(body, f"{tier.logical_id}DataRole", "data-access"))
        listing = found["ListLakeUnderReadPrefixes"]
        assert listing["Action"] == ["s3:ListBucket"]
        assert resources(listing) == [lake(portfolio)]
        # moto ignores conditions, so this list limit is proved here and nowhere else.
        expected = sorted({p for r in tier.read for p in (r, r + "*")})
        assert listing["Condition"] == {"StringLike": {"s3:prefix": expected}}

        read = found["ReadLakeObjects"]
        assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert resources(read) == sorted(lake(portfolio, f"/{p}*") for p in tier.read)
        if tier.write:
            write = found["WriteLakeObjects"]
            assert set(write["Action"]) == {
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            }
            assert resources(write) == sorted(lake(portfolio, f"/{p}*") for p in tier.write)
        else:
            assert "WriteLakeObjects" not in found


def test_tier_role_uses_only_its_notebook_prefix(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        found = statements(role_policy(body, f"{tier.logical_id}DataRole", "data-access"))
        listing = found["ListNotebooks"]
        assert resources(listing) == [NOTEBOOKS]
        assert listing["Condition"] == {
            "StringLike": {"s3:prefix": [f"{tier.name}/", f"{tier.name}/*"]}
        }
        assert resources(found["ReadWriteNotebooks"]) == [f"{NOTEBOOKS}/{tier.name}/*"]


def test_kms_only_through_s3(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        kms = statements(role_policy(body, f"{tier.logical_id}DataRole", "data-access"))[
            "UseKeysOnlyThroughS3"
        ]
        assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
        # The tier's template takes the key's ARN as a parameter (test_each_tier_stack_...).
        expected = ["{Ref:NotebookKeyArn}"]
        if portfolio.data_lake.kms_key_arn:
            expected.append(portfolio.data_lake.kms_key_arn)
        assert resources(kms) == sorted(expected)
        assert kms["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
        }


def test_tier_role_denies_requests_without_tls(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        (deny,) = role_policy(body, f"{tier.logical_id}DataRole", "require-tls")["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Action"] == ["s3:*"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert resources(deny) == sorted(
            [lake(portfolio), lake(portfolio, "/*"), NOTEBOOKS, f"{NOTEBOOKS}/*"]
        )


def test_notebook_role_is_assumed_by_ecs_tasks_of_this_account_only(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        role = body["Resources"][f"{tier.logical_id}NotebookRole"]["Properties"]
        assert role["RoleName"] == names.NOTEBOOK_ROLE.format(tier=tier.name)
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Sid"] == "EcsTasksOfThisAccount"
        assert trust["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}
        }
    # No product runs the notebook role on EC2 (a personal hub has a role of its own), so the
    # platform makes no instance profile for it.
    profiles = [r for r in body["Resources"].values() if r["Type"] == "AWS::IAM::InstanceProfile"]
    assert all(p["Properties"]["Roles"][0]["Ref"].endswith("PersonalHubRole") for p in profiles), (
        profiles
    )


READ_AND_PASS = {"iam:PassRole", "iam:GetRole"}


def test_launch_role_passes_only_its_own_tiers_roles_each_to_its_service(portfolio):
    body = platform_body(portfolio)
    for tier in portfolio.tiers:
        tid = tier.logical_id
        role = body["Resources"][f"{tid}LaunchRole"]["Properties"]
        assert role["RoleName"] == names.LAUNCH_ROLE.format(tier=tier.name)
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": ["servicecatalog.amazonaws.com"]}
        found = statements(role_policy(body, f"{tid}LaunchRole", "launch-products"))
        passing = {sid: s for sid, s in found.items() if "iam:PassRole" in s["Action"]}
        expected = {}
        if portfolio.products.shared_hub is not None:
            # A shared hub's task definitions name the hub, execution and user server roles.
            expected["PassOnlyThisTiersRolesToEcsTasks"] = (
                "ecs-tasks.amazonaws.com",
                [f"{{GetAtt:{tid}{r}.Arn}}" for r in ("NotebookRole", "HubTaskRole")]
                + [f"{{GetAtt:{tid}TaskExecutionRole.Arn}}"],
            )
        if portfolio.products.personal_hub is not None:
            expected["PassOnlyThisTiersRolesToEc2"] = (
                "ec2.amazonaws.com",
                [f"{{GetAtt:{tid}PersonalHubRole.Arn}}"],
            )
        assert sorted(passing) == sorted(expected)
        for sid, (service, roles) in expected.items():
            assert passing[sid]["Action"] == ["iam:PassRole"]
            assert resources(passing[sid]) == sorted(roles)
            assert passing[sid]["Condition"] == {"StringEquals": {"iam:PassedToService": service}}
        allowed = [a for s in found.values() if s["Effect"] == "Allow" for a in s["Action"]]
        # Beyond passing them, only reading the same roles (CloudFormation reads a task
        # definition's roles).
        assert not [a for a in allowed if a.startswith("iam:") and a not in READ_AND_PASS]
        assert resources(found["ReadThisTiersPassableRoles"]) == sorted(
            r for _, roles in expected.values() for r in roles
        )
        never = found["NeverChangeIam"]
        assert never["Effect"] == "Deny"
        assert {"iam:CreateRole", "iam:CreatePolicy", "iam:PutRolePolicy"} <= set(never["Action"])
        parameters = resources(found["ReadLabcatalogParameters"])
        assert any(p.endswith(f"parameter/labcatalog/tiers/{tier.name}/*") for p in parameters)
        assert not [p for p in parameters if "/tiers/" in p and f"/tiers/{tier.name}/" not in p]


# The platform deployed in a made-up account and region: every ARN below is text to compare.
ACCOUNT, REGION = "111122223333", "eu-west-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class Resolver:
    """Resolves a template's values to the ARNs and names they would have once deployed."""

    def __init__(self, body: dict) -> None:
        self.resources = body["Resources"]

    def ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        resource = self.resources.get(name)
        if resource is None:
            return f"<parameter {name}>"
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return self.value(props.get("BucketName", f"generated-{name.lower()}"))
        if kind == "AWS::IAM::Role":
            return self.value(props.get("RoleName", f"generated-{name}"))
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{self.value(props['ManagedPolicyName'])}"
        return f"<{name}>"

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        if attribute == "Arn" and kind == "AWS::IAM::Role":
            path = self.resources[name]["Properties"].get("Path", "/")
            return f"arn:aws:iam::{ACCOUNT}:role{path}{self.ref(name)}"
        if attribute == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self.ref(name)}"
        if attribute == "Arn" and kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}"
        return f"<{name}.{attribute}>"

    def value(self, value) -> str | list | dict:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
            return {k: self.value(v) for k, v in value.items()}  # e.g. a policy condition
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            return self.get_att(*argument)
        if function == "Fn::Join":
            return argument[0].join(self.value(v) for v in argument[1])
        if function == "Fn::If":
            return self.value(argument[1])
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            given = {k: self.value(v) for k, v in variables.items()}

            def variable(match: re.Match) -> str:
                name = match[1]
                if name in given:
                    return given[name]
                if "." in name:
                    return self.get_att(*name.split(".", 1))
                return self.ref(name)

            return re.sub(r"\$\{([^}!]+)\}", variable, text)
        return json.dumps(value)


def _policies_of_roles(body: dict, resolver: Resolver) -> dict[str, list[dict]]:
    """Role ARN -> every statement it gets: its inline policies and the managed ones attached."""
    found: dict[str, list[dict]] = {}
    managed = {
        logical_id: resource["Properties"]["PolicyDocument"]["Statement"]
        for logical_id, resource in body["Resources"].items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }
    for logical_id, resource in body["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        statements = [
            s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]
        ]
        for arn in props.get("ManagedPolicyArns", []):
            statements += managed.get(arn.get("Ref"), []) if isinstance(arn, dict) else []
        for policy_id, policy in body["Resources"].items():
            roles = policy.get("Properties", {}).get("Roles", [])
            if policy["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": logical_id} in roles:
                statements += managed[policy_id]
        found[resolver.get_att(logical_id, "Arn")] = statements
    return found


@pytest.mark.parametrize("name", sorted(PORTFOLIOS))
def test_no_tier_role_reaches_another_tiers_arns(name):
    """Which tier a role or an ARN is of comes from portfolio.yaml (its tier names and lake
    prefixes, read here with a YAML parser), and the template's values are resolved to the ARNs
    they name once deployed: no statement of a tier's roles names another tier's roles, notebook
    prefix, lake prefix, clusters, secrets or parameters."""
    source = yaml.safe_load(PORTFOLIOS[name].read_text())
    lake_bucket = source["data_lake"]["bucket"]
    tiers = {t["name"]: t for t in source["tiers"]}
    body = platform_body(load_portfolio(PORTFOLIOS[name]))
    resolver = Resolver(body)
    roles = _policies_of_roles(body, resolver)
    role_prefix = f"arn:aws:iam::{ACCOUNT}:role/labcatalog-"
    checked = set()
    for tier, spec in tiers.items():
        own = {arn for arn in roles if arn.startswith(f"{role_prefix}{tier}-")}
        assert own, f"no role of tier {tier}"
        own_lake = set(spec["read"]) | set(spec.get("write", []))
        for other in set(tiers) - {tier}:
            other_lake = set(tiers[other]["read"]) | set(tiers[other].get("write", []))
            foreign = [
                re.escape(f"{role_prefix}{other}-"),  # its roles
                rf"labcatalog-{other}[-_]",  # its clusters, services, names
                rf"/{other}/",  # its notebook prefix, secrets, parameters
            ] + [
                re.escape(f"arn:aws:s3:::{lake_bucket}/{prefix}")  # its own lake prefixes
                for prefix in other_lake - own_lake
                if not any(prefix.startswith(mine) for mine in own_lake)
            ]
            for arn in own:
                for statement in roles[arn]:
                    if statement.get("Effect") != "Allow":
                        continue
                    named = resolver.value(statement.get("Resource", []))
                    named = [named] if isinstance(named, str) else named
                    named += [json.dumps(resolver.value(statement.get("Condition", {})))]
                    for text in named:
                        for pattern in foreign:
                            assert not re.search(pattern, text), (arn, statement.get("Sid"), text)
                    checked.add(arn)
    assert len(checked) >= 4 * len(tiers)  # notebook, hub, task execution, launch, ...


def test_launch_role_passes_exactly_its_tiers_roles_computed_from_the_portfolio():
    """iam:PassRole names, for each tier of portfolio.yaml, exactly the ARNs of that tier's
    roles as computed here from the tier's name (the names the README documents)."""
    for path in PORTFOLIOS.values():
        source = yaml.safe_load(path.read_text())
        body = platform_body(load_portfolio(path))
        resolver = Resolver(body)
        roles = _policies_of_roles(body, resolver)
        for tier in (t["name"] for t in source["tiers"]):
            arn = f"arn:aws:iam::{ACCOUNT}:role/labcatalog-{tier}-"
            passed = {
                r
                for s in roles[f"{arn}launch"]
                if s["Effect"] == "Allow" and "iam:PassRole" in s["Action"]
                for r in resolver.value(s["Resource"])
            }
            expected = {f"{arn}{kind}" for kind in ("notebook", "hub", "task-execution")}
            if "personal-hub" in source["products"]:
                expected.add(f"{arn}personal-hub")
            if "shared-hub" not in source["products"]:
                expected -= {f"{arn}{kind}" for kind in ("notebook", "hub", "task-execution")}
            assert passed == expected, (path.name, tier)


def test_notebook_bucket_is_private_versioned_encrypted_and_retained(portfolio):
    body = platform_body(portfolio)
    bucket = body["Resources"]["NotebookBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["NotebookKey", "Arn"]},
    }
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": portfolio.notebooks.noncurrent_version_days
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    key = body["Resources"]["NotebookKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_notebook_bucket_policy_denies_every_request_without_tls(portfolio):
    body = platform_body(portfolio)
    policy = body["Resources"]["NotebookBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "NotebookBucket"}
    # moto may treat this conditional Deny as unconditional, so its shape is asserted here.
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Action"] == ["s3:*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert resources(deny) == [NOTEBOOKS, f"{NOTEBOOKS}/*"]


def test_template_bucket_is_private_tls_only_logged_and_readable_by_service_catalog(example):
    body = platform_body(example)
    bucket = body["Resources"]["TemplateBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    # SSE-S3: Service Catalog fetches templates by URL and holds no grant on a customer key.
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "AccessLogBucket"},
        "LogFilePrefix": "templates/",
    }
    policy = body["Resources"]["TemplateBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_access_logs_accept_only_their_source_buckets(example):
    body = platform_body(example)
    policy = body["Resources"]["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]
    found = statements(policy)
    for name, source in (("Notebooks", "NotebookBucket"), ("Templates", "TemplateBucket")):
        delivery = found[f"AccessLogsOf{name}"]
        assert delivery["Principal"] == {"Service": ["logging.s3.amazonaws.com"]}
        assert delivery["Action"] == ["s3:PutObject"]
        assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == {
            "Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": {"Ref": source}}]
        }
    assert found["DenyInsecureTransport"]["Effect"] == "Deny"


def test_hub_repository_is_immutable_scanned_and_pruned(example):
    body = platform_body(example)
    repo = body["Resources"]["HubRepository"]["Properties"]
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["EncryptionConfiguration"] == {"EncryptionType": "KMS"}
    rules = json.loads(repo["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    # Keeps what is in use, expires the rest (tests/test_image_retention.py evaluates them).
    assert [r["selection"]["tagStatus"] for r in rules] == ["tagged", "untagged", "any"]
    for tier in example.tiers:
        execution = statements(
            role_policy(body, f"{tier.logical_id}TaskExecutionRole", "start-tasks")
        )
        assert resources(execution["PullHubImage"]) == ["{Ref:HubRepositoryArn}"]
        # Only this tier's secrets and logs: another tier's hub cannot read them.
        assert resources(execution["ReadThisTiersHubSecrets"]) == [
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
            f"labcatalog/{tier.name}/*"
        ]
        assert resources(execution["WriteTaskLogs"]) == [
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
            f"/labcatalog/{tier.name}/*:log-stream:*"
        ]


def test_products_find_the_platform_through_ssm_parameters(portfolio):
    body = platform_body(portfolio)
    published = {
        r["Properties"]["Name"]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    expected = {
        names.NOTEBOOK_BUCKET_PARAMETER,
        names.NOTEBOOK_KEY_ARN_PARAMETER,
        names.HUB_REPOSITORY_URI_PARAMETER,
        names.HUB_KEY_ARN_PARAMETER,
        names.LOAD_BALANCER_LOG_BUCKET_PARAMETER,
        names.TEMPLATE_BUCKET_PARAMETER,
    }
    if portfolio.account_load_balancer and portfolio.products.shared_hub is not None:
        expected |= {
            names.ACCOUNT_LISTENER_ARN_PARAMETER,
            names.ACCOUNT_LOAD_BALANCER_DNS_NAME_PARAMETER,
            names.ACCOUNT_LOAD_BALANCER_ZONE_ID_PARAMETER,
            names.BEHIND_LOAD_BALANCER_GROUP_PARAMETER,
        }
    assert all(n.startswith("/labcatalog/platform/") for n in expected)
    for tier in portfolio.tiers:
        per_tier = [names.NOTEBOOK_ROLE_ARN_PARAMETER, names.LAUNCH_ROLE_ARN_PARAMETER]
        # Every tier has a home file system (products/platform/homes.py), whatever products.
        per_tier += [
            names.HOMES_FILE_SYSTEM_ID_PARAMETER,
            names.HOMES_SHARED_ACCESS_POINT_ID_PARAMETER,
            names.HOMES_MOUNT_TARGET_SECURITY_GROUP_PARAMETER,
        ]
        if portfolio.products.shared_hub is not None:
            per_tier += [names.HUB_TASK_ROLE_ARN_PARAMETER, names.TASK_EXECUTION_ROLE_ARN_PARAMETER]
        if portfolio.products.personal_hub is not None:
            per_tier.append(names.PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER)
        # The platform's settings (products/platform/settings.py; tests/test_platform_settings.py
        # checks their values): every tier has them, and only the identity provider's set ones.
        per_tier += [
            names.tier_setting(name)
            for name in (
                "network/vpc-id",
                "network/server-subnets",
                "network/server-subnet-1",
                "network/server-subnet-2",
                "network/load-balancer-subnet-1",
                "network/load-balancer-subnet-2",
                "identity/mode",
                "identity/tier-group",
                "identity/admin-group",
                "dns/hosted-zone-id",
                "dns/certificate-arn",
                "dns/hub-host-name-suffix",
                "owner/principal-pattern",
            )
        ]
        identity = portfolio.platform.identity
        if identity.oidc is not None:
            per_tier += [
                names.OIDC_ISSUER_SETTING,
                names.OIDC_CLIENT_ID_SETTING,
                names.OIDC_CLIENT_SECRET_SETTING,
                names.OIDC_USERNAME_CLAIM_SETTING,
                names.OIDC_GROUPS_CLAIM_SETTING,
            ]
        else:
            per_tier += [names.LDAP_URL_SETTING, names.LDAP_BIND_DN_TEMPLATE_SETTING]
            per_tier += [
                setting
                for setting, value in (
                    (names.LDAP_GROUP_SEARCH_BASE_SETTING, identity.ldap.group_search_base),
                    (names.LDAP_BIND_USER_DN_SETTING, identity.ldap.bind_user_dn),
                    (
                        names.LDAP_BIND_PASSWORD_SECRET_SETTING,
                        identity.ldap.bind_password_secret_name,
                    ),
                )
                if value
            ]
        for pattern in per_tier:
            name = pattern.format(tier=tier.name)
            assert name.startswith(f"/labcatalog/tiers/{tier.name}/")
            expected.add(name)
    assert published == expected


def test_load_balancer_logs_are_delivered_only_under_this_accounts_prefix(example):
    body = platform_body(example)
    assert set(body["Mappings"][ELB_LOG_ACCOUNTS_MAP]) == set(ELB_LOG_ACCOUNTS)
    assert all(
        re.fullmatch(r"\d{12}", v["Account"])
        for v in body["Mappings"][ELB_LOG_ACCOUNTS_MAP].values()
    )
    policy = body["Resources"]["LoadBalancerLogBucketPolicy"]["Properties"]["PolicyDocument"]
    service, legacy, deny = policy["Statement"]
    assert service["Principal"] == {"Service": ["logdelivery.elasticloadbalancing.amazonaws.com"]}
    assert service["Action"] == ["s3:PutObject"]
    assert resources(service) == [
        "arn:${AWS::Partition}:s3:::{Ref:LoadBalancerLogBucket}/*/AWSLogs/${AWS::AccountId}/*"
    ]
    condition, statement, otherwise = legacy["Fn::If"]
    assert condition == LEGACY_ELB_REGION and otherwise == {"Ref": "AWS::NoValue"}
    assert statement["Resource"] == service["Resource"]
    assert deny["Effect"] == "Deny"


def test_hub_key_lets_cloudwatch_logs_use_it_only_for_labcatalog_log_groups(example):
    body = platform_body(example)
    key = body["Resources"]["HubKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    found = statements(key["Properties"]["KeyPolicy"])
    logs = found["CloudWatchLogsForLabcatalogLogGroups"]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                "log-group:/labcatalog/*"
            }
        }
    }


def test_launch_roles_share_the_account_wide_shared_hub_policies(portfolio):
    body = platform_body(portfolio)
    shared = [
        "LaunchSharedHubDiscoveryPolicy",
        "LaunchSharedHubLoadBalancingPolicy",
        "LaunchSharedHubNetworkPolicy",
        "LaunchSharedHubRuntimePolicy",
    ]
    # Creations and tagging that AWS defines without a resource type: the new resource's id
    # is AWS's (a new file system is scoped by the tags it is created with).
    created_without_resource_type = {
        "servicediscovery:CreatePrivateDnsNamespace",
        "servicediscovery:TagResource",
        "servicediscovery:UntagResource",
        "route53:CreateHostedZone",
        "elasticfilesystem:CreateFileSystem",
    }
    for tier in portfolio.tiers:
        role = body["Resources"][f"{tier.logical_id}LaunchRole"]["Properties"]
        own = []
        if portfolio.products.personal_hub is not None:
            # Tier-specific, so one per tier (the personal hub's EC2 rules name the tier's tag).
            own = [
                f"{tier.logical_id}LaunchPersonalHubPolicy",
                f"{tier.logical_id}LaunchPersonalHubSupportPolicy",
            ]
        assert role["ManagedPolicyArns"] == [{"Ref": name} for name in shared + own]
        found = statements(role_policy(body, f"{tier.logical_id}LaunchRole", "launch-products"))
        # The tier's own shared-hub resources are named by tier: no other tier's pattern.
        assert resources(found["SharedHubClusters"]) == [
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/"
            f"labcatalog-{tier.name}_*"
        ]
    for name in shared:
        for statement in body["Resources"][name]["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in statement["Resource"]:
                # Only control-plane calls that AWS defines without a resource type.
                assert all(
                    re.match(r"^[a-z0-9-]+:(Describe|List|Get|Register|Deregister)", a)
                    or a in created_without_resource_type
                    for a in statement["Action"]
                ), statement


def test_every_parameter_a_product_reads_is_one_the_platform_publishes(portfolio):
    """The cross-stack contract: each `{{resolve:ssm:...}}` of a product template, for every
    tier, names a parameter of the platform stack (or the image build's release tag)."""
    registry = discover()
    platform = platform_body(portfolio)
    published = {
        r["Properties"]["Name"]
        for r in platform["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    } | {names.HUB_IMAGE_TAG_PARAMETER}
    read = set()
    for product, _ in registry.configured(portfolio):
        text = render(product.build(portfolio))
        found = re.findall(r"\{\{resolve:ssm:(/(?:[^}$]|\$\{Tier\})+)\}\}", text)
        assert found, product.key
        for tier in portfolio.tiers:
            read |= {name.replace("${Tier}", tier.name) for name in found}
    assert read <= published, read - published
    assert any("/tiers/" in name for name in read)


def test_each_tier_is_a_stack_nested_in_the_platform_given_the_account_values():
    """The root runs each tier's template (its path in build/, for `aws cloudformation
    package`) and passes every parameter it declares: the account-wide values, by the root's
    own resources, and the shared launch policies' ARNs."""
    example = load_portfolio(EXAMPLE)
    templates = {path: json.loads(text) for path, text in platform_templates(example).items()}
    root = templates.pop("platform.template.json")
    nested = {k: r for k, r in root["Resources"].items() if r["Type"] == PACKAGED_STACK}
    assert sorted(nested) == sorted(f"{t.logical_id}TierStack" for t in example.tiers)
    for tier in example.tiers:
        stack = nested[f"{tier.logical_id}TierStack"]
        path = stack["Properties"]["TemplateURL"]
        assert path == f"platform/{tier.name}.template.json"
        assert stack["Metadata"] == {"cfn-lint": {"config": {"ignore_checks": ["W3002"]}}}
        body = templates[path]
        passed = stack["Properties"]["Parameters"]
        assert set(passed) == set(body["Parameters"])
        assert passed["NotebookBucket"] == {"Ref": "NotebookBucket"}
        assert passed["NotebookKeyArn"] == {"Fn::GetAtt": ["NotebookKey", "Arn"]}
        assert passed["HubKeyArn"] == {"Fn::GetAtt": ["HubKey", "Arn"]}
        assert passed["HubRepositoryArn"] == {"Fn::GetAtt": ["HubRepository", "Arn"]}
        for name, value in passed.items():
            if name.startswith("Launch"):
                assert root["Resources"][name]["Type"] == "AWS::IAM::ManagedPolicy"
                assert value == {"Ref": name}
        # Everything named after the tier is in its own template, nothing in the root.
        names_in_tier = {r["Properties"].get("RoleName") for r in body["Resources"].values()} - {
            None
        }
        assert names.LAUNCH_ROLE.format(tier=tier.name) in names_in_tier
        assert names.NOTEBOOK_ROLE.format(tier=tier.name) in names_in_tier
    root_roles = sorted(k for k, r in root["Resources"].items() if r["Type"] == "AWS::IAM::Role")
    assert root_roles == ["HomesBackupRole", "HubImageBuildRole", "HubRouteRole"], (
        "the root has the account's own roles (backups, image build, the route functions'); "
        "the tiers' are nested"
    )
    assert len(templates) == len(example.tiers)
