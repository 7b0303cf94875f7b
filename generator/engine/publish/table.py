"""The plan (or what publish did) as a plain-text table, grouped by change."""

from __future__ import annotations

from collections import Counter

from generator.engine.publish.actions import Change, Row

_ORDER = [Change.CREATE, Change.UPDATE, Change.DEPRECATE, Change.DELETE, Change.UNCHANGED]


def render(rows: list[Row], done: bool = False) -> str:
    """Rows in plan order under a header, then one summary line."""
    header = Row(Change.UNCHANGED, "RESOURCE", "NAME", "DETAIL")
    widths = [
        max(len("CHANGE"), *(len(r.change) for r in rows)) if rows else len("CHANGE"),
        max(len(r.resource) for r in [header, *rows]),
        max(len(r.subject) for r in [header, *rows]),
    ]
    lines = [_line(("CHANGE", header.resource, header.subject, header.detail), widths)]
    for row in rows:
        lines.append(_line((str(row.change), row.resource, row.subject, row.detail), widths))
    lines.append(summary(rows, done))
    return "\n".join(lines)


def _line(cells: tuple[str, str, str, str], widths: list[int]) -> str:
    first = [cell.ljust(width) for cell, width in zip(cells[:3], widths, strict=True)]
    return "  ".join([*first, cells[3]]).rstrip()


def summary(rows: list[Row], done: bool = False) -> str:
    """E.g. `plan: 3 to create, 1 to deprecate, 12 unchanged`."""
    counts = Counter(row.change for row in rows)
    verbs = {
        Change.CREATE: "created" if done else "to create",
        Change.UPDATE: "updated" if done else "to update",
        Change.DEPRECATE: "deprecated" if done else "to deprecate",
        Change.DELETE: "deleted" if done else "to delete",
        Change.UNCHANGED: "unchanged",
    }
    parts = [f"{counts[c]} {verbs[c]}" for c in _ORDER if counts[c]]
    return f"{'published' if done else 'plan'}: {', '.join(parts) or 'nothing'}"
