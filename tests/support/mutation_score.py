"""Print the mutation score of the last `mutmut run` (tox -e mutation), from the statistics
`mutmut export-cicd-stats` writes: killed (or timed out) of the mutants that ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str = "mutants/mutmut-cicd-stats.json") -> int:
    stats = json.loads(Path(path).read_text())
    killed = stats["killed"] + stats["timeout"]
    # A mutant no test covers survives as surely as one the tests run and miss.
    survived = stats["survived"] + stats["no_tests"]
    ran = killed + survived + stats["suspicious"] + stats["segfault"]
    if not ran:
        print("no mutant ran", file=sys.stderr)
        return 1
    print(
        f"mutation score: {killed} of {ran} mutants killed ({100 * killed / ran:.1f} %), "
        f"{survived} survived, {stats['no_tests']} of them covered by no test "
        "(list them: mutmut results; one: mutmut show NAME)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
