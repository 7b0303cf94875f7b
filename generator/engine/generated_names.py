"""The physical names a build really produces, and the rules they must keep.

Two tiers can be valid on their own and still break a deploy together: `a` and `a-personal` both
make the IAM role `labcatalog-a-personal-hub` (one as its personal hub's role, the other as its
shared hub's). A tier can also claim a platform component: a tier called `codebuild` would own,
through its log group scope `/labcatalog/codebuild/`, the platform's image build logs. These are
found in the generated templates themselves, not in a copy of the naming rules, so a new name in
a template is checked as soon as it exists:

- every physical name (IAM roles, managed policies and instance profiles, log groups, SSM
  parameters and documents, secrets, KMS aliases, ECS names, buckets, ...) is read from every
  template (a product's from its template for each tier);
- no two resources may share a name (IAM names compared without case, as IAM does), and no name
  may be longer than its service allows;
- no tier's name scope (the patterns with `{tier}` in `generator.cfn.names`) may cover a
  platform component, i.e. a name the build makes whatever the tiers are called;
- no TagOption key may use the `labcatalog:` tag keys the stacks and IAM conditions rely on.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

from generator.cfn import names
from generator.engine.build_folder import Artifact
from generator.model.config import Portfolio, Tier
from generator.model.problems import Loc

# Resource type -> (property holding its physical name, what it is, compared without case).
NAMED: dict[str, tuple[str, str, bool]] = {
    "AWS::IAM::Role": ("RoleName", "IAM role", True),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "IAM managed policy", True),
    "AWS::IAM::InstanceProfile": ("InstanceProfileName", "IAM instance profile", True),
    "AWS::Logs::LogGroup": ("LogGroupName", "log group", False),
    "AWS::SSM::Parameter": ("Name", "SSM parameter", False),
    "AWS::SSM::Document": ("Name", "SSM document", False),
    "AWS::SecretsManager::Secret": ("Name", "secret", False),
    "AWS::KMS::Alias": ("AliasName", "KMS alias", False),
    "AWS::ECR::Repository": ("RepositoryName", "ECR repository", False),
    "AWS::CodeBuild::Project": ("Name", "CodeBuild project", False),
    "AWS::ECS::Cluster": ("ClusterName", "ECS cluster", False),
    "AWS::ECS::TaskDefinition": ("Family", "ECS task family", False),
    "AWS::S3::Bucket": ("BucketName", "S3 bucket", False),
    "AWS::CloudWatch::Alarm": ("AlarmName", "CloudWatch alarm", False),
    "AWS::Events::Rule": ("Name", "EventBridge rule", False),
    "AWS::Lambda::Function": ("FunctionName", "Lambda function", False),
}
# The longest name each service accepts.
MAX_LENGTH = {
    "IAM role": 64,
    "IAM managed policy": 128,
    "IAM instance profile": 128,
    "log group": 512,
    "SSM parameter": 1011,
    "SSM document": 128,
    "secret": 512,
    "KMS alias": 256,
    "ECR repository": 256,
    "CodeBuild project": 150,
    "ECS cluster": 255,
    "ECS task family": 255,
    "S3 bucket": 63,
    "CloudWatch alarm": 255,
    "EventBridge rule": 64,
    "Lambda function": 64,
}
# A tier name no portfolio uses: what the build makes without it is a platform component.
PLACEHOLDER_TIER = "zzplaceholderzz"
_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class GeneratedName:
    """One physical name in one template; `tier` is set when a `${Tier}` was filled in."""

    kind: str
    name: str
    template: str
    logical_id: str
    tier: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        ignore_case = next(c for _, k, c in NAMED.values() if k == self.kind)
        return self.kind, self.name.lower() if ignore_case else self.name

    @property
    def fixed_length(self) -> int:
        """Its length without the parts only known at deploy time (`{AWS::StackName}`)."""
        return len(re.sub(r"\{[^}]+\}", "", self.name))


def _text(value) -> str | None:
    """The text of a name: a literal or the template of an `Fn::Sub`; None if it is a Ref."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def _filled(text: str, tier: str | None) -> str:
    """`${Tier}` -> the tier, every other variable -> `{Name}` (unknown until deploy)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "Tier" and tier is not None:
            return tier
        return "{" + match.group(1) + "}"

    return _VARIABLE.sub(replace, text)


def generated_names(artifacts: list[Artifact], tiers: list[str]) -> list[GeneratedName]:
    """Every physical name the templates create; a `${Tier}` name once per tier in `tiers`.

    A product has one template per tier, its tier bound (recorded in its Metadata): a name that
    is the same in every tier's template is one name (made per launch, like one made with
    `${AWS::StackName}`), one that differs is that tier's.
    """
    found = []
    product_names: dict[tuple[str, str, str, str], list[tuple[str, str]]] = defaultdict(list)
    product_tiers: dict[str, int] = defaultdict(int)
    for artifact in artifacts:
        if not artifact.path.endswith(".template.json"):
            continue
        body = json.loads(artifact.text)
        bound = body.get("Metadata", {}).get("labcatalog", {})
        if "tier" in bound:
            product_tiers[bound["product"]] += 1
        for logical_id, resource in sorted(body.get("Resources", {}).items()):
            if resource.get("Type") not in NAMED:
                continue
            prop, kind, _ = NAMED[resource["Type"]]
            text = _text(resource.get("Properties", {}).get(prop))
            if text is None:
                continue
            if "tier" in bound:
                where = (bound["product"], logical_id, kind, _filled(text, None))
                product_names[where].append((artifact.path, bound["tier"]))
                continue
            for tier in tiers if "${Tier}" in text else [None]:
                found.append(
                    GeneratedName(kind, _filled(text, tier), artifact.path, logical_id, tier)
                )
    for (product, logical_id, kind, name), made_in in product_names.items():
        if len(made_in) == product_tiers[product] > 1:
            found.append(GeneratedName(kind, name, made_in[0][0], logical_id))
            continue
        for path, tier in made_in:
            found.append(GeneratedName(kind, name, path, logical_id, tier))
    return found


def tier_scopes() -> list[tuple[str, str]]:
    """(constant, pattern) of every name pattern in `generator.cfn.names` that holds `{tier}`."""
    return sorted(
        (constant, value)
        for constant, value in vars(names).items()
        if constant.isupper() and isinstance(value, str) and "{tier}" in value
    )


def _scope_regex(pattern: str, tier: str) -> re.Pattern[str]:
    """What `pattern` covers for `tier`: other fields and `*` match anything; a pattern ending
    in `/` or `_` (a folder, a name prefix) covers what is under it."""
    parts = re.split(r"(\{tier\}|\{[a-z_]+\}|\*)", pattern)
    regex = "".join(
        re.escape(tier)
        if part == "{tier}"
        else ".+"
        if part.startswith(("{", "*"))
        else re.escape(part)
        for part in parts
        if part
    )
    if pattern.endswith(("/", "_")):
        regex += ".*"
    return re.compile(regex)


def owners(name: str, tiers: list[str]) -> list[str]:
    """The tiers whose name scope covers `name`."""
    return [
        tier
        for tier in tiers
        if any(_scope_regex(pattern, tier).fullmatch(name) for _, pattern in tier_scopes())
    ]


def placeholder_portfolio(portfolio: Portfolio) -> Portfolio:
    """`portfolio` with one tier whose name no real portfolio uses (see `components`)."""
    first = portfolio.tiers[0]
    tier = Tier.model_construct(
        **{**dict(first), "name": PLACEHOLDER_TIER, "shared_writes": {}}  # type: ignore[arg-type]
    )
    return portfolio.model_copy(update={"tiers": [tier]})


def components(artifacts: list[Artifact]) -> list[GeneratedName]:
    """The names of a placeholder build (`placeholder_portfolio`) that owe nothing to a tier."""
    return [
        n for n in generated_names(artifacts, [PLACEHOLDER_TIER]) if PLACEHOLDER_TIER not in n.name
    ]


def name_problems(
    portfolio: Portfolio, artifacts: list[Artifact], placeholder: list[Artifact]
) -> list[tuple[Loc, str]]:
    """Every broken naming rule, located at the tier name (or tag key) to change.

    `artifacts` is the build of `portfolio`; `placeholder` that of `placeholder_portfolio`.
    """
    tiers = [t.name for t in portfolio.tiers]
    where = {name: ("tiers", i, "name") for i, name in reversed(list(enumerate(tiers)))}
    found: list[tuple[Loc, str]] = []
    made = generated_names(artifacts, tiers)

    def blame(name: GeneratedName) -> list[str]:
        return [name.tier] if name.tier else owners(name.name, tiers)

    by_key: dict[tuple[str, str], list[GeneratedName]] = defaultdict(list)
    for name in made:
        by_key[name.key].append(name)
    for same in by_key.values():
        if len(same) < 2:
            continue
        culprits = sorted({t for n in same for t in blame(n)})
        makers = "; ".join(f"{n.template} {n.logical_id}" for n in same)
        quoted = " and ".join(repr(t) for t in culprits) or "these tiers"
        message = (
            f"the {same[0].kind} {same[0].name!r} would be made twice ({makers}), because of "
            f"the tier name{'s' if len(culprits) != 1 else ''} {quoted}; rename one tier"
        )
        for tier in culprits or [None]:
            found.append((where[tier] if tier else ("tiers",), message))

    for name in made:
        limit = MAX_LENGTH[name.kind]
        if name.fixed_length > limit:
            tier = (blame(name) or [None])[0]
            found.append(
                (
                    where[tier] if tier else ("tiers",),
                    f"the {name.kind} {name.name!r} ({name.template} {name.logical_id}) is "
                    f"{name.fixed_length} characters, over the {limit} AWS allows; use a "
                    "shorter tier name",
                )
            )

    claimed: dict[str, list[GeneratedName]] = defaultdict(list)
    for component in components(placeholder):
        for tier in owners(component.name, tiers):
            claimed[tier].append(component)
    for tier, found_names in claimed.items():
        listed = ", ".join(f"{n.kind} {n.name!r}" for n in found_names[:3])
        more = f" and {len(found_names) - 3} more" if len(found_names) > 3 else ""
        found.append(
            (
                where[tier],
                f"tier {tier!r} would claim what the platform itself names ({listed}{more}): "
                "a tier's names and rights cover what starts with its name; rename the tier",
            )
        )

    reserved = f"{names.NAME_PREFIX}:"
    for key in portfolio.tag_options:
        if key.lower().startswith(reserved):
            found.append(
                (
                    ("tag_options", key),
                    f"keys that start with {reserved!r} are labcatalog's own tags (stack, tier, "
                    "owner), which IAM conditions rely on; choose another key",
                )
            )
    return sorted(set(found), key=lambda p: (str(p[0]), p[1]))
