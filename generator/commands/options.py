"""Options shared by several verbs."""

from __future__ import annotations

from pathlib import Path

import click

portfolio_option = click.option(
    "-p",
    "--portfolio",
    "portfolio_path",
    type=click.Path(path_type=Path),
    default=Path("portfolio.yaml"),
    show_default=True,
    help="The portfolio file to read.",
)
