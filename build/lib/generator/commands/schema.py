"""`labcatalog schema`: the JSON Schema of portfolio.yaml, for editors and other tools."""

from __future__ import annotations

import json

import click

from generator.config import Portfolio


def portfolio_json_schema() -> str:
    """The JSON Schema generated from the model, as stable text."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    document.update(Portfolio.model_json_schema(by_alias=True))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@click.command()
def schema() -> None:
    """Print the JSON Schema of portfolio.yaml (generated from the model).

    Editors use the copy in generator/schema/portfolio-v1.schema.json; tests keep it equal to
    this output. Regenerate it with:

    \b
      labcatalog schema > generator/schema/portfolio-v1.schema.json
    """
    click.echo(portfolio_json_schema(), nl=False)
