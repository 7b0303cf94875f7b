"""`labcatalog plan`: show what `publish` would change in Service Catalog; change nothing."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.publish_options import planned, publish_options
from generator.engine.publish import table


@click.command()
@publish_options
def plan(
    portfolio_path: Path,
    outdir: Path,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    bucket: str | None,
) -> None:
    """Print, as a table, what publish would create, update, deprecate or leave unchanged.

    Only reads (list and describe calls). Exits 0 when the plan is made, whatever it holds;
    2 when the portfolio or build/ is wrong or publish would refuse the plan (e.g. a template
    changed without a version bump); 1 when AWS cannot be reached or answers with an error.
    """
    the_plan, _, _ = planned("plan", portfolio_path, outdir, region, profile, endpoint_url, bucket)
    click.echo(table.render(the_plan.rows()))
