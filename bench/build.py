"""Benchmark: validate + build the example and generated portfolios of 10, 50 and 100 tiers.

Run with: python bench/build.py   (after `pip install .`, or: .tox/py/bin/python bench/build.py)
Prints the median wall time of load+validate+generate (in memory) and of a full
`labcatalog build` into a temporary folder, with resources per template, side by side in one
run, so ratios between sizes are comparable on a noisy machine.
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


def largest_that_fits(folder: Path) -> int:
    low, high = 1, 200  # fits(low) is true, fits(high) is false
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle, folder) else (low, middle)
    return low


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        largest = largest_that_fits(folder)
        cases = {"example (2 tiers)": EXAMPLE}
        for tiers in (10, 50, 100, largest):
            path = folder / f"tiers-{tiers}.yaml"
            path.write_text(portfolio_with(tiers))
            label = f"{tiers} tiers" + (" (largest within limits)" if tiers == largest else "")
            cases[label] = path
        print(f"median of {REPEAT} runs; python {sys.version.split()[0]}")
        header = f"{'portfolio':34} {'generate s':>10} {'build s':>9} {'x example':>9}  templates"
        print(header)
        print("-" * len(header))
        baseline = None
        for name, path in cases.items():
            try:
                artifacts = builder.generate(load_portfolio(path))
            except UserError as err:
                print(f"{name:34} refused: {str(err).splitlines()[0][:90]}")
                continue
            generate = median_seconds(lambda p=path: builder.generate(load_portfolio(p)))
            out = folder / "out"
            args = ["build", "-p", str(path), "-o", str(out)]
            build = median_seconds(lambda a=args: CliRunner().invoke(main, a))
            baseline = baseline or build
            templates = ", ".join(
                f"{a.path}: {a.resources} resources, {a.size / 1024:.0f} KiB"
                for a in artifacts
                if a.resources is not None
            )
            print(f"{name:34} {generate:10.3f} {build:9.3f} {build / baseline:9.1f}  {templates}")


if __name__ == "__main__":
    main_bench()
