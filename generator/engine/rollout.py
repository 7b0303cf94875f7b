"""Launched products: which tier and version each runs, and moving those on deprecated versions
to their product's newest version, in waves, keeping the parameters they were launched with.

Only reads unless `update` is called. Each product is published once per tier, so a launched
product moves to the newest version of its own (product, tier). A launched product's tier is
the portfolio it was launched from (Service Catalog tags it `aws:servicecatalog:portfolioArn`);
its update reuses the launch path of its last successful record, and passes `UsePreviousValue`
for every parameter that both versions declare (a parameter new in the target version takes its
default).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.engine.publish.aws import Clients
from generator.engine.publish.desired import PRODUCT_TAG_KEY, Desired
from generator.engine.publish.plan import DEPRECATED, semver_key
from generator.engine.publish.state import CatalogState, read_state

PORTFOLIO_TAG = "aws:servicecatalog:portfolioArn"
UPDATABLE = "AVAILABLE"
RUNNING = ("CREATED", "IN_PROGRESS", "IN_PROGRESS_IN_ERROR")
UNKNOWN_TIER = "?"


@dataclass(frozen=True)
class Launched:
    """One provisioned product of a labcatalog product."""

    id: str
    name: str
    product: str  # the product key of portfolio.yaml
    product_id: str
    identity: str  # the published product: `<product key>/<tier>` (a key alone: from before)
    tier: str
    version: str
    version_id: str
    deprecated: bool
    status: str
    record_id: str


@dataclass(frozen=True)
class Move:
    """One update of a rollout: a launched product to a version."""

    launched: Launched
    version: str
    version_id: str
    wave: int


@dataclass
class Inventory:
    launched: list[Launched] = field(default_factory=list)
    # the published product's identity (`<product key>/<tier>`) -> its newest (name, id)
    newest: dict[str, tuple[str, str]] = field(default_factory=dict)


def _provisioned(sc) -> list[dict]:
    found, token = [], None
    while True:
        page = sc.search_provisioned_products(
            AccessLevelFilter={"Key": "Account", "Value": "self"},
            **({"PageToken": token} if token else {}),
        )
        found += page.get("ProvisionedProducts", [])
        token = page.get("NextPageToken")
        if not token:
            return found


def inventory(clients: Clients, state: CatalogState | None = None) -> Inventory:
    """Every launched product of every product labcatalog manages, by tier and version."""
    sc = clients.servicecatalog
    if state is None:
        state = read_state(clients, Desired((), (), ()), bucket="")
    tiers = {p.id: tier for tier, p in state.portfolios.items()}
    keys = {p.id: key for key, p in state.products.items()}
    result = Inventory()
    for key, product in state.products.items():
        current = [v for v in product.versions if v.guidance != DEPRECATED]
        if current:
            newest = max(current, key=lambda v: semver_key(v.name))
            result.newest[key] = (newest.name, newest.id)
    for item in _provisioned(sc):
        key = keys.get(item.get("ProductId", ""))
        if key is None:
            continue
        versions = {v.id: v for v in state.products[key].versions}
        version = versions.get(item.get("ProvisioningArtifactId", ""))
        tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
        portfolio_id = tags.get(PORTFOLIO_TAG, "").rpartition("/")[2]
        result.launched.append(
            Launched(
                id=item["Id"],
                name=item.get("Name", ""),
                product=state.products[key].tags.get(PRODUCT_TAG_KEY, key),
                product_id=item["ProductId"],
                identity=key,
                tier=tiers.get(portfolio_id, UNKNOWN_TIER),
                version=version.name if version else item.get("ProvisioningArtifactName", "?"),
                version_id=item.get("ProvisioningArtifactId", ""),
                deprecated=bool(version and version.guidance == DEPRECATED),
                status=item.get("Status", ""),
                record_id=item.get("LastSuccessfulProvisioningRecordId")
                or item.get("LastRecordId", ""),
            )
        )
    result.launched.sort(key=lambda x: (x.tier, x.product, semver_key(x.version), x.name))
    return result


def plan_rollout(found: Inventory, wave_size: int) -> tuple[list[Move], list[str]]:
    """The moves (launched products on deprecated versions, to the newest version), in waves;
    and why any deprecated one is left out."""
    moves, notes = [], []
    for item in found.launched:
        if not item.deprecated:
            continue
        target = found.newest.get(item.identity)
        if target is None and "/" not in item.identity:
            notes.append(
                f"{item.name}: launched from {item.identity} as every tier shared it, before "
                "each tier had its own; Service Catalog cannot move it to another product: "
                f"relaunch it from the {item.tier} portfolio"
            )
        elif target is None:
            notes.append(f"{item.name}: {item.identity} has no version that is not deprecated")
        elif item.status != UPDATABLE:
            notes.append(f"{item.name}: status {item.status}, not updated (needs {UPDATABLE})")
        else:
            moves.append(Move(item, target[0], target[1], wave=len(moves) // wave_size + 1))
    return moves, notes


def _parameter_keys(sc, product_id: str, version_id: str) -> set[str]:
    described = sc.describe_provisioning_artifact(
        ProductId=product_id,
        ProvisioningArtifactId=version_id,
        IncludeProvisioningArtifactParameters=True,
    )
    return {p["ParameterKey"] for p in described.get("ProvisioningArtifactParameters", [])}


def start_update(clients: Clients, move: Move) -> str:
    """Send one update; return its record id."""
    sc = clients.servicecatalog
    item = move.launched
    record = sc.describe_record(Id=item.record_id)["RecordDetail"] if item.record_id else {}
    keep = _parameter_keys(sc, item.product_id, item.version_id) & _parameter_keys(
        sc, item.product_id, move.version_id
    )
    extra = {"PathId": record["PathId"]} if record.get("PathId") else {}
    made = sc.update_provisioned_product(
        ProvisionedProductId=item.id,
        ProductId=item.product_id,
        ProvisioningArtifactId=move.version_id,
        ProvisioningParameters=[{"Key": k, "UsePreviousValue": True} for k in sorted(keep)],
        **extra,
    )
    return made["RecordDetail"]["RecordId"]


Report = Callable[[Move, str], None]


def update(
    clients: Clients,
    moves: list[Move],
    report: Report | None = None,
    poll_seconds: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[Move, str]]:
    """Run the moves wave by wave: a wave starts when the previous one has finished, and a
    failed update stops the rollout after its wave. Returns each move with its final status."""
    done: list[tuple[Move, str]] = []
    for wave in sorted({m.wave for m in moves}):
        records = {}
        for move in [m for m in moves if m.wave == wave]:
            records[start_update(clients, move)] = move
        pending = dict(records)
        while pending:
            for record_id, move in list(pending.items()):
                status = clients.servicecatalog.describe_record(Id=record_id)["RecordDetail"][
                    "Status"
                ]
                if status not in RUNNING:
                    del pending[record_id]
                    done.append((move, status))
                    if report:
                        report(move, status)
            if pending:
                sleep(poll_seconds)
        if any(status != "SUCCEEDED" for _, status in done):
            break
    return done
