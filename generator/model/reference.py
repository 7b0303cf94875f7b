"""The portfolio.yaml reference in Markdown, generated from the model's JSON Schema.

The README carries a copy between `<!-- reference:start -->` and `<!-- reference:end -->`; a test
keeps it equal to this output, so the reference cannot drift from what `validate` accepts.
"""

from __future__ import annotations

import json
from typing import Any

from generator.model.config import Portfolio

Node = dict[str, Any]


def portfolio_reference(model: type[Portfolio]) -> str:
    """One table per mapping of the file, in the order the model declares the fields.

    `model` is the portfolio model with the registered products (`config.portfolio_model`)."""
    schema = model.model_json_schema(by_alias=True)
    defs: dict[str, Node] = schema.get("$defs", {})
    sections: list[str] = []
    pending: list[tuple[str, Node]] = [("", schema)]
    while pending:
        path, node = pending.pop(0)
        sections.append(_section(path, node, defs, pending))
    return "\n".join(sections)


def _section(path: str, node: Node, defs: dict[str, Node], pending: list) -> str:
    title = f"`{path}`" if path else "Top level"
    intro = node.get("description", "").split("\n")[0] if path else ""
    lines = [f"#### {title}", ""]
    if intro:
        lines += [intro, ""]
    lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    required = set(node.get("required", []))
    for key, field in node["properties"].items():
        target = _model_of(field, defs)
        child = f"{path}.{key}" if path else key
        if target is not None:
            child += "[]" if _is_list(field) else ""
            pending.append((child, target))
        default = "required" if key in required else _default(field, target)
        meaning = " ".join(filter(None, [field.get("description", ""), _limits(field)]))
        lines.append(
            f"| `{key}` | {_type(field, child if target else '')} | {default} | {meaning} |"
        )
    lines.append("")
    return "\n".join(lines)


def _non_null(field: Node) -> Node:
    """The field without its `or null` alternative."""
    options = [o for o in field.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else field


def _is_list(field: Node) -> bool:
    return _non_null(field).get("type") == "array"


def _model_of(field: Node, defs: dict[str, Node]) -> Node | None:
    """The mapping a field holds (directly, as a list of them, or or-null), if any."""
    inner = _non_null(field)
    inner = inner.get("items", inner)
    ref = inner.get("$ref", "")
    return defs[ref.rsplit("/", 1)[1]] if ref else None


def _anchor(path: str) -> str:
    """GitHub's heading anchor for `#### \\`path\\``: lowercase, punctuation but '-' dropped."""
    return "".join(c for c in path.lower() if c.isalnum() or c in "-_")


def _type(field: Node, section: str) -> str:
    if section:
        link = f"[`{section}`](#{_anchor(section)})"
        return f"list of mappings, see {link}" if _is_list(field) else f"mapping, see {link}"
    inner = _non_null(field)
    text = _scalar(inner)
    return f"{text} or null" if inner is not field else text


def _scalar(node: Node) -> str:
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        items = node.get("items", {})
        if "enum" in items:
            return "list of " + ", ".join(f"`{v}`" for v in items["enum"])
        return f"list of {_scalar(items)}s"
    if kind == "object" and "patternProperties" in node:
        (values,) = node["patternProperties"].values()
        return f"mapping of string to {_scalar(values)}"
    return {"integer": "whole number", "object": "mapping"}.get(kind, kind)


def _default(field: Node, target: Node | None) -> str:
    if "default" in field:
        return f"`{json.dumps(field['default'])}`"
    if target is not None and not _is_list(field):
        return "its fields' defaults"
    return "`[]`" if _is_list(field) else "`{}`"


def _limits(field: Node) -> str:
    """Length, range and count limits in words."""
    node = _non_null(field)
    parts = []
    if "minLength" in node or "maxLength" in node:
        parts.append(f"{node.get('minLength', 0)}-{node.get('maxLength', '...')} characters")
    if "minimum" in node or "maximum" in node:
        parts.append(f"from {node.get('minimum', '...')} to {node.get('maximum', '...')}")
    if node.get("minItems"):
        parts.append(f"at least {node['minItems']}")
    if node.get("uniqueItems"):
        parts.append("no repeats")
    return f"({'; '.join(parts)})" if parts else ""
