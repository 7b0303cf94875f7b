"""Turn a validated portfolio into the files of `build/`, deterministically and all-or-nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from troposphere import Template

from generator.engine.registry import Registry, discover
from generator.model.config import Portfolio
from generator.model.problems import UserError

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "labcatalog-manifest/v1"

# CloudFormation's quotas for one template (uploaded through S3).
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_BYTES = 1_000_000
# IAM's quotas, counted without whitespace: all inline policies of one role; one managed policy.
MAX_ROLE_INLINE_POLICY_CHARS = 10_240
MAX_MANAGED_POLICY_CHARS = 6_144


@dataclass(frozen=True)
class Artifact:
    """One generated file: its path under the output folder and its exact text."""

    path: str
    text: str
    resources: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def size(self) -> int:
        return len(self.text.encode())


@dataclass(frozen=True)
class Stack:
    """A template that the build produces: where it goes and the pure function that makes it."""

    path: str
    build: Callable[[Portfolio], Template]


def stacks(portfolio: Portfolio, registry: Registry | None = None) -> list[Stack]:
    """Every template this portfolio produces: the platform and each configured product."""
    registry = registry or discover()
    found = [Stack("platform.template.json", registry.build_platform)]
    for product, entry in registry.configured(portfolio):
        found.append(Stack(f"{product.key}/{entry.version}.template.json", product.build))
    return found


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
    """Every file of the build, in memory; raise `UserError` if a template breaks a quota."""
    artifacts = []
    problems = []
    for stack in stacks(portfolio, registry):
        try:
            template = stack.build(portfolio)
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
        artifacts.append(Artifact(stack.path, text, len(template.resources)))
    if problems:
        raise UserError("\n".join(problems))
    artifacts.append(manifest(artifacts))
    return artifacts


def manifest(artifacts: list[Artifact]) -> Artifact:
    """`manifest.json`: each template's sha256, size and resource count."""
    entries = {
        a.path: {"resources": a.resources, "sha256": a.sha256, "size": a.size}
        for a in sorted(artifacts, key=lambda a: a.path)
    }
    text = json.dumps({"schema": MANIFEST_SCHEMA, "templates": entries}, indent=2, sort_keys=True)
    return Artifact(MANIFEST, text + "\n")


def stale(artifacts: list[Artifact], outdir: Path) -> list[str]:
    """Paths under `outdir` that are missing or differ from what the code generates now."""
    found = []
    for artifact in artifacts:
        target = outdir / artifact.path
        try:
            current = target.read_bytes()
        except OSError:
            found.append(f"{artifact.path} (missing)")
            continue
        if current != artifact.text.encode():
            found.append(f"{artifact.path} (differs)")
    return found


def require_current(
    portfolio: Portfolio, portfolio_path: Path, outdir: Path, risk: str, then: str = ""
) -> None:
    """`UserError` naming the stale files if `outdir` differs from what the code generates.

    `risk` says what would go wrong with a stale build; `then` what to do after rebuilding.
    """
    found = stale(generate(portfolio), outdir)
    if found:
        listed = "\n".join(f"  {outdir / path}" for path in found)
        raise UserError(
            f"{outdir} is out of date with {portfolio_path} and the code, so {risk}:\n{listed}\n"
            f"run: labcatalog build -p {portfolio_path} -o {outdir}{then}"
        )


def write(artifacts: list[Artifact], outdir: Path) -> list[Artifact]:
    """Write the files that changed, each atomically; return those written."""
    written = []
    for artifact in artifacts:
        target = outdir / artifact.path
        if target.is_file() and target.read_bytes() == artifact.text.encode():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(artifact.text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(artifact)
    return written
