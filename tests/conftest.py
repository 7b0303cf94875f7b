"""Shared fixtures: portfolios, their built templates, and a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.cfn import names
from generator.engine.build import render
from generator.engine.registry import discover, load_portfolio
from generator.model.config import Portfolio
from tests.support import moto_cfn
from tests.support.moto_server import MotoServer, deploy_stack, start_moto_server

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = ROOT / "portfolio.yaml"
# Every portfolio the template and access tests run against: rules must hold for any of them.
PORTFOLIOS = {
    "example": EXAMPLE,
    "three-tiers": FIXTURES / "three-tiers.yaml",
}


@pytest.fixture(params=sorted(PORTFOLIOS), scope="session")
def portfolio(request) -> Portfolio:
    return load_portfolio(PORTFOLIOS[request.param])


@pytest.fixture(scope="session")
def example() -> Portfolio:
    return load_portfolio(EXAMPLE)


def platform_body(portfolio: Portfolio) -> dict:
    """The platform template as CloudFormation will read it."""
    return json.loads(render(discover().build_platform(portfolio)))


def deploy_platform(
    server: MotoServer,
    portfolio: Portfolio,
    image_tag: str | None = None,
    parameters: dict | None = None,
) -> dict[str, str]:
    """The platform stack in moto, and its outputs; with `image_tag`, also the hub image release
    that the platform's image build would publish (products launched without a tag run it);
    `parameters` are the platform's (e.g. the homes' VPC and subnets)."""
    outputs = deploy_stack(
        server, "labcatalog-platform", render(discover().build_platform(portfolio)), parameters
    )
    if image_tag is not None:
        server.client("ssm").put_parameter(
            Name=names.HUB_IMAGE_TAG_PARAMETER, Value=image_tag, Type="String", Overwrite=True
        )
    return outputs


def assert_cfn_lint_clean(template: str | dict, folder: Path, name: str) -> None:
    """cfn-lint (from this environment) finds nothing, at any level, in `template`."""
    path = folder / name
    path.write_text(template if isinstance(template, str) else json.dumps(template, indent=1))
    result = subprocess.run(
        [Path(sys.executable).with_name("cfn-lint"), "--non-zero-exit-code", "informational", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto server for the session; tests reset it before use."""
    moto_cfn.install()
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto: MotoServer) -> MotoServer:
    """A clean moto server with IAM enforcement off."""
    moto.reset()
    return moto
