"""`labcatalog schema`: the JSON Schema of portfolio.yaml, for editors and other tools."""

from __future__ import annotations

import json

import click

from generator.engine.registry import Registry, discover
from generator.model.reference import portfolio_reference


def portfolio_json_schema(registry: Registry | None = None) -> str:
    """The JSON Schema generated from the model of the registered products, as stable text."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    document.update((registry or discover()).portfolio_model.model_json_schema(by_alias=True))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="json: the JSON Schema. markdown: the field reference printed in the README.",
)
def schema(fmt: str) -> None:
    """Print the JSON Schema of portfolio.yaml, or its Markdown reference (both from the model).

    Editors use the copy in generator/model/schema/portfolio-v2.schema.json, and the README
    carries the
    Markdown reference; tests keep both equal to this output. Regenerate them with:

    \b
      labcatalog schema > generator/model/schema/portfolio-v2.schema.json
      labcatalog schema --format markdown   # paste between the README's reference markers
    """
    if fmt == "json":
        click.echo(portfolio_json_schema(), nl=False)
    else:
        click.echo(portfolio_reference(discover().portfolio_model), nl=False)
