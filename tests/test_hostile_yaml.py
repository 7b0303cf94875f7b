"""Hostile YAML is refused quickly, with a located message and bounded memory.

Time is not asserted tightly (the machine may be shared): each case must be refused within a
generous bound, and the memory it allocates is measured with tracemalloc, which does not depend
on the machine's load. bench/hostile_yaml.py prints the times.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from generator.model import yamlsource
from generator.model.problems import InputError
from generator.model.yamlsource import MAX_BYTES, MAX_DEPTH, MAX_NODES, parse_source


def billion_laughs(levels: int = 9) -> str:
    """Each level is a list of ten aliases of the level before: 10**levels values expanded."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def deep_flow(depth: int = 100_000) -> str:
    return "tiers: " + "[" * depth + "]" * depth + "\n"


def deep_block(depth: int = 500) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"


def merge_bomb(levels: int = 30) -> str:
    """Merge keys that double a mapping at each level, from distinct mappings."""
    lines = ["x0: &x0 {a0: 1}", "y0: &y0 {b0: 1}"]
    for i in range(1, levels):
        lines.append(f"x{i}: &x{i} {{<<: [*x{i - 1}, *y{i - 1}], a{i}: 1}}")
        lines.append(f"y{i}: &y{i} {{<<: [*y{i - 1}, *x{i - 1}], b{i}: 1}}")
    return "\n".join(lines) + "\n"


CASES = {
    "billion laughs": (billion_laughs(), f"more than {MAX_NODES:,} values"),
    "deeply nested flow": (deep_flow(), f"nested more than {MAX_DEPTH} levels"),
    "deeply nested block": (deep_block(), f"nested more than {MAX_DEPTH} levels"),
    "too large": ("a: " + "x" * (MAX_BYTES + 1) + "\n", "larger than"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_yaml_is_refused_located_fast_and_small(case):
    text, expected = CASES[case]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError) as refused:
            parse_source(text, "hostile.yaml")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (problem,) = refused.value.problems
    assert problem.path == "hostile.yaml" and problem.line >= 1 and problem.column >= 1
    assert expected in problem.message
    assert str(problem).startswith(f"hostile.yaml:{problem.line}:{problem.column}: ")
    # Far under what expanding the document would take (a billion values, gigabytes).
    assert peak < 64 * 2**20, f"{peak:,} bytes allocated"
    assert elapsed < 10, f"{elapsed:.1f} s (bench/hostile_yaml.py measures it)"


def test_merge_keys_cannot_multiply_a_document():
    try:
        source = parse_source(merge_bomb(), "merge.yaml")
    except InputError as err:
        assert "values once its aliases" in str(err)
    else:  # PyYAML may drop repeated keys while merging; then the result must stay small
        assert sum(len(v) for v in source.data.values()) < MAX_NODES


def test_the_bounds_leave_room_for_a_large_real_portfolio():
    tier = (
        "  - {{name: t{i}, description: d, read: [t{i}/, shared/], write: [t{i}/w/],"
        " principals: [role/R{i}]}}\n"
    )
    text = "tiers:\n" + "".join(tier.format(i=i) for i in range(500))
    source = parse_source(text, "big.yaml")
    assert len(source.data["tiers"]) == 500


def test_a_file_over_the_size_bound_is_not_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "portfolio.yaml"
    path.write_bytes(b"a: " + b"x" * (3 * MAX_BYTES))
    monkeypatch.setattr(yamlsource, "parse_source", lambda *a: pytest.fail("parsed"))
    with pytest.raises(InputError, match="larger than"):
        yamlsource.load_source(path)


def test_the_cli_refuses_hostile_yaml_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from generator.cli import main

    path = tmp_path / "portfolio.yaml"
    path.write_text(billion_laughs())
    result = CliRunner().invoke(main, ["validate", "-p", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.stderr and "values once its aliases" in result.stderr
