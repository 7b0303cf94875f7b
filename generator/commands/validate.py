"""`labcatalog validate`: check portfolio.yaml and say what is wrong, all at once."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.checkout import require_running_checkout
from generator.commands.options import portfolio_option
from generator.engine.checked import load_checked


@click.command()
@portfolio_option
def validate(portfolio_path: Path) -> None:
    """Check a portfolio file; list every problem as PATH:LINE:COL: field: message.

    Runs every check build runs (the templates are generated in memory, with CloudFormation's
    and IAM's quotas and the names they create checked) and writes nothing. Exits 0 when the
    file is valid and 2 when it is not.
    """
    require_running_checkout(portfolio_path)
    portfolio, _ = load_checked(portfolio_path, str(portfolio_path))
    products = [key for key, value in portfolio.products.model_dump(by_alias=True).items() if value]
    click.echo(
        f"{portfolio_path}: valid ({len(portfolio.tiers)} tiers: "
        f"{', '.join(t.name for t in portfolio.tiers)}; products: {', '.join(products) or 'none'})"
    )
