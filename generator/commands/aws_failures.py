"""How `plan` and `publish` report an AWS failure that is not the user's mistake."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions
import click

EXIT_AWS_FAILED = 1


@contextmanager
def reported_aws_failures(advice: str) -> Iterator[None]:
    """Print an AWS error (after botocore's retries) as one message plus advice, exit 1."""
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        click.secho(f"error: {err}", fg="red", err=True)
        click.echo(advice, err=True)
        sys.exit(EXIT_AWS_FAILED)
