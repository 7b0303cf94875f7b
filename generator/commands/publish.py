"""`labcatalog publish`: make Service Catalog match portfolio.yaml and build/."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.commands.aws_failures import reported_aws_failures
from generator.commands.publish_options import planned, publish_options
from generator.engine.publish import table
from generator.engine.publish.actions import Change
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

    Exits 0 when Service Catalog matches build/; 2 when the portfolio or build/ is wrong, a rule
    is broken (e.g. a template changed without a version bump) or there is no terminal to ask
    on without --yes; 1 when AWS fails part-way (run it again to continue).
    """
    the_plan, state, clients = planned(
        "publish", portfolio_path, outdir, region, profile, endpoint_url, bucket
    )
    changes = the_plan.changes
    # One step per row of the plan's table (an action may show as several rows, e.g. a new
    # product and its first version), so the counter ends at the count the table reports.
    steps = len([row for row in the_plan.rows() if row.change != Change.UNCHANGED])
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
        click.confirm(f"apply these {steps} changes?", abort=True)

    done = 0

    def progress(number: int, total: int, action) -> None:
        nonlocal done
        for row in action.rows():
            if row.change != Change.UNCHANGED:
                done += 1
                click.echo(f"[{done}/{steps}] {row.change} {row.resource} {row.subject}", err=True)

    with reported_aws_failures(
        "publish stopped part-way; nothing it did needs undoing: run it again and it "
        "continues from where it stopped"
    ):
        apply(the_plan, clients, state, progress)
    click.echo(table.render(the_plan.rows(), done=True))
