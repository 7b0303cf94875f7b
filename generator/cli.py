"""The `labcatalog` command: one thin module per verb under `generator.commands`."""

from __future__ import annotations

import sys
from importlib.metadata import version

import click

from generator.commands.build import build
from generator.commands.cost import cost
from generator.commands.plan import plan
from generator.commands.publish import publish
from generator.commands.rollout import rollout
from generator.commands.schema import schema
from generator.commands.validate import validate
from generator.model.problems import InputError, UserError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141


class Cli(click.Group):
    """Reports a user's mistake as a message and exit code 2, never as a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as err:
            for problem in err.problems:
                click.echo(str(problem), err=True)
            count = len(err.problems)
            click.secho(
                f"{count} problem{'s' if count != 1 else ''} found; nothing was written",
                fg="red",
                err=True,
            )
            sys.exit(EXIT_BAD_INPUT)
        except UserError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted; run the command again (publish continues where it stopped)",
                err=True,
            )
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`labcatalog plan | head`): stop quietly, as other tools do.
            sys.stderr.close()
            sys.exit(EXIT_BROKEN_PIPE)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("labcatalog"), prog_name="labcatalog")
def main() -> None:
    """Build and publish JupyterHub products for AWS Service Catalog from one portfolio.yaml.

    \b
    Typical flow:
      labcatalog validate          check portfolio.yaml
      labcatalog build             write the CloudFormation templates to build/
      labcatalog build --check     fail if build/ is out of date (for CI)
      labcatalog plan              show what publish would change in Service Catalog
      labcatalog publish           upload templates, register products and versions
      labcatalog rollout           list launched products; --update moves deprecated ones
    """


main.add_command(validate)
main.add_command(build)
main.add_command(schema)
main.add_command(plan)
main.add_command(publish)
main.add_command(cost)
main.add_command(rollout)
