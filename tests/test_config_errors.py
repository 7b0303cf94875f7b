"""Bad input gets a clear error, never a traceback.

Every problem is one line `PATH:LINE:COL: field: what is wrong` (all of them, not only the first),
then a summary line; the exit code is 2 and nothing is written to the output folder. Each case
below is one visible mistake made in the valid example portfolio.yaml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main

EXAMPLE = (Path(__file__).parent.parent / "portfolio.yaml").read_text(encoding="utf-8")
NAME = "portfolio.yaml"  # the relative path passed with -p, so the one every line starts with


def edit(old: str, new: str, *more: str) -> str:
    """The example with `old` replaced by `new` (first occurrence), then each further pair."""
    text = EXAMPLE
    pairs = [(old, new), *zip(more[::2], more[1::2], strict=True)]
    for before, after in pairs:
        assert before in text, f"{before!r} is not in the example; update this test"
        text = text.replace(before, after, 1)
    return text


def summary(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} found; nothing was written"


TIERS_BLOCK = EXAMPLE[EXAMPLE.index("tiers:") : EXAMPLE.index("products:")]

CASES = [
    pytest.param(
        edit("read: [pii/]", "read: [pii/"),
        [
            "portfolio.yaml:19:10: (yaml): expected ',' or ']', but got ':' "
            "(while parsing a flow sequence at line 18, column 11)"
        ],
        id="yaml-unclosed-bracket",
    ),
    pytest.param(
        edit("  bucket: example-datalake", "\tbucket: example-datalake"),
        ["portfolio.yaml:11:1: (yaml): found character '\\t' that cannot start any token"],
        id="yaml-tab-indent",
    ),
    pytest.param(
        edit("  kms_key_arn: null\n", "  kms_key_arn: null\n  bucket: other-lake\n"),
        [
            "portfolio.yaml:13:3: data_lake.bucket: duplicate key (first defined on line 11); "
            "keep only one"
        ],
        id="duplicate-key",
    ),
    pytest.param(
        edit("version: 1.4.0", "version: 2024-13-45"),
        [
            "portfolio.yaml:36:14: products.shared-hub.version: '2024-13-45' cannot be read as "
            "timestamp (month must be in 1..12); quote it if it is text",
        ],
        id="yaml-impossible-date",
    ),
    pytest.param(
        edit("keep_versions: 3", "keep_versions: !Ref KeepVersions"),
        [
            "portfolio.yaml:38:20: products.shared-hub.keep_versions: "
            "YAML tag '!Ref' is not supported here; write a plain value",
        ],
        id="yaml-cloudformation-tag",
    ),
    pytest.param(
        None,
        ["portfolio.yaml:1:1: (file): no such file; create it or pass -p PATH"],
        id="missing-file",
    ),
    pytest.param(
        "",
        ["portfolio.yaml:1:1: (file): the file is empty; start it with: schema: labcatalog/v2"],
        id="empty-file",
    ),
    pytest.param(
        "- pii\n- nonpii\n",
        [
            "portfolio.yaml:1:1: (file): the file must be a mapping that starts with: "
            "schema: labcatalog/v2"
        ],
        id="list-not-mapping",
    ),
    pytest.param(
        edit("schema: labcatalog/v2", "schema: labcatalog/v3"),
        [
            "portfolio.yaml:4:9: schema: unsupported schema 'labcatalog/v3'; "
            "this version of labcatalog reads 'labcatalog/v2'"
        ],
        id="schema-wrong",
    ),
    pytest.param(
        edit("schema: labcatalog/v2\n", ""),
        [
            "portfolio.yaml:1:1: schema: missing required field; "
            "start the file with: schema: labcatalog/v2"
        ],
        id="schema-missing",
    ),
    pytest.param(
        edit("  bucket: example-datalake\n", ""),
        ["portfolio.yaml:10:1: data_lake.bucket: missing required field"],
        id="required-field-missing",
    ),
    pytest.param(
        EXAMPLE + "owner: me\n",
        [
            "portfolio.yaml:64:1: owner: unknown field 'owner'; allowed here: data_lake, "
            "notebooks, platform, portfolio, products, schema, tag_options, tiers"
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        edit("  kms_key_arn: null\n", "  kms_key_arn: null\n  region: eu-west-1\n"),
        [
            "portfolio.yaml:13:3: data_lake.region: unknown field 'region'; "
            "allowed here: bucket, kms_key_arn"
        ],
        id="unknown-nested-key",
    ),
    pytest.param(
        edit("    write: [pii/scratch/]", "    writes: [pii/scratch/]"),
        [
            "portfolio.yaml:19:5: tiers[0].writes: unknown field 'writes'; "
            "allowed here: admin_group, audit, description, identity_group, name, network, "
            "principals, read, shared_writes, write"
        ],
        id="unknown-tier-key",
    ),
    pytest.param(
        edit("  personal-hub:\n", "  personal_hub:\n"),
        [
            "portfolio.yaml:39:3: products.personal_hub: unknown field 'personal_hub'; "
            "allowed here: personal-hub, shared-hub"
        ],
        id="unknown-product",
    ),
    pytest.param(
        edit("noncurrent_version_days: 30", "noncurrent_version_days: thirty"),
        ["portfolio.yaml:14:28: notebooks.noncurrent_version_days: must be a whole number"],
        id="text-for-number",
    ),
    pytest.param(
        edit("keep_versions: 3", "keep_versions: true"),
        ["portfolio.yaml:38:20: products.shared-hub.keep_versions: must be a whole number"],
        id="boolean-for-number",
    ),
    pytest.param(
        edit("keep_versions: 3", "keep_versions: '3'"),
        [
            "portfolio.yaml:38:20: products.shared-hub.keep_versions: must be a whole number; "
            "write it without quotes"
        ],
        id="quoted-number",
    ),
    pytest.param(
        edit("version: 1.4.0", "version: 1.0"),
        [
            "portfolio.yaml:36:14: products.shared-hub.version: "
            "must be text; quote it in YAML: '1.0'"
        ],
        id="number-for-text-version",
    ),
    pytest.param(
        edit("  name: Data Science", "  name: 42"),
        ["portfolio.yaml:6:9: portfolio.name: must be text; quote it in YAML: '42'"],
        id="number-for-text-name",
    ),
    pytest.param(
        edit("read: [pii/]", "read: pii/"),
        ["portfolio.yaml:18:11: tiers[0].read: must be a list, e.g. [a, b]"],
        id="scalar-for-list",
    ),
    pytest.param(
        edit("  - name: nonpii\n", "  - nonpii\n  - name: nonpii\n"),
        ["portfolio.yaml:24:5: tiers[1]: must be a mapping of keys to values"],
        id="scalar-for-tier",
    ),
    pytest.param(
        edit(TIERS_BLOCK, "tiers: []\n"),
        ["portfolio.yaml:15:8: tiers: must not be empty"],
        id="tiers-empty",
    ),
    pytest.param(
        edit("bucket: example-datalake", "bucket: Example_DataLake"),
        [
            "portfolio.yaml:11:11: data_lake.bucket: not a valid S3 bucket name: 3-63 lowercase "
            "letters, digits, '.' or '-', starting and ending with a letter or digit"
        ],
        id="bucket-name",
    ),
    pytest.param(
        edit("kms_key_arn: null", "kms_key_arn: alias/datalake"),
        [
            "portfolio.yaml:12:16: data_lake.kms_key_arn: must be a KMS key ARN: "
            "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"
        ],
        id="kms-alias-not-arn",
    ),
    pytest.param(
        edit("support_email: data-platform@example.com", "support_email: data-platform"),
        [
            "portfolio.yaml:9:18: portfolio.support_email: "
            "must be an email address such as team@example.com"
        ],
        id="email",
    ),
    pytest.param(
        edit("- name: pii\n", "- name: PII\n"),
        [
            "portfolio.yaml:16:11: tiers[0].name: tier name must be 2-20 characters: "
            "a lowercase letter, then lowercase letters, digits and single '-' between them"
        ],
        id="tier-name",
    ),
    pytest.param(
        edit("- name: pii\n", "- name: pii-\n"),
        [
            "portfolio.yaml:16:11: tiers[0].name: tier name must be 2-20 characters: "
            "a lowercase letter, then lowercase letters, digits and single '-' between them"
        ],
        id="tier-name-trailing-hyphen",
    ),
    pytest.param(
        edit("- name: nonpii\n", "- name: pii\n"),
        ["portfolio.yaml:24:11: tiers[1].name: tier 'pii' is already defined as tiers[0]"],
        id="tier-name-duplicate",
    ),
    pytest.param(
        edit("- name: pii\n", "- name: a-1\n", "- name: nonpii\n", "- name: a1\n"),
        [
            "portfolio.yaml:24:11: tiers[1].name: tier 'a1' and tier 'a-1' give the same "
            "CloudFormation name 'A1'; rename one"
        ],
        id="tier-names-same-cloudformation-id",
    ),
    pytest.param(
        edit("read: [pii/]", "read: [pii]"),
        [
            "portfolio.yaml:18:12: tiers[0].read[0]: prefix must end with '/' and not start "
            "with one: write 'pii/'"
        ],
        id="prefix-without-trailing-slash",
    ),
    pytest.param(
        edit("read: [pii/]", "read: [/pii/]"),
        [
            "portfolio.yaml:18:12: tiers[0].read[0]: prefix must end with '/' and not start "
            "with one: write 'pii/'"
        ],
        id="prefix-with-leading-slash",
    ),
    pytest.param(
        edit("read: [pii/]", "read: [pii/*]"),
        [
            "portfolio.yaml:18:12: tiers[0].read[0]: prefix must not contain wildcards "
            "('*' or '?'); a prefix covers its subfolders"
        ],
        id="prefix-wildcard",
    ),
    pytest.param(
        edit("read: [pii/]", "read: ['']"),
        [
            "portfolio.yaml:18:12: tiers[0].read[0]: the whole bucket is not a prefix; "
            "name a folder such as 'pii/'"
        ],
        id="prefix-whole-bucket",
    ),
    pytest.param(
        edit("read: [pii/]", "read: [pii/../]"),
        [
            "portfolio.yaml:18:12: tiers[0].read[0]: prefix must not contain empty, "
            "'.' or '..' folders"
        ],
        id="prefix-dot-dot",
    ),
    pytest.param(
        edit("read: [nonpii/, reference/]", "read: [nonpii/, reference/, nonpii/]"),
        ["portfolio.yaml:26:33: tiers[1].read[2]: 'nonpii/' is listed twice"],
        id="prefix-listed-twice",
    ),
    pytest.param(
        edit("write: [pii/scratch/]", "write: [scratch/]"),
        [
            "portfolio.yaml:19:13: tiers[0].write[0]: write prefix 'scratch/' is not under any "
            "of this tier's read prefixes ['pii/']; add it (or a parent) to read"
        ],
        id="write-not-under-read",
    ),
    pytest.param(
        edit("read: [pii/]", "read: [pii/, reference/maps/]"),
        [
            "portfolio.yaml:26:21: tiers[1].read[1]: 'reference/' contains 'reference/maps/', "
            "which tier 'pii' reads, so tier 'nonpii' would read that tier's data; narrow it, "
            "or name the same prefix in both tiers to share it"
        ],
        id="read-ancestor-of-other-tier",
    ),
    pytest.param(
        edit("principals: [role/DataScientistsPII]", "principals: [DataScientistsPII]"),
        [
            "portfolio.yaml:20:18: tiers[0].principals[0]: principal must be role/NAME, "
            "group/NAME, user/NAME or an IAM ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ],
        id="principal",
    ),
    pytest.param(
        edit("version: 1.4.0", "version: v1"),
        [
            "portfolio.yaml:36:14: products.shared-hub.version: version must be a semantic "
            "version such as 1.0.0 (quote it in YAML)"
        ],
        id="version-not-semver",
    ),
    pytest.param(
        edit("keep_versions: 3", "keep_versions: 0"),
        ["portfolio.yaml:38:20: products.shared-hub.keep_versions: must be at least 1"],
        id="keep-versions-zero",
    ),
    pytest.param(
        edit("cost-center: [ds-research, ds-analytics]", "cost-center: []"),
        ["portfolio.yaml:48:16: tag_options.cost-center: list at least one allowed value"],
        id="tag-option-without-values",
    ),
    pytest.param(
        edit(
            "self_service_actions: [start, stop, resize]", "self_service_actions: [start, reboot]"
        ),
        [
            "portfolio.yaml:46:35: products.personal-hub.self_service_actions[1]: 'reboot' is "
            "not one of 'start', 'stop' or 'resize'"
        ],
        id="unknown-self-service-action",
    ),
    pytest.param(
        edit("self_service_actions: [start, stop, resize]", "self_service_actions: [stop, stop]"),
        [
            "portfolio.yaml:46:27: products.personal-hub.self_service_actions: "
            "'stop' is listed twice"
        ],
        id="self-service-action-twice",
    ),
    pytest.param(
        edit("    version: 1.4.0\n", "    version: 1.4.0\n    self_service_actions: [stop]\n"),
        [
            "portfolio.yaml:37:5: products.shared-hub.self_service_actions: unknown field "
            "'self_service_actions'; allowed here: description, keep_versions, name, owner, "
            "version, version_description"
        ],
        id="self-service-actions-only-on-personal-hub",
    ),
    # A file in the previous format: one problem, at its schema line, saying what to add.
    pytest.param(
        edit("schema: labcatalog/v2", "schema: labcatalog/v1"),
        [
            "portfolio.yaml:4:9: schema: 'labcatalog/v1' is an earlier format; labcatalog/v2 "
            "adds the platform's own settings, which the products no longer ask for at launch: "
            "write 'schema: labcatalog/v2' here, add a 'platform:' section (network: vpc_id, "
            "server_subnets, load_balancer_subnets; identity: oidc or ldap; dns: "
            "hosted_zone_id, certificate_arn, hub_host_name) and give each tier its "
            "identity_group and admin_group; see "
            "README.md#platform-settings-you-fill-in-once"
        ],
        id="schema-v1",
    ),
    pytest.param(
        edit("    identity_group: data-scientists-pii\n", ""),
        ["portfolio.yaml:16:5: tiers[0].identity_group: missing required field"],
        id="tier-without-identity-group",
    ),
    pytest.param(
        edit(
            "    server_subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]",
            "    server_subnets: [subnet-0a1b2c3d4e5f60001]",
        ),
        ["portfolio.yaml:53:21: platform.network.server_subnets: must not be empty"],
        id="one-server-subnet",
    ),
    pytest.param(
        edit(
            "  identity:\n",
            "  identity:\n    ldap: {url: 'ldaps://ad.example.com', bind_dn_template: x}\n",
        ),
        [
            "portfolio.yaml:56:5: platform.identity: set exactly one of oidc (issuer_url, "
            "client_id, client_secret_name) and ldap (url, bind_dn_template)"
        ],
        id="two-identity-providers",
    ),
    pytest.param(
        edit("client_secret_name: labcatalog/{tier}/", "client_secret_name: other/{tier}/"),
        [
            "portfolio.yaml:59:27: platform.identity.oidc.client_secret_name: must be a "
            "Secrets Manager secret name under the tier's path, with {tier} where the tier's "
            "name goes, e.g. labcatalog/{tier}/personal-hub/oidc-client-secret"
        ],
        id="secret-outside-the-tier-path",
    ),
    pytest.param(
        edit('hub_host_name: "{hub}.{tier}', 'hub_host_name: "{tier}.{hub}'),
        [
            "portfolio.yaml:63:20: platform.dns.hub_host_name: must be {hub}, a '.', then a "
            "lowercase DNS name with {tier} as one of its labels, e.g. "
            "{hub}.{tier}.jupyter.example.com (the hub's and the tier's names each a label of "
            "their own, so no two tiers' host names can be the same)"
        ],
        id="host-name-pattern-not-starting-with-the-hub",
    ),
    pytest.param(
        edit('hub_host_name: "{hub}.{tier}.jupyter', 'hub_host_name: "{hub}.jupyter-{tier}'),
        [
            "portfolio.yaml:63:20: platform.dns.hub_host_name: must be {hub}, a '.', then a "
            "lowercase DNS name with {tier} as one of its labels, e.g. "
            "{hub}.{tier}.jupyter.example.com (the hub's and the tier's names each a label of "
            "their own, so no two tiers' host names can be the same)"
        ],
        id="host-name-pattern-with-the-tier-inside-a-label",
    ),
    pytest.param(
        edit(
            "    identity_group: data-scientists\n",
            "    identity_group: data-scientists\n    network:\n"
            "      vpc_id: vpc-0123456789abcdef0\n"
            "      server_subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n"
            "      load_balancer_subnets: [subnet-0a1b2c3d4e5f60003, subnet-0a1b2c3d4e5f60004]\n",
        ),
        [
            "portfolio.yaml:30:5: tiers[1].network.load_balancer: tier 'nonpii' has a network "
            "of its own, but the account's load balancer is in the platform's network; set "
            "per_hub: true (a load balancer per hub) or an existing_listener here"
        ],
        id="tier-network-on-the-account-load-balancer",
    ),
    pytest.param(
        edit("  dns:\n", "  owner:\n    principal_pattern: 'assumed-role/(.*)'\n  dns:\n"),
        [
            "portfolio.yaml:61:24: platform.owner.principal_pattern: the expression must name "
            "the user name's group: (?P<user>...)"
        ],
        id="owner-rule-without-user-group",
    ),
    pytest.param(
        edit(
            "  identity:\n",
            "    load_balancer:\n      scheme: public\n      allowed_cidr: 10.0.0.0\n"
            "      existing_listener: {arn: 'arn:aws:elasticloadbalancing:eu-west-1:"
            "123456789012:listener/app/hubs/1/2', dns_name: hubs.elb.amazonaws.com, "
            "hosted_zone_id: Z35SXDOTRQ7X7K}\n  identity:\n",
        ),
        [
            "portfolio.yaml:56:15: platform.network.load_balancer.scheme: 'public' is not one "
            "of 'internal' or 'internet-facing'",
            "portfolio.yaml:57:21: platform.network.load_balancer.allowed_cidr: must be an "
            "IPv4 CIDR such as 10.0.0.0/8",
            "portfolio.yaml:58:7: platform.network.load_balancer.existing_listener."
            "security_group: missing required field",
        ],
        id="load-balancer-settings",
    ),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def write_portfolio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write the text (None: no file at all) as ./portfolio.yaml in a fresh working folder."""
    monkeypatch.chdir(tmp_path)

    def write(text: str | None) -> None:
        if text is not None:
            (tmp_path / NAME).write_text(text, encoding="utf-8")

    return write


def assert_reported(result, expected: list[str]) -> None:
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.output
    assert not any("Traceback" in line for line in lines), result.stderr
    assert result.stdout == ""
    assert lines == [*expected, summary(len(expected))]


def test_cases_are_distinct():
    assert len(CASES) >= 20
    assert len({case.values[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case,expected", CASES)
def test_validate_reports_the_mistake(write_portfolio, case, expected):
    write_portfolio(case)
    result = CliRunner().invoke(main, ["validate", "-p", NAME])
    assert_reported(result, expected)


@pytest.mark.parametrize("case,expected", CASES)
def test_build_reports_the_mistake_and_writes_nothing(write_portfolio, tmp_path, case, expected):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "sentinel.txt").write_text("left alone\n")
    before = snapshot(outdir)
    write_portfolio(case)
    result = CliRunner().invoke(main, ["build", "-p", NAME, "-o", "out"])
    assert_reported(result, expected)
    assert snapshot(outdir) == before


def test_every_mistake_in_a_file_is_reported(write_portfolio):
    write_portfolio(
        edit(
            "  kms_key_arn: null\n",
            "  kms_key_arn: null\n  bucket: other-lake\n",
            "support_email: data-platform@example.com",
            "support_email: data-platform",
            "- name: pii\n",
            "- name: PII\n",
            "read: [nonpii/, reference/]",
            "read: [nonpii/, reference]",
            "keep_versions: 3",
            "keep_versions: 0",
            "tag_options:",
            "tag_option:",
        )
    )
    result = CliRunner().invoke(main, ["validate", "-p", NAME])
    assert result.exit_code == 2
    problems = result.stderr.splitlines()[:-1]
    assert [line.split(": ")[1] for line in problems] == [
        "portfolio.support_email",
        "data_lake.bucket",
        "tiers[0].name",
        "tiers[1].read[1]",
        "products.shared-hub.keep_versions",
        "tag_option",
    ]
    assert all(line.startswith(f"{NAME}:") for line in problems)
    assert result.stderr.splitlines()[-1] == summary(6)


def test_installed_command_reports_without_traceback(write_portfolio):
    write_portfolio(edit("bucket: example-datalake", "bucket: Example_DataLake"))
    command = Path(sys.executable).parent / "labcatalog"
    result = subprocess.run(
        [str(command), "validate", "-p", NAME], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("portfolio.yaml:11:11: data_lake.bucket: not a valid S3 bucket")
    assert result.stderr.endswith(summary(1) + "\n")


def test_control_character_is_reported(write_portfolio):
    write_portfolio(edit("  name: Data Science", "  name: Data\x07Science"))
    result = CliRunner().invoke(main, ["validate", "-p", NAME])
    assert result.exit_code == 2
    assert result.stderr.startswith("portfolio.yaml:6:")


def test_a_folder_given_as_portfolio_is_reported_in_the_same_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "portfolio.yaml").mkdir()
    result = CliRunner().invoke(main, ["validate", "-p", "portfolio.yaml"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "portfolio.yaml:1:1: (file): is a directory; pass the portfolio file"
    )


def test_a_type_error_does_not_hide_a_rule_between_tiers(write_portfolio):
    write_portfolio(
        edit(
            "read: [pii/]", "read: [pii/, reference/maps/]", "keep_versions: 3", "keep_versions: x"
        )
    )
    result = CliRunner().invoke(main, ["validate", "-p", NAME])
    assert_reported(
        result,
        [
            "portfolio.yaml:26:21: tiers[1].read[1]: 'reference/' contains 'reference/maps/', "
            "which tier 'pii' reads, so tier 'nonpii' would read that tier's data; narrow it, "
            "or name the same prefix in both tiers to share it",
            "portfolio.yaml:38:20: products.shared-hub.keep_versions: must be a whole number",
        ],
    )
