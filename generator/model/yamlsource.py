"""Read YAML into plain data while remembering the line and column of every key and value.

PyYAML's composer gives each node its position; we build the Python values ourselves so that
duplicate keys are reported (PyYAML silently keeps the last one) and every later error can
point at the exact place in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.model.problems import InputError, Loc, Problem, field_name


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Source:
    """Parsed YAML data plus where each part of it came from."""

    path: str
    data: Any
    values: dict[Loc, Mark] = field(default_factory=dict)
    keys: dict[Loc, Mark] = field(default_factory=dict)
    # Scalars as written (before YAML typed them): `yes`, `1.10`, for hints like "quote it".
    raw: dict[Loc, str] = field(default_factory=dict)
    # Problems that do not stop parsing (duplicate keys); validation reports them with its own.
    problems: list[Problem] = field(default_factory=list)

    def mark_for(self, loc: Loc, *, at_key: bool = False) -> Mark:
        """The best position for `loc`: the value (or key) itself, else its nearest ancestor."""
        if at_key and loc in self.keys:
            return self.keys[loc]
        if loc in self.values:
            return self.values[loc]
        for end in range(len(loc) - 1, 0, -1):
            parent = loc[:end]
            # A missing field belongs to the mapping that should hold it: point at its key.
            if parent in self.keys:
                return self.keys[parent]
            if parent in self.values:
                return self.values[parent]
        return Mark(1, 1)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> Problem:
        mark = self.mark_for(loc, at_key=at_key)
        return Problem(self.path, mark.line, mark.column, field_name(loc), message)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load_source(path: Path, display: str | None = None) -> Source:
    """Read and parse `path`; raise `InputError` unless it is one valid YAML document."""
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            [Problem(display, 1, 1, "(file)", "no such file; create it or pass -p PATH")]
        ) from None
    except IsADirectoryError:
        raise InputError(
            [Problem(display, 1, 1, "(file)", "is a directory; pass the portfolio file")]
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError([Problem(display, 1, 1, "(file)", f"cannot read it: {err}")]) from None
    return parse_source(text, display)


def parse_source(text: str, display: str) -> Source:
    source = Source(display, None)
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
    except yaml.reader.ReaderError as err:  # a control character: not a MarkedYAMLError
        line = text.count("\n", 0, err.position) + 1
        column = err.position - text.rfind("\n", 0, err.position)
        what = f"character #x{err.character:04x} is not allowed in YAML; remove it"
        raise InputError([Problem(display, line, column, "(yaml)", what)]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or err.context or "invalid YAML"
        if err.context and err.context_mark and err.problem_mark:
            # Name where the unfinished construct began: that is usually the real mistake.
            opened = err.context_mark
            what += f" ({err.context} at line {opened.line + 1}, column {opened.column + 1})"
        raise InputError([Problem(display, line, column, "(yaml)", what)]) from None
    except yaml.YAMLError as err:
        raise InputError([Problem(display, 1, 1, "(yaml)", str(err))]) from None

    if node is None:
        raise InputError(
            [
                Problem(
                    display,
                    1,
                    1,
                    "(file)",
                    "the file is empty; start it with: schema: labcatalog/v1",
                )
            ]
        )
    try:
        source.data = _convert(loader, node, (), source, source.problems)
    finally:
        loader.dispose()
    return source


def _convert(
    loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, source: Source, problems: list[Problem]
) -> Any:
    source.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves "<<" merge keys like SafeLoader does
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                mark = _mark(key_node)
                problems.append(
                    Problem(
                        source.path,
                        mark.line,
                        mark.column,
                        field_name(loc),
                        "a key must be plain text",
                    )
                )
                continue
            key = loader.construct_object(key_node)
            if key in result:
                first = source.keys[(*loc, key)]
                mark = _mark(key_node)
                problems.append(
                    Problem(
                        source.path,
                        mark.line,
                        mark.column,
                        field_name((*loc, key)),
                        f"duplicate key (first defined on line {first.line}); keep only one",
                    )
                )
                continue
            source.keys[(*loc, key)] = _mark(key_node)
            result[key] = _convert(loader, value_node, (*loc, key), source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*loc, index), source, problems)
            for index, item in enumerate(node.value)
        ]
    source.raw[loc] = node.value
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as err:  # ValueError: `!!int abc`, `2024-13-45`
        mark = _mark(node)
        if isinstance(err, yaml.constructor.ConstructorError) and node.tag.startswith("!"):
            message = f"YAML tag {node.tag!r} is not supported here; write a plain value"
        elif isinstance(err, ValueError):
            message = f"{node.value!r} cannot be read as {node.tag.rsplit(':', 1)[-1]} ({err}); "
            message += "quote it if it is text"
        else:
            message = getattr(err, "problem", None) or str(err)  # one line, no snippet
        problems.append(Problem(source.path, mark.line, mark.column, field_name(loc), message))
        return None
