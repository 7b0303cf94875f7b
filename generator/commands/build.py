"""`labcatalog build`: write the CloudFormation templates, or check that build/ is current."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.commands.checkout import require_running_checkout
from generator.commands.options import portfolio_option
from generator.engine import build as builder
from generator.engine import build_folder
from generator.engine.checked import load_checked

EXIT_STALE = 1


@click.command()
@portfolio_option
@click.option(
    "-o",
    "--outdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Folder for the templates and manifest.json.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 naming the missing, differing and stray files if OUTDIR differs "
    "from a fresh build.",
)
def build(portfolio_path: Path, outdir: Path, check: bool) -> None:
    """Generate the CloudFormation templates for a portfolio into OUTDIR.

    Output is deterministic: the same portfolio and code give byte-identical files, so build/
    can be committed and reviewed as a diff. Each stack keeps one path across versions
    (OUTDIR/<stack>.template.json, OUTDIR/platform/<tier>.template.json for each tier's stack
    nested in the platform's, and OUTDIR/<product>/<tier>.template.json for each product in each
    tier, its tier bound; manifest.json records the versions). Nothing is written unless
    every template is valid and within CloudFormation's limits; templates the portfolio no longer
    produces are then removed from OUTDIR (only *.template.json files, only in a folder that holds
    a labcatalog manifest.json).
    """
    require_running_checkout(portfolio_path)
    _, artifacts = load_checked(portfolio_path, str(portfolio_path))
    if check:
        stale = build_folder.differences(artifacts, outdir)
        if stale:
            click.echo(f"{outdir} is out of date with {portfolio_path} and the code:", err=True)
            for path in stale:
                click.echo(f"  {outdir / path}", err=True)
            click.echo(f"run: labcatalog build -p {portfolio_path} -o {outdir}", err=True)
            sys.exit(EXIT_STALE)
        click.echo(f"{outdir} is up to date ({len(artifacts)} files)")
        return
    done = build_folder.write(artifacts, outdir)
    written = {a.path for a in done.files}
    for artifact in artifacts:
        state = "wrote" if artifact.path in written else "unchanged"
        detail = f"{artifact.resources} resources, " if artifact.resources is not None else ""
        version = f"version {artifact.version}, " if artifact.version is not None else ""
        click.echo(f"{state:9} {outdir / artifact.path} ({version}{detail}{artifact.size:,} bytes)")
    for path in done.removed:
        click.echo(f"{'removed':9} {outdir / path} (no longer produced)")
    for note in builder.quotas_to_raise(artifacts):
        click.echo(f"note: {note}", err=True)
