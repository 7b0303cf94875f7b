"""`labcatalog rollout`: list launched products by tier and version; move those on deprecated
versions to the newest version, in waves."""

from __future__ import annotations

import sys

import click

from generator.commands.aws_failures import reported_aws_failures
from generator.engine import rollout as engine
from generator.engine.publish.aws import connect
from generator.model.problems import UserError


def _table(found: engine.Inventory) -> str:
    rows = [("TIER", "PRODUCT", "VERSION", "STATUS", "NAME")]
    for item in found.launched:
        version = f"{item.version} (deprecated)" if item.deprecated else item.version
        rows.append((item.tier, item.product, version, item.status, item.name))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)), r[4]]) for r in rows
    ]
    on_deprecated = sum(1 for x in found.launched if x.deprecated)
    lines.append(f"launched: {len(found.launched)}, on a deprecated version: {on_deprecated}")
    return "\n".join(line.rstrip() for line in lines)


def _moves(moves: list[engine.Move]) -> str:
    return "\n".join(
        f"wave {m.wave}: {m.launched.name} ({m.launched.tier}) {m.launched.product} "
        f"{m.launched.version} -> {m.version}"
        for m in moves
    )


@click.command()
@click.option("--region", help="AWS region (default: the profile's or AWS_REGION).")
@click.option("--profile", help="AWS profile to use (default: AWS_PROFILE).")
@click.option(
    "--endpoint-url",
    envvar="AWS_ENDPOINT_URL",
    help="Send every AWS call here, e.g. a local test server (or AWS_ENDPOINT_URL).",
)
@click.option(
    "--update",
    is_flag=True,
    help="Update the launched products on deprecated versions to the newest version.",
)
@click.option(
    "--wave-size",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many products update at once; the next wave waits for this one.",
)
@click.option("-y", "--yes", is_flag=True, help="With --update: update without asking.")
def rollout(
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    update: bool,
    wave_size: int,
    yes: bool,
) -> None:
    """List launched products per tier and version (only reads).

    With --update, show which launched products on deprecated versions would move to their
    product's newest version and in which wave (a dry run), ask, then update them wave by
    wave, keeping the parameters they were launched with. A failed update stops the rollout
    after its wave; run it again once the failure is understood.
    """
    clients = connect(region, profile, endpoint_url)
    with reported_aws_failures("nothing was changed; run rollout again when AWS answers"):
        found = engine.inventory(clients)
    click.echo(_table(found))
    if not update:
        return
    moves, notes = engine.plan_rollout(found, wave_size)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if not moves:
        click.echo("rollout: nothing to update")
        return
    click.echo(_moves(moves))
    click.echo(f"rollout: {len(moves)} to update in {moves[-1].wave} wave(s)")
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(
                "rollout asks before it updates anything, but there is no terminal to ask on; "
                "review the dry run above and pass --yes"
            )
        click.confirm(f"update these {len(moves)} launched products?", abort=True)

    def report(move: engine.Move, status: str) -> None:
        click.echo(f"wave {move.wave}: {move.launched.name} -> {move.version}: {status}", err=True)

    with reported_aws_failures(
        "rollout stopped part-way; run it again: it updates only what is still on a "
        "deprecated version"
    ):
        done = engine.update(clients, moves, report)
    failed = [m for m, status in done if status != "SUCCEEDED"]
    if failed:
        raise UserError(
            f"{len(failed)} update(s) failed ({', '.join(m.launched.name for m in failed)}); "
            "the rollout stopped after that wave"
        )
    click.echo(f"rollout: {len(done)} updated")
