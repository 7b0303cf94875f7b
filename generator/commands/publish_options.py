"""Options shared by `plan` and `publish`: the build folder and where AWS is."""

from __future__ import annotations

from pathlib import Path

import click

from generator.commands.options import portfolio_option


def publish_options(command):
    """Decorate a verb with -p, -o, --region, --profile, --endpoint-url and --bucket."""
    for option in reversed(
        [
            portfolio_option,
            click.option(
                "-o",
                "--outdir",
                type=click.Path(path_type=Path, file_okay=False),
                default=Path("build"),
                show_default=True,
                help="The build folder whose templates are published.",
            ),
            click.option("--region", help="AWS region (default: the profile's or AWS_REGION)."),
            click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
            click.option(
                "--endpoint-url",
                envvar="AWS_ENDPOINT_URL",
                help="Send every AWS call here, e.g. a local test server (or AWS_ENDPOINT_URL).",
            ),
            click.option(
                "--bucket",
                help="Bucket for product templates (default: the platform stack's, read from "
                "SSM /labcatalog/platform/template-bucket).",
            ),
        ]
    ):
        command = option(command)
    return command
