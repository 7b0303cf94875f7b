"""How long hostile YAML takes to be refused: python bench/hostile_yaml.py (from the checkout)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.model.problems import InputError
from generator.model.yamlsource import parse_source
from tests.test_hostile_yaml import CASES


def main() -> None:
    for name, (text, _) in sorted(CASES.items()):
        started = time.perf_counter()
        try:
            parse_source(text, "hostile.yaml")
            outcome = "ACCEPTED"
        except InputError as err:
            outcome = err.problems[0].message
        print(
            f"{name:22} {len(text):>10,} bytes  {time.perf_counter() - started:6.3f} s  {outcome}"
        )


if __name__ == "__main__":
    main()
