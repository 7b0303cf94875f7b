"""Benchmark: validate + build the example and generated portfolios of 10, 50 and 200 tiers.

Run with: python bench/build.py   (after `pip install .`, or: .tox/py/bin/python bench/build.py)
Prints the median wall time of load+validate+generate (in memory) and of a full
`labcatalog build` into a temporary folder, side by side in one run, so ratios between sizes are
comparable on a noisy machine; then, per portfolio, the size and resources of the platform's root,
of its largest tier template and of each product's, and what the build creates in one account
against its quotas (IAM roles, ...); and the largest number of tiers that still builds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build as builder
from generator.engine.build_folder import Artifact
from generator.engine.registry import load_portfolio
from generator.model.problems import UserError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "portfolio.yaml"
REPEAT = 7


def portfolio_with(tiers: int) -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["tiers"] = [
        {
            "name": f"tier{i}",
            "description": f"Generated tier {i}",
            "read": [f"tier{i}/", "shared-reference/"],
            "write": [f"tier{i}/scratch/"],
            "principals": [f"role/Team{i}"],
            "identity_group": f"team{i}",
            "admin_group": "admins",
        }
        for i in range(tiers)
    ]
    return yaml.safe_dump(data, sort_keys=False)


def median_seconds(action) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fits(tiers: int, folder: Path) -> bool:
    path = folder / f"fit-{tiers}.yaml"
    path.write_text(portfolio_with(tiers))
    try:
        builder.generate(load_portfolio(path))
    except UserError:
        return False
    return True


def largest_that_fits(folder: Path, low: int = 200, high: int = 600) -> int:
    """Binary search: fits(low) is true, fits(high) is false."""
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle, folder) else (low, middle)
    return low


def kib(artifact: Artifact) -> str:
    return f"{artifact.resources} resources, {artifact.size / 1024:.0f} KiB"


def sizes(artifacts: list[Artifact]) -> str:
    """The root, the largest tier template, each product, and all templates together."""
    templates = [a for a in artifacts if a.resources is not None]
    tiers = [a for a in templates if a.path.startswith(f"{builder.PLATFORM}/")]
    parts = [f"root {kib(next(a for a in templates if a.stack == builder.PLATFORM))}"]
    if tiers:
        largest = max(tiers, key=lambda a: a.size)
        parts.append(f"{len(tiers)} tier templates, largest {kib(largest)}")
    largest_per_product: dict[str, Artifact] = {}
    for a in templates:
        if a.version is not None:  # a product's template for one tier
            product = a.stack.partition("/")[0]
            if a.size > getattr(largest_per_product.get(product), "size", -1):
                largest_per_product[product] = a
    parts += [f"{p} {a.size / 1024:.0f} KiB" for p, a in largest_per_product.items()]
    parts.append(f"all {sum(a.size for a in templates) / 1024:.0f} KiB")
    return "; ".join(parts)


def quotas(artifacts: list[Artifact]) -> str:
    return ", ".join(
        f"{u.what} {u.count}/{u.default}" + (" (raise it)" if u.over_default else "")
        for u in builder.account_use(artifacts)
    )


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = {"example (2 tiers)": EXAMPLE}
        for tiers in (10, 50, 200):
            path = folder / f"tiers-{tiers}.yaml"
            path.write_text(portfolio_with(tiers))
            cases[f"{tiers} tiers"] = path
        print(f"median of {REPEAT} runs; python {sys.version.split()[0]}")
        header = f"{'portfolio':20} {'generate s':>10} {'build s':>9} {'x example':>9}"
        print(header)
        print("-" * len(header))
        baseline = None
        built = {}
        for name, path in cases.items():
            try:
                built[name] = builder.generate(load_portfolio(path))
            except UserError as err:
                print(f"{name:20} refused: {str(err).splitlines()[0][:90]}")
                continue
            generate = median_seconds(lambda p=path: builder.generate(load_portfolio(p)))
            out = folder / "out"
            args = ["build", "-p", str(path), "-o", str(out)]
            build = median_seconds(lambda a=args: CliRunner().invoke(main, a))
            baseline = baseline or build
            print(f"{name:20} {generate:10.3f} {build:9.3f} {build / baseline:9.1f}")
        print()
        for name, artifacts in built.items():
            print(f"{name}: {sizes(artifacts)}")
            print(f"{' ' * len(name)}  account: {quotas(artifacts)}")
        print()
        print(f"largest portfolio that builds: {largest_that_fits(folder)} tiers")


if __name__ == "__main__":
    main_bench()
