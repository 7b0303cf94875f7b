"""A bounded fuzz run over portfolio.yaml, usage.yaml and the command line: every run ends with
exit 0 or 2 (1 only where documented: `build --check` on a stale folder), never a traceback.

The inputs are the shipped examples mangled by hypothesis (lines dropped, repeated or swapped,
spans replaced by YAML's special characters, numbers and odd values), and argument lists drawn
from the verbs, their options and junk. plan and publish are run only with --help: they would
reach AWS (their failures are tested in tests/test_failures.py). Bounded so the default tox stays
quick; raise FUZZ_EXAMPLES to run longer.
"""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main
from tests.conftest import EXAMPLE, ROOT

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
USAGE = ROOT / "usage.yaml"
SNIPPETS = [
    "",
    " ",
    "\t",
    ":",
    ": ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a",
    "*a",
    "<<: *a",
    "!!python/object:os.system",
    "!tag",
    "'",
    '"',
    "#",
    "|",
    ">",
    "---",
    "...",
    "%YAML 1.1",
    "\x00",
    "\x85",
    "\ufeff",
    "é",
    "0x1F",
    "1e999",
    "-1",
    "0",
    "null",
    "~",
    "yes",
    "no",
    "1.10",
    "2024-13-45",
    "99999999999999999999",
    "nan",
    "pii/",
    "/",
    "..",
    "role/",
    "arn:aws-cn:iam::123456789012:role/X",
    "xn--",
    "aws:",
    "labcatalog:",
    "tiers:",
    "name:",
    "read:",
    "write:",
    "shared_writes:",
    "users:",
    "schema: labcatalog/v2",
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def mangled(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["drop", "repeat", "swap", "replace", "insert", "indent"]))
        if operation == "drop":
            del lines[i]
        elif operation == "repeat":
            lines.insert(i, lines[i])
        elif operation == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "indent":
            lines[i] = draw(st.sampled_from(["  ", " ", "\t", ""])) + lines[i].lstrip()
        else:
            line = lines[i]
            start = draw(st.integers(0, len(line)))
            end = start if operation == "insert" else draw(st.integers(start, len(line)))
            new = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=8)))
            lines[i] = line[:start] + new + line[end:]
    return "".join(lines)


def assert_clean(result, allowed=(0, 2)) -> None:
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in allowed, result.output


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copy(EXAMPLE, tmp_path / "portfolio.yaml")
    shutil.copy(USAGE, tmp_path / "usage.yaml")
    shutil.copytree(ROOT / "build", tmp_path / "build")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_fuzz_portfolio_yaml(workdir):
    example = EXAMPLE.read_text()

    @FUZZ
    @given(mangled(example))
    def run(text):
        (workdir / "mangled.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        for verb in (["validate"], ["build", "-o", "out"]):
            assert_clean(CliRunner().invoke(main, [*verb, "-p", "mangled.yaml"]))

    run()


def test_fuzz_usage_yaml(workdir):
    usage = USAGE.read_text()

    @FUZZ
    @given(mangled(usage))
    def run(text):
        (workdir / "mangled.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        assert_clean(CliRunner().invoke(main, ["cost", "--usage", "mangled.yaml"]))

    run()


VERBS = ["validate", "build", "schema", "cost", "plan", "publish", "nonsense", ""]
ARGUMENTS = [
    "-p",
    "--portfolio",
    "-o",
    "--outdir",
    "--check",
    "--usage",
    "--format",
    "json",
    "markdown",
    "table",
    "--region",
    "--prices",
    "--help",
    "-h",
    "--version",
    "portfolio.yaml",
    "usage.yaml",
    "build",
    "out",
    "missing.yaml",
    "/dev/null",
    "-",
    "--",
    "=",
    "--outdir=",
    "-pportfolio.yaml",
    "--bogus",
    "\x00",
    "é",
    " ",
    "us-east-1",
    "../",
    "portfolio.yaml/x",
]


def test_fuzz_command_line(workdir):
    @FUZZ
    @given(
        st.sampled_from(VERBS),
        st.lists(st.one_of(st.sampled_from(ARGUMENTS), st.text(max_size=6)), max_size=6),
    )
    def run(verb, arguments):
        if verb in ("plan", "publish"):
            arguments = ["--help", *arguments]  # first, so no option takes it as its value
        args = [verb, *arguments] if verb else arguments
        allowed = (0, 1, 2) if "--check" in args else (0, 2)
        assert_clean(CliRunner().invoke(main, args), allowed)

    run()
