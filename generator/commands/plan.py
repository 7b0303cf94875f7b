"""`labcatalog plan`: show what `publish` would change in Service Catalog; change nothing."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.aws_failures import reported_aws_failures
from generator.commands.publish_options import publish_options
from generator.config import load_portfolio
from generator.publish import table
from generator.publish.aws import connect
from generator.publish.publisher import make_plan, require_current_build


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

    Only reads (list and describe calls); exits 0 whatever the plan holds.
    """
    portfolio = load_portfolio(portfolio_path, str(portfolio_path))
    require_current_build(portfolio, portfolio_path, outdir)
    clients = connect(region, profile, endpoint_url)
    with reported_aws_failures("nothing was changed; run plan again when AWS answers"):
        the_plan, _ = make_plan(portfolio, outdir, clients, bucket)
    for note in the_plan.skipped:
        click.echo(f"note: {note}", err=True)
    click.echo(table.render(the_plan.rows()))
