"""The README's generated blocks equal what the code prints now, so the documentation cannot drift.

Each block lies between `<!-- NAME:start -->` and `<!-- NAME:end -->`. When one is stale, rewrite
them all with:  python tests/test_readme.py --write
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _reference() -> str:
    from generator.engine.registry import discover
    from generator.model.reference import portfolio_reference

    return portfolio_reference(discover().portfolio_model)


def _cost() -> str:
    """`labcatalog cost` for the example usage, run from the checkout like a user would."""
    from click.testing import CliRunner

    from generator.cli import main

    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(main, ["cost", "--usage", "usage.yaml"])
    assert result.exit_code == 0, result.output
    return "```text\n" + result.stdout + "```\n"


def _cost_sensitivity() -> str:
    """`labcatalog cost --sensitivity` for the example usage: the README's markdown table."""
    from click.testing import CliRunner

    from generator.cli import main

    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(main, ["cost", "--usage", "usage.yaml", "--sensitivity"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _console() -> str:
    """What each product's console screen asks, from its template for the example portfolio."""
    from generator.engine import build as builder
    from generator.engine.registry import discover, load_portfolio

    portfolio = load_portfolio(ROOT / "portfolio.yaml")
    stacks = {s.key: s for s in builder.stacks(portfolio)}
    lines = []
    for product, _ in discover().configured(portfolio):
        # The first tier's product, as built (its tier and settings bound) and as its portfolio
        # shows it; the others ask the same.
        stack = stacks[builder.product_stack(product.key, portfolio.tiers[0].name)]
        body = builder.template_body(stack.build(portfolio), stack)
        interface = body["Metadata"]["AWS::CloudFormation::Interface"]
        labels = {name: label["default"] for name, label in interface["ParameterLabels"].items()}
        lines += [f"**{product.key}**", "", "| group | asks | default |", "| --- | --- | --- |"]
        for group in interface["ParameterGroups"]:
            for name in group["Parameters"]:
                slot = body["Parameters"][name]
                default = f"`{slot['Default']}`" if "Default" in slot else "**no default**"
                if slot.get("Default") == "":
                    default = "empty"
                lines.append(
                    f"| {group['Label']['default']} | {labels[name]} (`{name}`) | {default} |"
                )
        lines.append("")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "reference": _reference,
    "cost": _cost,
    "cost-sensitivity": _cost_sensitivity,
    "console": _console,
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", re.S)


def readme_block(text: str, name: str) -> str:
    found = _pattern(name).search(text)
    assert found, f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> block"
    return found.group(2)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_readme_block_is_current(name):
    assert readme_block(README.read_text(), name) == BLOCKS[name](), (
        f"README.md's {name} block is out of date; run: python tests/test_readme.py --write"
    )


def test_reference_names_every_field_of_the_model():
    from pydantic import BaseModel

    from generator.engine.registry import discover

    text = _reference()
    seen: set[type[BaseModel]] = set()
    models: list[type[BaseModel]] = [discover().portfolio_model]
    while models:
        model = models.pop()
        seen.add(model)
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in text, f"{model.__name__}.{name} missing"
            for arg in getattr(field.annotation, "__args__", (field.annotation,)):
                inner = getattr(arg, "__args__", (arg,))[0]
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                    models.append(inner)
    # 8, and the platform settings: platform, network, identity, oidc, ldap, dns, owner, and the
    # network's load_balancer and its existing_listener
    assert len(seen) == 17


def test_readme_diagrams_parse_with_mermaid(tmp_path):
    """Each ```mermaid block parses with Mermaid's parser (installed by tox from
    tests/support/mermaid).

    Parsing is what decides whether GitHub shows a picture or an error box; the layout itself
    is not checked. A broken copy of the README must fail, so the check is shown to bite.
    """
    folder = Path(sys.prefix) / "mermaid"
    assert (folder / "node_modules" / "mermaid").is_dir(), (
        "Mermaid is missing: run the tests through tox, which runs npm ci from "
        "tests/support/mermaid"
    )

    def parse(markdown: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["node", str(folder / "check.mjs"), str(markdown)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    good = parse(README)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "3 diagrams, 0 failed" in good.stdout
    broken = tmp_path / "README.md"
    broken.write_text(README.read_text().replace("-->", "-->>", 1))
    assert parse(broken).returncode == 1


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    sys.path.insert(0, str(ROOT))
    text = README.read_text()
    for block, make in BLOCKS.items():
        text = _pattern(block).sub(lambda m, make=make: m.group(1) + make() + m.group(3), text)
    README.write_text(text)
