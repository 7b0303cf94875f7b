"""The publisher's steps, in the order the `plan` and `publish` verbs run them."""

from __future__ import annotations

from pathlib import Path

import botocore.exceptions

from generator.cfn import names
from generator.engine import build as builder
from generator.engine.build_folder import Build
from generator.engine.publish import images
from generator.engine.publish.aws import Clients, caller, template_url
from generator.engine.publish.desired import desired_state, read_templates
from generator.engine.publish.plan import Plan, diff
from generator.engine.publish.state import CatalogState, read_state
from generator.engine.rollout import inventory
from generator.model.config import Portfolio
from generator.model.problems import UserError

BUCKET_PARAMETER = names.TEMPLATE_BUCKET_PARAMETER


def require_current_build(portfolio: Portfolio, portfolio_path: Path, outdir: Path) -> Build:
    """The build to publish, generated in memory; refused if `outdir` differs from it (what
    `build --check` says), so what is published is what was reviewed."""
    return builder.require_current(
        portfolio,
        portfolio_path,
        outdir,
        "what would be published is not what was reviewed",
        ", review and commit the diff, then plan and publish again",
    )


def template_bucket(clients: Clients, bucket: str | None) -> str:
    """`--bucket`, or the one the platform stack recorded in SSM."""
    if bucket:
        return bucket
    try:
        return clients.ssm.get_parameter(Name=BUCKET_PARAMETER)["Parameter"]["Value"]
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] != "ParameterNotFound":
            raise
    raise UserError(
        f"no template bucket: SSM parameter {BUCKET_PARAMETER} does not exist in "
        f"{clients.region}; deploy the platform stack there first (its TemplateBucketName "
        "output names the bucket), or pass --bucket"
    )


def make_plan(
    portfolio: Portfolio, build: Build, clients: Clients, bucket: str | None = None
) -> tuple[Plan, CatalogState]:
    """Read the catalog; return what publish would do for `build` and the state it starts from."""
    templates, skipped = read_templates(portfolio, build)
    who = caller(clients)
    desired = desired_state(portfolio, templates, who, skipped)
    bucket = template_bucket(clients, bucket)
    state = read_state(clients, desired, bucket)
    plan = diff(desired, state, bucket, lambda t: template_url(clients, bucket, t.key))
    launched = set()
    if state.products:  # nothing is launched of products not yet published
        launched = {(x.identity, x.version) for x in inventory(clients, state).launched}
    images.protect(plan, state, clients, bucket, launched)
    return plan, state
