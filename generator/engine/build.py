"""Turn a validated portfolio into the files of `build/`, deterministically and all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from troposphere import Template

from generator.engine import build_folder
from generator.engine.build_folder import Artifact, Build
from generator.engine.registry import Registry, discover
from generator.model.config import Portfolio
from generator.model.problems import UserError

# CloudFormation's quotas for one template (uploaded through S3).
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_BYTES = 1_000_000
# IAM's quotas, counted without whitespace: all inline policies of one role; one managed policy.
MAX_ROLE_INLINE_POLICY_CHARS = 10_240
MAX_MANAGED_POLICY_CHARS = 6_144
# The template Metadata key under which the build records a product's key and version.
METADATA_KEY = "labcatalog"


@dataclass(frozen=True)
class Stack:
    """A template that the build produces: where it goes, the pure function that makes it, its
    key (`platform` or the product's key in portfolio.yaml) and, for a product, its version."""

    path: str
    build: Callable[[Portfolio], Template]
    key: str
    version: str | None = None


def stacks(portfolio: Portfolio, registry: Registry | None = None) -> list[Stack]:
    """Every template this portfolio produces: the platform and each configured product.

    The one place a template's path in build/ is made: `<key>.template.json`, the same for every
    version, so a version bump shows in review as a diff of one file.
    """
    registry = registry or discover()
    found = [Stack("platform.template.json", registry.build_platform, "platform")]
    for product, entry in registry.configured(portfolio):
        found.append(
            Stack(f"{product.key}.template.json", product.build, product.key, entry.version)
        )
    return found


def stamp(template: Template, stack: Stack) -> Template:
    """Record a product's key and version in its template's Metadata (key `labcatalog`), so the
    version shows in the template itself, whose path does not change between versions."""
    if stack.version is not None:
        template.metadata[METADATA_KEY] = {"product": stack.key, "version": stack.version}
    return template


def render(template: Template) -> str:
    """Template JSON, byte-identical for identical input (sorted keys, no timestamps)."""
    return template.to_json(indent=1, sort_keys=True) + "\n"


def check_limits(path: str, template: Template, text: str) -> list[str]:
    """What in this template would break a CloudFormation or IAM quota."""
    found = []
    counts = {
        "resources": (len(template.resources), MAX_RESOURCES),
        "parameters": (len(template.parameters), MAX_PARAMETERS),
        "outputs": (len(template.outputs), MAX_OUTPUTS),
    }
    for what, (count, limit) in counts.items():
        if count > limit:
            found.append(f"{path}: {count} {what}, over CloudFormation's limit of {limit}")
    if len(text.encode()) > MAX_BODY_BYTES:
        found.append(
            f"{path}: {len(text.encode())} bytes, over CloudFormation's limit of {MAX_BODY_BYTES}"
        )
    body = json.loads(text)
    for logical_id, resource in body.get("Resources", {}).items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(json.dumps(resource["Properties"]["PolicyDocument"], separators=(",", ":")))
            if size > MAX_MANAGED_POLICY_CHARS:
                found.append(
                    f"{path}: managed policy {logical_id} has {size} characters, over IAM's "
                    f"limit of {MAX_MANAGED_POLICY_CHARS}"
                )
        if resource["Type"] != "AWS::IAM::Role":
            continue
        policies = resource["Properties"].get("Policies", [])
        size = sum(len(json.dumps(p["PolicyDocument"], separators=(",", ":"))) for p in policies)
        if size > MAX_ROLE_INLINE_POLICY_CHARS:
            found.append(
                f"{path}: role {logical_id} has {size} characters of inline policy, over IAM's "
                f"limit of {MAX_ROLE_INLINE_POLICY_CHARS}; give its tier fewer prefixes"
            )
    return found


def generate(portfolio: Portfolio, registry: Registry | None = None) -> list[Artifact]:
    """Every file of the build, in memory, the manifest last; raise `UserError` if a template
    breaks a quota."""
    templates = []
    problems = []
    for stack in stacks(portfolio, registry):
        try:
            template = stamp(stack.build(portfolio), stack)
        except ValueError as err:
            # troposphere refuses a template past CloudFormation's counts as it is built.
            if not str(err).startswith("Maximum"):
                raise
            problems.append(
                f"{stack.path}: {err} (a CloudFormation limit); this portfolio has "
                f"{len(portfolio.tiers)} tiers: use fewer tiers or split the portfolio"
            )
            continue
        text = render(template)
        found = check_limits(stack.path, template, text)
        if found:
            problems += [
                f"{p}; this portfolio has {len(portfolio.tiers)} tiers: use fewer or split it"
                for p in found
            ]
            continue
        templates.append(
            Artifact(stack.path, text, len(template.resources), stack.key, stack.version)
        )
    if problems:
        raise UserError("\n".join(problems))
    return list(Build.of(templates).files)


def require_current(
    portfolio: Portfolio, portfolio_path: Path, outdir: Path, risk: str, then: str = ""
) -> Build:
    """Generate the build in memory and return it if `outdir` holds exactly it; otherwise
    `UserError` naming the missing, differing and stray files (`build_folder.require_current`).

    Publish and cost go on with the build returned, without reading `outdir` again.
    """
    build = Build(tuple(generate(portfolio)))
    return build_folder.require_current(build, portfolio_path, outdir, risk, then)
