"""What `plan` and `publish` share: their options (the build folder, where AWS is) and the
planning step they both start with."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.aws_failures import reported_aws_failures, show_retry
from generator.commands.checkout import require_running_checkout
from generator.commands.options import portfolio_option
from generator.engine.publish.aws import Clients, connect
from generator.engine.publish.plan import Plan
from generator.engine.publish.publisher import make_plan, require_current_build
from generator.engine.publish.state import CatalogState
from generator.engine.registry import load_portfolio


def publish_options(command):
    """Decorate a verb with -p, -o, --region, --profile, --endpoint-url and --bucket."""
    for option in reversed(
        [
            portfolio_option,
            click.option(
                "-o",
                "--outdir",
                type=click.Path(path_type=Path, file_okay=False),
                default=Path("build"),
                show_default=True,
                help="The build folder whose templates are published.",
            ),
            click.option("--region", help="AWS region (default: the profile's or AWS_REGION)."),
            click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
            click.option(
                "--endpoint-url",
                envvar="AWS_ENDPOINT_URL",
                help="Send every AWS call here, e.g. a local test server (or AWS_ENDPOINT_URL).",
            ),
            click.option(
                "--bucket",
                help="Bucket for product templates (default: the platform stack's, read from "
                "SSM /labcatalog/platform/template-bucket).",
            ),
        ]
    ):
        command = option(command)
    return command


def planned(
    verb: str,
    portfolio_path: Path,
    outdir: Path,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    bucket: str | None,
) -> tuple[Plan, CatalogState, Clients]:
    """Validate the portfolio and build/, read Service Catalog, and plan; print the plan's notes.

    Only reads; an AWS failure here says nothing was changed and to run `verb` again.
    """
    require_running_checkout(portfolio_path)
    portfolio = load_portfolio(portfolio_path, str(portfolio_path))
    build = require_current_build(portfolio, portfolio_path, outdir)
    clients = connect(region, profile, endpoint_url, notify=show_retry)
    with reported_aws_failures(f"nothing was changed; run {verb} again when AWS answers"):
        the_plan, state = make_plan(portfolio, build, clients, bucket)
    for note in the_plan.skipped:
        click.echo(f"note: {note}", err=True)
    return the_plan, state, clients
