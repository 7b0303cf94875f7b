"""What `validate` and `build` both run: the portfolio's own rules, then everything a build checks.

`validate` must accept nothing that `build` refuses. So both load the portfolio through
`load_checked`, which generates the templates in memory with the very code `build` uses (its
CloudFormation and IAM quota checks included, whatever they become) and checks the names those
templates really produce (`generated_names`). Every problem is located in portfolio.yaml.
"""

from __future__ import annotations

from pathlib import Path

from generator.engine import build as builder
from generator.engine.build_folder import Artifact
from generator.engine.generated_names import name_problems, placeholder_portfolio
from generator.engine.registry import Registry, discover
from generator.model.config import Portfolio, validate_data
from generator.model.problems import InputError, UserError
from generator.model.yamlsource import load_source


def load_checked(
    path: Path, display: str | None = None, registry: Registry | None = None
) -> tuple[Portfolio, list[Artifact]]:
    """The validated portfolio and its build (in memory, nothing written); `InputError` listing
    every problem, each at its place in the file, if the portfolio or its build breaks a rule."""
    registry = registry or discover()
    source = load_source(path, display or str(path))
    portfolio = validate_data(source, registry.portfolio_model)
    try:
        artifacts = builder.generate(portfolio, registry)
    except UserError as err:
        # A quota the templates break: the tiers are what there are too many of.
        raise InputError(
            [source.problem(("tiers",), line, at_key=True) for line in str(err).splitlines()]
        ) from None
    placeholder = builder.generate(placeholder_portfolio(portfolio), registry)
    problems = [
        source.problem(loc, message, at_key=len(loc) < 3)
        for loc, message in name_problems(portfolio, artifacts, placeholder)
    ]
    if problems:
        raise InputError(problems)
    return portfolio, artifacts
