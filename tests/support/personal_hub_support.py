"""Helpers for the personal-hub tests: the template as CloudFormation reads it, a small
evaluator of the intrinsic functions its user data uses, so a test can read the boot script
exactly as an instance of a given tier would receive it, and a way to run the boot script's own
functions with only `docker`, `aws` and the instance's metadata stubbed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from generator.cfn import names
from generator.engine.build import render
from generator.model.config import Portfolio
from products.personal_hub import template
from products.platform import settings
from tests.support.container import Container

PSEUDO = {
    "AWS::StackName": "SC-123456789012-pp-abcdefghijklm",
    "AWS::Region": "eu-west-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
}
_DYNAMIC = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


def body(portfolio: Portfolio) -> dict:
    """The personal-hub template as CloudFormation will read it."""
    return json.loads(render(template.build(portfolio)))


def launch_values(body: dict, **given: str) -> dict[str, str]:
    """Parameter values of a launch: the defaults, then what the user typed."""
    values = {
        name: str(slot["Default"]) for name, slot in body["Parameters"].items() if "Default" in slot
    }
    values.update(given)
    missing = set(body["Parameters"]) - set(values)
    assert not missing, f"no value for {sorted(missing)}"
    return values


class Evaluator:
    """Ref, Fn::If, Fn::Join, Fn::Sub, Fn::FindInMap, Fn::Equals/Not, Fn::Base64, and SSM
    dynamic references from a given dict: what the personal-hub template uses, nothing more."""

    def __init__(self, body: dict, parameters: dict[str, str], ssm: dict[str, str]):
        self.body = body
        self.values = {**PSEUDO, **parameters}
        self.ssm = ssm
        self.conditions = {
            name: self.evaluate(expression) for name, expression in body["Conditions"].items()
        }

    def resolve_dynamic(self, text: str) -> str:
        return _DYNAMIC.sub(lambda m: self.ssm[m.group(1)], text)

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.resolve_dynamic(node)
        if isinstance(node, list):
            return [self.evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: self.evaluate(value) for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            return self.values[argument]
        if function == "Condition":
            return self.conditions[argument]
        if function == "Fn::If":
            name, yes, no = argument
            return self.evaluate(yes if self.conditions[name] else no)
        if function == "Fn::Equals":
            left, right = (str(self.evaluate(a)) for a in argument)
            return left == right
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(self.evaluate(i)) for i in items)
        if function == "Fn::FindInMap":
            mapping, key, field = (self.evaluate(a) for a in argument)
            return self.body["Mappings"][mapping][key][field]
        if function == "Fn::Base64":
            return self.evaluate(argument)
        if function == "Fn::Sub":
            return self.sub(argument)
        return {function: self.evaluate(argument)}

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: str(self.evaluate(value)) for name, value in variables.items()}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            return local[name] if name in local else str(self.values[name])

        return self.resolve_dynamic(_PLACEHOLDER.sub(replace, text))


def platform_ssm(tier: str) -> dict[str, str]:
    """The SSM values a launch of `tier` reads, as the platform and AWS publish them."""
    return {
        names.NOTEBOOK_BUCKET_PARAMETER: "labcatalog-notebooks-123456789012",
        names.HUB_REPOSITORY_URI_PARAMETER: (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/labcatalog/hub"
        ),
        names.HUB_IMAGE_TAG_PARAMETER: "sha-0123abcd",
        names.PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER.format(tier=tier): (
            f"labcatalog-{tier}-personal-hub"
        ),
    }


def a_launch(body: dict, tier: str, **more: str) -> dict[str, str]:
    """A launch of `tier` as a data scientist fills in the console: the defaults, and a few
    choices (the launch must name no network, identity or DNS setting: it has none to name)."""
    values = {
        "Tier": tier,
        "Owner": "alice@example.com",
        "Collaborators": "bob@example.com,carol",
    }
    return launch_values(body, **{**values, **more})


def rendered_user_data(body: dict, parameters: dict[str, str]) -> str:
    """The boot script an instance launched with `parameters` receives."""
    evaluator = Evaluator(body, parameters, platform_ssm(parameters["Tier"]))
    return evaluator.evaluate(body["Resources"]["HubInstance"]["Properties"]["UserData"])


# The boot script, run

DOCKER_GID = 990  # the group of the instance's Docker socket
FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
passed = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--env" and "=" not in args[i + 1]]
record = {{"args": args, "env": {{name: os.environ.get(name) for name in passed}}}}
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
"""
# The instance's firewall: records each call; `-C` (is the rule there?) answers no.
FAKE_IPTABLES = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_IPTABLES_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(1 if sys.argv[1:2] == ["-C"] else 0)
"""
# Options of `docker run` that take a value, as the boot script uses them.
VALUED = {"--name", "--hostname", "--network", "--env-file", "--env", "--publish", "--volume"}
VALUED |= {"--group-add", "--gpus", "--user", "--ip"}


def first_tier_launch(portfolio: Portfolio) -> dict[str, str]:
    """A launch of the first tier of `portfolio` by alice, with the defaults."""
    return launch_values(body(portfolio), Tier=portfolio.tiers[0].name, Owner="alice")


def boot_script(portfolio: Portfolio, folder: Path) -> Path:
    script = folder / "userdata.sh"
    script.write_text(rendered_user_data(body(portfolio), first_tier_launch(portfolio)))
    return script


# `aws` on the instance, for what the boot script asks it: the tier's settings (as the platform
# publishes them, from FAKE_SETTINGS) and a secret's value (from FAKE_SECRETS, by name).
FAKE_AWS = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
option = lambda name: args[args.index(name) + 1]
if args[:2] == ["ssm", "get-parameters-by-path"]:
    path = option("--path").rstrip("/") + "/"
    settings = json.load(open(os.environ["FAKE_SETTINGS"]))
    for name, value in sorted(settings.items()):
        if name.startswith(path):
            print(name + "\t" + value)
elif args[:2] == ["secretsmanager", "get-secret-value"]:
    print(json.load(open(os.environ["FAKE_SECRETS"]))[option("--secret-id")])
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"""
# The instance's metadata: its id, and the tag Service Catalog put on its stack.
FAKE_IMDS = """imds() {
  case "$1" in
    meta-data/instance-id) echo i-0123456789abcdef0 ;;
    meta-data/tags/instance/*) [ -n "$FAKE_PRINCIPAL" ] && printf '%s' "$FAKE_PRINCIPAL" ;;
    *) return 1 ;;
  esac
}"""
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/DataScientists/alice@example.com"


def tier_settings(portfolio: Portfolio, tier: str) -> dict[str, str]:
    """The SSM parameters the platform publishes for `tier`: its settings."""
    return settings.tier_settings(portfolio.platform, portfolio.tier(tier))


def run_boot_functions(
    script: Path,
    folder: Path,
    functions: str,
    env: dict,
    ssm: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    principal: str = PRINCIPAL,
    check: bool = True,
) -> list[dict]:
    """Source the boot script, point its paths at `folder`, run `functions` with `aws` and the
    instance's metadata answering from `ssm`, `secrets` and `principal`; docker's calls
    (iptables' are in `folder`/iptables-calls.jsonl)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    fakes = (("docker", FAKE_DOCKER), ("aws", FAKE_AWS), ("iptables", FAKE_IPTABLES))
    for name, text in fakes:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (folder / "settings.json").write_text(json.dumps(ssm or {}))
    (folder / "secrets.json").write_text(json.dumps(secrets or {}))
    socket = folder / "docker.sock"
    socket.touch()
    os.chown(socket, 0, DOCKER_GID)
    log = folder / "docker-calls.jsonl"
    paths = {
        "data_dir": folder / "data",
        "env_file": folder / "etc" / "hub.env",
        "settings_file": folder / "etc" / "settings",
        "docker_socket": socket,
    }
    (folder / "data").mkdir(exist_ok=True)  # the mounted volume: a plain folder here
    assignments = "; ".join(f"{k}={shlex.quote(str(v))}" for k, v in paths.items())
    shell = f"source {shlex.quote(str(script))}; {assignments}; {FAKE_IMDS}; {functions}"
    result = subprocess.run(
        ["bash", "-c", shell],
        env={
            **os.environ,
            **env,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_LOG": str(log),
            "FAKE_SETTINGS": str(folder / "settings.json"),
            "FAKE_SECRETS": str(folder / "secrets.json"),
            "FAKE_PRINCIPAL": principal,
            "FAKE_IPTABLES_LOG": str(folder / "iptables-calls.jsonl"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if not check:
        return [{"returncode": result.returncode, "stderr": result.stderr}]
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def docker_run(calls: list[dict]) -> Container:
    """The recorded `docker run` as a stand-in container, and the image's command."""
    (run,) = [c for c in calls if c["args"][0] == "run"]
    args, env, mounts, groups = run["args"][1:], {}, {}, []
    options: list[tuple[str, str]] = []
    while args[0].startswith("--"):
        flag = args.pop(0)
        options.append((flag, args.pop(0) if flag in VALUED else ""))
    image, command = args[0], args[1:]
    assert image and not command, "the hub runs the image's own CMD"
    for flag, value in options:
        if flag == "--env-file":
            lines = Path(value).read_text().splitlines()
            env.update(line.split("=", 1) for line in lines if line and not line.startswith("#"))
        elif flag == "--env":
            name, _, given = value.partition("=")
            env[name] = given or run["env"][name]
        elif flag == "--volume":
            source, target = value.split(":")[:2]
            mounts[target] = Path(source)
        elif flag == "--group-add":
            groups.append(int(value))
        elif flag == "--user":
            pytest.fail("the hub must run as the image's own user")
    return Container(mounts=mounts, env=env, groups=groups, net_namespace=True)
