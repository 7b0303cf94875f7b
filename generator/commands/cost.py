"""`labcatalog cost`: estimate what each product costs a month for a usage profile."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.checkout import require_running_checkout
from generator.commands.options import portfolio_option
from generator.engine import build as builder
from generator.engine.cost import model, report
from generator.engine.cost.model import estimate
from generator.engine.cost.prices import PRICES, load_prices
from generator.engine.cost.resources import Templates
from generator.engine.cost.usage import check_against, load_usage
from generator.engine.registry import load_portfolio

EPILOG = """\b
The model:
  - every quantity comes from the usage file or from the templates in build/ (task sizes,
    load balancers: the account's one and a hub's own, EFS and its lifecycle, log groups
    and their retention, secrets, alarms, instance types, EBS volumes) and the portfolio
    (availability zones: its server subnets), every price from the price list;
  - a month is 730 hours for always-on resources; a user's server runs for the active
    hours plus the idle timeout after each session (the cost of idle time);
  - the original design, a baseline from before per-user tasks and not a product option,
    runs one always-on task per tier that holds the hub and the peak's servers;
  - personal-hub and SageMaker Studio use the cheapest instance at least the server's size
    (Studio also on a burstable one, a second line);
  - the floor is the compute actually used (active hours x server size at the cheapest
    price); each option's multiple of it is shown;
  - the VPC's NAT gateways, endpoints and addresses are a row of their own.
\b
Not included: data transfer, the data lake's storage, API requests, free tier, Savings
Plans, taxes. --format json lists every assumption.
"""


@click.command(epilog=EPILOG)
@click.option(
    "--usage",
    "usage_path",
    type=click.Path(path_type=Path, dir_okay=True),
    required=True,
    help="The usage profile, e.g. usage.yaml (users, hours, server size per tier).",
)
@click.option(
    "-o",
    "--outdir",
    "--build-dir",
    "build_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="The build folder; it must match a fresh build, whose templates are estimated.",
)
@portfolio_option
@click.option("--region", default="us-east-1", show_default=True, help="Region of the prices.")
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Another price list (default: the one shipped, {PRICES.name}).",
)
@click.option(
    "--sensitivity",
    is_flag=True,
    help="Instead: each option's total and multiple of the floor with every tier at 1, 5, "
    "20, 50 and 200 users (a markdown table, as in the README).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for machines.",
)
def cost(
    usage_path: Path,
    build_dir: Path,
    portfolio_path: Path,
    region: str,
    prices_path: Path | None,
    fmt: str,
    sensitivity: bool,
) -> None:
    """Estimate the monthly cost of each product for a usage profile, side by side.

    Compares shared-hub (fargate, with and without Spot), personal-hub and SageMaker
    Studio, with the original always-on design as a baseline, per tier and in total, from
    the templates in build/ (which must be current with the portfolio: labcatalog build).
    """
    require_running_checkout(portfolio_path)
    usage, source = load_usage(usage_path, str(usage_path))
    prices = load_prices(prices_path, region)
    portfolio = load_portfolio(portfolio_path, str(portfolio_path))
    build = builder.require_current(
        portfolio, portfolio_path, build_dir, "the estimate would not be of what gets published"
    )
    templates = Templates(build)
    check_against(
        usage,
        source,
        tiers=templates.tiers(),
        server_sizes=(
            templates.stack("shared-hub").allowed("ServerSizes")
            if templates.has("shared-hub")
            else []
        ),
        instance_types=(
            templates.stack("personal-hub").allowed("InstanceType")
            if templates.has("personal-hub")
            else []
        ),
        prices=prices,
    )
    zones = model.portfolio_zones(portfolio)
    if sensitivity:
        rows = model.sensitivity(usage, templates, prices, region, zones)
        click.echo(report.sensitivity_table(rows), nl=False)
        return
    result = estimate(usage, templates, prices, region, zones)
    render = report.to_json if fmt == "json" else report.to_table
    click.echo(render(result, str(usage_path)), nl=False)
