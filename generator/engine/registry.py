"""The products and the platform builder, found through Python entry points.

Each product folder exports one `PRODUCT` (`generator.cfn.product.Product`), registered in
pyproject.toml under the `labcatalog.products` group; the platform stack's builder is the one
entry of the `labcatalog.platform` group. The engine never imports a product module by name:
build, publish and the portfolio model iterate a `Registry`. Every engine function that needs
the products takes one, with `discover()` as the default, so tests can pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from importlib.metadata import entry_points
from pathlib import Path

from generator.cfn.product import PlatformBuilder, PlatformTemplates, Product, TierTemplateUrl
from generator.model import config
from generator.model.config import Portfolio
from generator.model.config import Product as ProductConfig
from generator.model.problems import Problem

PRODUCTS_GROUP = "labcatalog.products"
PLATFORM_GROUP = "labcatalog.platform"


@dataclass(frozen=True)
class Registry:
    """The registered products, sorted by key, and the platform stack's builder."""

    products: tuple[Product, ...]
    platform: PlatformBuilder

    def __post_init__(self) -> None:
        keys = [p.key for p in self.products]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two products registered under one key: {keys}")

    @cached_property
    def portfolio_model(self) -> type[Portfolio]:
        """The pydantic model of portfolio.yaml, with one `products` entry per product."""
        return config.portfolio_model(self.products)

    def configured(self, portfolio: Portfolio) -> list[tuple[Product, ProductConfig]]:
        """The products `portfolio` configures, with their entries, in the registry's order."""
        found = []
        for product in self.products:
            entry = product.configured(portfolio)
            if entry is not None:
                found.append((product, entry))
        return found

    def product(self, key: str) -> Product:
        return next(p for p in self.products if p.key == key)

    def build_platform(
        self, portfolio: Portfolio, tier_template_url: TierTemplateUrl
    ) -> PlatformTemplates:
        """The platform's templates for `portfolio` and these products; the root runs each
        tier's template from `tier_template_url(tier name)` (`build.stacks()` says where)."""
        return self.platform(portfolio, self.products, tier_template_url)


def make(products: list[Product] | tuple[Product, ...], platform: PlatformBuilder) -> Registry:
    """A registry of these products (sorted by key) and this platform builder."""
    return Registry(tuple(sorted(products, key=lambda p: p.key)), platform)


@cache
def discover() -> Registry:
    """The installed registry: every `labcatalog.products` entry point and the platform's."""
    platforms = entry_points(group=PLATFORM_GROUP)
    if len(platforms) != 1:
        raise RuntimeError(
            f"{len(platforms)} entry points in group {PLATFORM_GROUP} (one expected): is "
            "labcatalog installed in this environment? (pip install -e . or tox -e py)"
        )
    products = [ep.load() for ep in entry_points(group=PRODUCTS_GROUP)]
    for product in products:
        if not isinstance(product, Product):
            raise TypeError(f"{PRODUCTS_GROUP} entry point gives {product!r}, not a Product")
    (platform,) = platforms
    return make(products, platform.load())


def load_portfolio(
    path: Path, display: str | None = None, registry: Registry | None = None
) -> Portfolio:
    """Read and validate portfolio.yaml against the registered products' model."""
    return config.load_portfolio(path, (registry or discover()).portfolio_model, display)


def problems_of(path: Path, registry: Registry | None = None) -> list[Problem]:
    """Every problem in `path` (empty when it is valid)."""
    return config.problems_of(path, (registry or discover()).portfolio_model)
