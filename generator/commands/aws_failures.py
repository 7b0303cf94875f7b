"""How `plan` and `publish` report an AWS failure that is not the user's mistake."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions
import botocore.parsers
import click

from generator.engine.publish.aws import connection_failure

EXIT_AWS_FAILED = 1


def show_retry(message: str) -> None:
    """How a retry (throttling, a lost connection) shows while plan or publish waits."""
    click.echo(f"retrying: {message}", err=True)


@contextmanager
def reported_aws_failures(advice: str) -> Iterator[None]:
    """Print an AWS error (after the retries) as one message plus advice, exit 1."""
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        click.secho(f"error: {connection_failure(err) or err}", fg="red", err=True)
        click.echo(advice, err=True)
        sys.exit(EXIT_AWS_FAILED)
    except botocore.parsers.ResponseParserError as err:
        # Something answered, but not as AWS does: a proxy, a web server, the wrong port.
        first = str(err).splitlines()[0]
        click.secho(
            f"error: the endpoint answered, but not as AWS does ({first}); check --endpoint-url "
            "(or AWS_ENDPOINT_URL) and any proxy (HTTPS_PROXY, NO_PROXY) between you and it",
            fg="red",
            err=True,
        )
        click.echo(advice, err=True)
        sys.exit(EXIT_AWS_FAILED)
