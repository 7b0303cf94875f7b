"""Print an estimate: a table for people, JSON (stable keys, numbers) for machines.

The table is made from the same rounded figures as the JSON, so the two always agree.
"""

from __future__ import annotations

import json
import textwrap

from generator.engine.cost.model import HOURS_PER_MONTH, Estimate, Option, Part

COLUMNS = ("fixed", "per_use", "idle", "total")


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def part_data(part: Part) -> dict:
    return {
        "available": part.available,
        "note": part.note,
        **{what: _money(getattr(part, what)) if part.available else None for what in COLUMNS},
        "lines": [
            {
                "item": line.item,
                "kind": line.kind,
                "amount": _money(line.amount),
                "idle": _money(line.idle),
                "detail": line.detail,
            }
            for line in part.lines
        ],
    }


def option_data(option: Option) -> dict:
    return {
        "key": option.key,
        "label": option.label,
        "available": option.available,
        "note": option.note,
        "tiers": {name: part_data(part) for name, part in option.tiers.items()},
        "shared": part_data(option.shared),
        **{what: _money(option.total(what)) if option.available else None for what in COLUMNS},
    }


def _multiple(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def to_data(estimate: Estimate, usage_name: str) -> dict:
    cheapest = estimate.cheapest
    return {
        "schema": "labcatalog-cost/v1",
        "region": estimate.region,
        "currency": "USD",
        "period": "month",
        "hours_per_month": HOURS_PER_MONTH,
        "usage": usage_name,
        "options": [
            {**option_data(o), "floor_multiple": _multiple(estimate.multiple(o))}
            for o in estimate.options
        ],
        "cheapest": cheapest.key if cheapest else None,
        "floor": {
            "tiers": {name: _money(value) for name, value in estimate.floor.items()},
            "total": _money(estimate.floor_total),
        },
        "platform": part_data(estimate.platform),
        "network": part_data(estimate.network),
        "resources": estimate.resources,
        "assumptions": estimate.assumptions,
        "undated_prices": estimate.undated_prices,
        "prices_recorded": estimate.prices_recorded,
    }


def to_json(estimate: Estimate, usage_name: str) -> str:
    return json.dumps(to_data(estimate, usage_name), indent=2, sort_keys=True) + "\n"


def _cell(value: float | None, width: int) -> str:
    return f"{'n/a' if value is None else f'{value:.2f}':>{width}}"


def _wrapped(text: str) -> str:
    return textwrap.fill(text, width=100, subsequent_indent="    ", break_on_hyphens=False)


def to_table(estimate: Estimate, usage_name: str) -> str:
    """The estimate as an aligned text table, monthly USD, with the cheapest option named."""
    data = to_data(estimate, usage_name)
    options, platform = data["options"], data["platform"]
    tiers = list(options[0]["tiers"]) if options else []
    headers = [*tiers, "shared", "fixed", "per use", "idle", "total", "x floor"]
    widths = [max(9, len(h) + 2) for h in headers]
    floor_label = "floor: active hours, cheapest"
    network_label = "VPC network (not in totals)"
    label_width = (
        max(len(label) for label in [*(o["label"] for o in options), floor_label, network_label])
        + 1
    )
    rows = [
        (
            o["label"],
            [o["tiers"][t]["total"] for t in tiers] + [o["shared"]["total"]],
            [o[what] for what in COLUMNS],
        )
        for o in options
    ]
    multiples = [o["floor_multiple"] for o in options]
    lines = [
        f"Monthly cost (USD) in {data['region']} for {usage_name}, "
        f"prices recorded {data['prices_recorded']}",
        "option".ljust(label_width)
        + "".join(f"{h:>{w}}" for h, w in zip(headers, widths, strict=True)),
    ]
    for (label, parts, sums), multiple in zip(rows, multiples, strict=True):
        cells = [_cell(v, w) for v, w in zip(parts + sums, widths[:-1], strict=True)]
        times = "n/a" if multiple is None else f"{multiple:.1f}x"
        lines.append(label.ljust(label_width) + "".join(cells) + f"{times:>{widths[-1]}}")
    floor = data["floor"]
    lines.append(
        floor_label.ljust(label_width)
        + "".join(_cell(floor["tiers"][t], w) for t, w in zip(tiers, widths, strict=False))
        + " " * sum(widths[len(tiers) : len(tiers) + 4])
        + _cell(floor["total"], widths[len(tiers) + 4])
        + f"{'1.0x':>{widths[-1]}}"
    )
    for label, part in (("platform stack", platform), (network_label, data["network"])):
        cells = [_cell(part[what], w) for what, w in zip(COLUMNS, widths[-5:-1], strict=True)]
        lines.append(
            label.ljust(label_width)
            + " " * sum(widths[: len(tiers)])
            + _cell(part["total"], widths[len(tiers)])
            + "".join(cells)
        )
    lines.append("")
    cheapest = next((o for o in options if o["key"] == data["cheapest"]), None)
    if cheapest:
        lines.append(
            _wrapped(
                f"cheapest: {cheapest['label']}, {cheapest['total']:.2f} a month, plus "
                f"{platform['total']:.2f} for the platform stack whatever the option"
            )
        )
    lines.append(
        _wrapped(
            f"floor: the {floor['total']:.2f} a month of compute actually used (active hours x "
            "server size at the cheapest price, Fargate Spot on the cheaper architecture); x "
            "floor: each option's total over it"
        )
    )
    if data["network"]["lines"]:
        lines.append(
            _wrapped(
                f"VPC network: {data['network']['total']:.2f} a month for the VPC's NAT gateways, "
                "endpoints and addresses, whatever the self-hosted option (SageMaker Studio's "
                "default internet access needs none); not in the totals above"
            )
        )
    idle = "; ".join(f"{o['label']} {o['idle']:.2f}" for o in options if o["available"])
    lines.append(_wrapped(f"of which idle (last activity until culled or stopped): {idle}"))
    for option in options:
        notes = [
            f"{name}: {part['note']}" for name, part in option["tiers"].items() if part["note"]
        ]
        notes += [option["note"]] if option["note"] else []
        if notes:
            lines.append(_wrapped(f"{option['label']}: {'; '.join(notes)}"))
    if data["undated_prices"]:
        lines.append(
            _wrapped(
                f"{len(data['undated_prices'])} of the prices used have no dated source, "
                f"re-check them: {', '.join(data['undated_prices'])}"
            )
        )
    return "\n".join(lines) + "\n"


def sensitivity_table(rows: list[tuple[int, Estimate]]) -> str:
    """Each option's monthly total, and its multiple of the floor, at each number of users per
    tier: a markdown table (the README's)."""
    header = ["users per tier", "floor", *(o.label for o in rows[0][1].options)]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" for _ in header) + " |",
    ]
    for count, estimate in rows:
        cells = [str(count), f"{estimate.floor_total:,.2f}"]
        for option in estimate.options:
            multiple = estimate.multiple(option)
            cells.append("n/a" if multiple is None else f"{option.total():,.2f} ({multiple:.1f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
