"""Every architecture a product offers has an image: the pipeline builds each one into one tag.

Proves: the architectures the built templates can run the hub image on (the personal hub's
instance types, through products/personal_hub/instance_types.py; every ECS task definition's
RuntimePlatform) are all among the platforms buildspec.yml builds and pushes as one manifest
list, and an arm64 build on CodeBuild's x86_64 host has QEMU registered first.
Does not prove: that the image builds, or that the base image exists for each architecture
(only CodeBuild on AWS builds it; the base image's date tags are multi-architecture).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from products.hub_image import codebuild
from products.personal_hub.instance_types import BY_NAME

ROOT = Path(__file__).resolve().parents[1]
BUILDSPEC = ROOT / "products" / "hub_image" / "buildspec.yml"
# EC2's (DescribeInstanceTypes) and ECS's (RuntimePlatform) names, as OCI platforms.
EC2_PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
ECS_PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
BUILD_HOST = "linux/amd64" if "x86_64" in codebuild.BUILD_IMAGE else "linux/arm64"


def built_platforms(spec: dict) -> set[str]:
    """The platforms one build pushes under its tag: buildx's --platform, else the host's."""
    variables = spec.get("env", {}).get("variables", {})
    commands = "\n".join(c for phase in spec["phases"].values() for c in phase["commands"])
    if "docker buildx build" not in commands or "--push" not in commands:
        return {BUILD_HOST}  # a plain `docker build` makes an image of the host's kind only
    match = re.search(r'--platform "?([^"\s]+)"?', commands)
    assert match, "buildx without --platform builds the host's kind only"
    value = match.group(1)
    if value.startswith("${"):
        value = variables[value.strip("${}")]
    return set(value.split(","))


def emulated(spec: dict) -> set[str]:
    """Architectures the build host can run once the buildspec has registered QEMU."""
    commands = "\n".join(c for phase in spec["phases"].values() for c in phase["commands"])
    match = re.search(r"docker run --privileged --rm \S+ --install (\S+)", commands)
    return {f"linux/{arch}" for arch in match.group(1).split(",")} if match else set()


def offered_platforms() -> dict[str, str]:
    """Each architecture the built templates can run the image on, and where it comes from."""
    offered = {}
    for path in sorted((ROOT / "build").rglob("*.template.json")):
        body = json.loads(path.read_text())
        for name, parameter in body.get("Parameters", {}).items():
            for value in parameter.get("AllowedValues", []):
                if value in BY_NAME:  # an EC2 instance type the hub image runs on
                    platform = EC2_PLATFORMS[BY_NAME[value].architecture]
                    offered.setdefault(platform, f"{path.name}: {name}={value}")
        for logical_id, resource in body["Resources"].items():
            runtime = resource.get("Properties", {}).get("RuntimePlatform")
            if resource["Type"] == "AWS::ECS::TaskDefinition":
                architecture = (runtime or {}).get("CpuArchitecture", "X86_64")
                # A parameter (the shared hub's CpuArchitecture) offers each allowed value.
                choices = (
                    body["Parameters"][architecture["Ref"]]["AllowedValues"]
                    if isinstance(architecture, dict)
                    else [architecture]
                )
                for choice in choices:
                    offered.setdefault(ECS_PLATFORMS[choice], f"{path.name}: {logical_id}")
    return offered


def test_every_offered_architecture_has_an_image_build():
    spec = yaml.safe_load(BUILDSPEC.read_text())
    offered, built = offered_platforms(), built_platforms(spec)
    assert {"linux/amd64", "linux/arm64"} <= set(offered), offered  # Graviton is offered
    missing = {platform: where for platform, where in offered.items() if platform not in built}
    assert not missing, f"offered but not built by buildspec.yml: {missing}"


def test_architectures_other_than_the_build_hosts_are_emulated():
    spec = yaml.safe_load(BUILDSPEC.read_text())
    foreign = built_platforms(spec) - {BUILD_HOST}
    assert foreign <= emulated(spec), "register QEMU (binfmt) before a cross build"


def test_a_single_architecture_build_is_caught():
    """The check itself: the x86-only buildspec this project had before fails it."""
    before = {
        "version": 0.2,
        "phases": {"build": {"commands": ['docker build --pull --tag "${URI}:${TAG}" .']}},
    }
    assert built_platforms(before) == {"linux/amd64"}
    assert "linux/arm64" in offered_platforms()
