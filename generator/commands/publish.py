"""`labcatalog publish`: make Service Catalog match portfolio.yaml and build/."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.commands.aws_failures import reported_aws_failures
from generator.commands.publish_options import planned, publish_options
from generator.engine.publish import table
from generator.engine.publish.apply import apply
from generator.model.problems import UserError


@click.command()
@publish_options
@click.option("-y", "--yes", is_flag=True, help="Publish without asking (for CI).")
def publish(
    portfolio_path: Path,
    outdir: Path,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    bucket: str | None,
    yes: bool,
) -> None:
    """Upload the templates of build/ and register portfolios, products and versions.

    Shows the plan, asks before changing anything (unless --yes), prints each step, then the
    table of what it did. Safe to run again at any time: with nothing changed it makes no
    changes, and after an interruption it continues where it stopped.
    """
    the_plan, state, clients = planned(
        "publish", portfolio_path, outdir, region, profile, endpoint_url, bucket
    )
    changes = the_plan.changes
    if not changes:
        click.echo(table.render(the_plan.rows(), done=True))
        click.echo("nothing to publish: Service Catalog already matches build/")
        return
    if not yes:
        click.echo(table.render(the_plan.rows()))
        if not sys.stdin.isatty():
            raise UserError(
                "publish asks before it changes anything, but there is no terminal to ask on; "
                "review the plan above and pass --yes (e.g. in CI)"
            )
        click.confirm(f"apply these {len(changes)} changes?", abort=True)

    def progress(number: int, total: int, action) -> None:
        row = action.rows()[0]
        click.echo(f"[{number}/{total}] {row.change} {row.resource} {row.subject}", err=True)

    with reported_aws_failures(
        "publish stopped part-way; nothing it did needs undoing: run it again and it "
        "continues from where it stopped"
    ):
        apply(the_plan, clients, state, progress)
    click.echo(table.render(the_plan.rows(), done=True))
