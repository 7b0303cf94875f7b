"""Property: every portfolio that validates also builds, lints clean and has unique names.

hypothesis generates portfolios from a small vocabulary chosen to provoke the refusals of issue
19 (tier names that make the same IAM names or claim platform components, prefixes that let data
flow between tiers, partitions, bucket names, TagOptions). Each one either is refused with
located problems (never a traceback) or builds; the built templates are checked for unique
physical names by a reader written here, apart from the code under test, and a sample of them
is linted with cfn-lint. Bounded (few examples, no deadline) so that the default tox stays quick.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.engine.checked import load_checked
from generator.model.problems import InputError
from tests.conftest import EXAMPLE

BASE = yaml.safe_load(EXAMPLE.read_text())
# Repeated entries make the harmless choices likelier, so that about half the portfolios are valid.
TOKENS = ["ab", "pii", "hub", "personal", "launch", "codebuild", "platform", "x1", "tiers", "a"]
PREFIXES = ["pii/", "pii/out/", "shared/", "shared/in/", "x/", "x/y/"]
PRINCIPALS = [
    *["role/Analysts", "group/Leads", "arn:aws:iam::123456789012:role/A"] * 3,
    "arn:aws-cn:iam::123456789012:role/B",
]
BUCKETS = [*["example-datalake", "lake.example"] * 4, "xn--lake", "lake--ol-s3", "my..lake", "ab"]
TAG_KEYS = [*["cost-center", "team"] * 3, "aws:cost", "labcatalog:tier"]
# Each a physical name: checked unique within its resource type (IAM names without case).
NAME_PROPERTIES = {
    "RoleName",
    "ManagedPolicyName",
    "InstanceProfileName",
    "LogGroupName",
    "Name",
    "AliasName",
    "RepositoryName",
    "ClusterName",
    "Family",
    "BucketName",
}
LINT_SAMPLE = 2

tier_names = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=2).map("-".join)


@st.composite
def tiers(draw):
    names = draw(st.lists(tier_names, min_size=1, max_size=3, unique=True))
    names = [name for name in names if len(name) > 1] or ["pii"]
    made = []
    for name in names:
        own = f"{name.replace('-', '')}/"
        read = draw(
            st.lists(st.sampled_from([own, *PREFIXES]), min_size=1, max_size=2, unique=True)
        )
        write = draw(
            st.lists(
                st.sampled_from(read + [p for p in PREFIXES if p not in read]),
                max_size=1,
                unique=True,
            )
        )
        tier = {
            "name": name,
            "description": f"Tier {name}",
            "read": read,
            "write": write,
            "principals": draw(
                st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=2, unique=True)
            ),
            "identity_group": f"ds-{name}",
            "admin_group": "ds-admins",
        }
        if write and draw(st.booleans()):
            tier["shared_writes"] = {write[0]: [n for n in names if n != name][:1]}
        made.append(tier)
    return made


@st.composite
def portfolios(draw) -> dict:
    data = json.loads(json.dumps(BASE))
    data["tiers"] = draw(tiers())
    data["data_lake"]["bucket"] = draw(st.sampled_from(BUCKETS))
    data["tag_options"] = draw(
        st.dictionaries(
            st.sampled_from(TAG_KEYS),
            st.lists(
                st.sampled_from([f"v{i}" for i in range(20)]), min_size=1, max_size=15, unique=True
            ),
            max_size=2,
        )
    )
    return data


def physical_names(texts: dict[str, str], tiers: list[str]) -> Counter:
    """(resource type, name) of every physical name, a `${Tier}` once per tier; a product's
    templates (one per tier, its tier bound) together, so a name that is the same in each
    tier's template (made per launch) counts once."""
    found: Counter = Counter()
    per_product: dict[str, set] = {}
    for text in texts.values():
        body = json.loads(text)
        bound = body.get("Metadata", {}).get("labcatalog", {})
        names_here: Counter = Counter()
        for resource in body.get("Resources", {}).values():
            kind = resource["Type"]
            for prop, value in resource.get("Properties", {}).items():
                if prop not in NAME_PROPERTIES:
                    continue
                if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
                    value = value["Fn::Sub"]
                if not isinstance(value, str):
                    continue
                for tier in tiers if "${Tier}" in value else [""]:
                    name = value.replace("${Tier}", tier)
                    names_here[(kind, name.lower() if kind.startswith("AWS::IAM::") else name)] += 1
        if "tier" not in bound:
            found += names_here
            continue
        seen = per_product.setdefault(bound["product"], set())
        found += Counter({name: count for name, count in names_here.items() if name not in seen})
        seen |= set(names_here)
    return found


def cfn_lint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    cfn = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run(
        [str(cfn), "--non-zero-exit-code", "informational", "--", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_portfolio_that_validates_builds_lints_clean_and_has_unique_names(tmp_path):
    seen = Counter()

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(portfolios())
    def check(data):
        path = tmp_path / "portfolio.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        try:
            portfolio, artifacts = load_checked(path)
        except InputError as err:
            assert err.problems
            for problem in err.problems:
                assert problem.path == str(path) and problem.line >= 1 and problem.column >= 1
            seen["refused"] += 1
            return
        seen["valid"] += 1
        texts = {a.path: a.text for a in artifacts if a.path.endswith(".template.json")}
        names = physical_names(texts, [t.name for t in portfolio.tiers])
        assert [n for n, count in names.items() if count > 1] == []
        if seen["linted"] < LINT_SAMPLE:
            folder = Path(tempfile.mkdtemp(dir=tmp_path, prefix="lint"))
            for name, text in texts.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(text)
            linted = cfn_lint(sorted(folder.rglob("*.template.json")))
            assert linted.returncode == 0, linted.stdout + linted.stderr
            seen["linted"] += 1

    check()
    # Both outcomes happen, so the property is not vacuous.
    assert seen["valid"] >= 2 and seen["refused"] >= 2, seen
    assert seen["linted"] >= 1
