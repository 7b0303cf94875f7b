"""The README's first hour works as written: the quickstart's next commands, and trying publish
locally with `tox -e local-catalog`, run here exactly as the README types them.

tox itself is not run here (the tests already run inside one of its envs). What tox does is
checked in tox.ini (every env installs this checkout editable) and emulated: the `labcatalog`
on the PATH of these runs is a script that imports this checkout, as the editable install's .pth
file makes `.tox/build/bin/labcatalog` do. The local catalog is started with the command tox.ini
gives its env.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def tox_ini() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def sh_blocks(text: str) -> list[list[str]]:
    """The commands of each ```sh block, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [
        [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


@pytest.fixture
def labcatalog_on_path(tmp_path) -> dict[str, str]:
    """An environment whose PATH has a `labcatalog` running this checkout (an editable install)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "labcatalog"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from generator.cli import main\nmain()\n"
    )
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def test_every_tox_env_installs_the_checkout_editable():
    config = tox_ini()
    assert config["testenv"]["package"] == "editable"
    for name in config.sections():
        assert config[name].get("package", "editable") == "editable", name


def test_after_the_quickstart_the_readmes_next_commands_work_as_typed(labcatalog_on_path):
    first, then = sh_blocks(section("Quickstart"))[:2]
    assert [c.split("&& ")[-1] for c in first] == ["tox -e build", "tox"]
    # The next command puts the build env's labcatalog on the PATH...
    assert then[0] == "source .tox/build/bin/activate"
    assert "build" in tox_ini()["tox"]["env_list"]
    # ...and the commands after it run as typed, from the checkout.
    for command in then[1:]:
        assert command.startswith("labcatalog "), command
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env=labcatalog_on_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)


def test_a_copy_of_other_code_cannot_call_a_checkout_up_to_date(tmp_path):
    """A labcatalog whose code is not the checkout's is refused there (exit 2), not trusted."""
    other = tmp_path / "checkout"
    (other / "generator").mkdir(parents=True)
    (other / "generator" / "cli.py").write_text("")
    (other / "pyproject.toml").write_text("")
    (other / "build").symlink_to(ROOT / "build")
    (other / "portfolio.yaml").write_text((ROOT / "portfolio.yaml").read_text())
    runner = [
        sys.executable,
        "-c",
        "import sys; sys.path.insert(0, sys.argv.pop(1));from generator.cli import main; main()",
        str(ROOT),
    ]
    result = subprocess.run(
        [*runner, "build", "--check"], cwd=other, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not the code of this checkout" in result.stderr
    assert "up to date" not in result.stdout
    # From the checkout whose code it runs, it works.
    ok = subprocess.run(
        [*runner, "build", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert ok.returncode == 0 and "up to date" in ok.stdout, ok.stderr


def test_trying_publish_locally_works_as_the_readme_writes_it(labcatalog_on_path):
    text = section("Publishing to Service Catalog")
    text = text[text.index("**Try it locally**") : text.index("**On a real account:**")]
    start, steps = sh_blocks(text)[:2]
    assert start == ["tox -e local-catalog"]
    command = tox_ini()["testenv:local-catalog"]["commands"].strip()
    argv = shlex.split(command.replace("{posargs}", ""))
    assert argv[0] == "python"
    server = subprocess.Popen(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env=labcatalog_on_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line, "".join(printed)
            printed.append(line)
            if line.startswith("export "):
                break
        export = printed[-1].strip()
        assert steps[0].startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:PORT")
        assert export.split("=", 1)[0] == "export AWS_ENDPOINT_URL"
        outputs = []
        for step in steps[1:]:
            result = subprocess.run(
                ["bash", "-c", f"{export} && {step}"],
                cwd=ROOT,
                env=labcatalog_on_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, (step, result.stdout, result.stderr)
            outputs.append(result.stdout + result.stderr)
        plan, publish, again = outputs
        total = int(re.search(r"plan: (\d+) to create", plan).group(1))
        assert f"[{total}/{total}] " in publish and f"published: {total} created" in publish
        assert "nothing to publish" in again
        # It runs until stopped, then stops cleanly.
        assert server.poll() is None
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
        assert "local catalog stopped" in server.stdout.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_help_texts_state_the_exit_codes(labcatalog_on_path):
    from click.testing import CliRunner

    from generator.cli import main

    for verb, expected in (("plan", "exits 0 when the plan is made"), ("validate", "exits 0")):
        text = " ".join(CliRunner().invoke(main, [verb, "--help"]).output.split()).lower()
        assert expected in text, text
    text = " ".join(CliRunner().invoke(main, ["publish", "--help"]).output.split())
    assert "2 when the portfolio or build/ is wrong" in text
